"""Validate the triage vignette files: JSON, fields, allowed values, unique ids, counts.

Usage: .venv/bin/python agents/triage/data/validate_data.py
"""

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEVELS = ("emergency", "urgent", "routine", "self_care")
LANGS = ("ko", "en", "mixed")
STYLES = {"colloquial", "terse", "typo", "long", "formal", "caregiver", "mixed"}
FIELDS = ("id", "text", "level", "language", "age", "sex", "pregnant", "condition", "style", "rationale")


def check_record(obj, where):
    errs = []
    if not isinstance(obj, dict):
        return [f"{where}: not an object"]
    missing = [k for k in FIELDS if k not in obj]
    extra = [k for k in obj if k not in FIELDS]
    if missing:
        errs.append(f"{where}: missing {missing}")
    if extra:
        errs.append(f"{where}: unexpected {extra}")
    for key in ("id", "text", "condition", "rationale"):
        if not isinstance(obj.get(key), str) or not obj.get(key, "").strip():
            errs.append(f"{where}: {key} must be a non-empty string")
    if obj.get("level") not in LEVELS:
        errs.append(f"{where}: bad level {obj.get('level')!r}")
    if obj.get("language") not in LANGS:
        errs.append(f"{where}: bad language {obj.get('language')!r}")
    if obj.get("style") not in STYLES:
        errs.append(f"{where}: bad style {obj.get('style')!r}")
    age = obj.get("age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int | float) or not 0 <= age <= 120):
        errs.append(f"{where}: bad age {age!r}")
    if obj.get("sex") not in ("F", "M", None):
        errs.append(f"{where}: bad sex {obj.get('sex')!r}")
    if obj.get("pregnant") not in (True, False, None):
        errs.append(f"{where}: bad pregnant {obj.get('pregnant')!r}")
    if obj.get("pregnant") is True and obj.get("sex") == "M":
        errs.append(f"{where}: pregnant male")
    return errs


def load(path, ids, errs):
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{n}"
        if not line.strip():
            errs.append(f"{where}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errs.append(f"{where}: invalid JSON ({e})")
            continue
        errs.extend(check_record(obj, where))
        rid = obj.get("id")
        if rid in ids:
            errs.append(f"{where}: duplicate id {rid} (also {ids[rid]})")
        ids[rid] = where
        rows.append(obj)
    return rows


def table(rows, title):
    print(f"\n== {title}: {len(rows)} records")
    by = Counter((r.get("level"), r.get("language")) for r in rows)
    print(f"{'level':<10}" + "".join(f"{lang:>8}" for lang in LANGS) + f"{'total':>8}")
    for lvl in LEVELS:
        counts = [by[(lvl, lang)] for lang in LANGS]
        print(f"{lvl:<10}" + "".join(f"{c:>8}" for c in counts) + f"{sum(counts):>8}")
    langs = Counter(r.get("language") for r in rows)
    print(f"{'total':<10}" + "".join(f"{langs[lang]:>8}" for lang in LANGS) + f"{len(rows):>8}")
    styles = Counter((r.get("level"), r.get("style")) for r in rows)
    names = sorted(STYLES)
    print(f"\n{'style':<10}" + "".join(f"{s[:9]:>10}" for s in names))
    for lvl in LEVELS:
        print(f"{lvl:<10}" + "".join(f"{styles[(lvl, s)]:>10}" for s in names))


def main():
    errs, ids = [], {}
    train = []
    for path in sorted((HERE / "vignettes").glob("*.jsonl")):
        train.extend(load(path, ids, errs))
    table(train, "training vignettes (vignettes/*.jsonl)")
    challenge_path = HERE / "challenge.jsonl"
    if challenge_path.exists():
        challenge = load(challenge_path, ids, errs)
        table(challenge, "challenge set (held out: do not train or tune on it)")
        texts = {r.get("text") for r in train}
        errs.extend(f"challenge {r['id']}: text duplicated in training" for r in challenge if r.get("text") in texts)
    dup_text = [t for t, c in Counter(r.get("text") for r in train).items() if c > 1]
    errs.extend(f"duplicate training text: {t[:60]}" for t in dup_text)
    print()
    for e in errs:
        print("ERROR", e)
    print("OK" if not errs else f"{len(errs)} error(s)")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
