"""Labelled triage vignettes and the fixed, committed train/dev split.

The split is by *condition group*: a condition with its variants ("pneumonia", "pneumonia-child",
"pneumonia-not-improving") is entirely in train or entirely in dev, so dev measures generalisation to unseen
conditions and phrasings rather than paraphrase recall. Korean and English vignettes of a condition share the
group. ``data/split.json`` records every group's fold; a group not yet in it (new vignettes) is assigned by
a stable hash order that keeps about ``DEV_FRACTION`` of each level in dev, and existing groups never move.

``data/challenge.jsonl`` is a held-out set written by someone else: it is only ever scored, never trained or
tuned on (see :func:`load_challenge`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agents.triage.levels import DATA_DIR, LEVELS

VIGNETTE_DIR = DATA_DIR / "vignettes"
SPLIT_PATH = DATA_DIR / "split.json"
CHALLENGE_PATH = DATA_DIR / "challenge.jsonl"
DEV_FRACTION = 0.25
# Condition-name tokens that describe who or how, not what: "common-cold-infant" and "common-cold" share a group.
_MODIFIER_WORDS = """child children infant newborn neonatal elderly older adult pregnancy pregnant postpartum diabetic
    trial study drug mild severe high risk immunocompromised not improving asymptomatic partial suspected local minor
    recurrent transient temporary resolved posterior months month anticoagulant lithium worsening refractory
    possible new first"""
MODIFIERS = frozenset(_MODIFIER_WORDS.split())


@dataclass(frozen=True)
class Vignette:
    """One labelled patient message."""

    id: str
    text: str
    level: str
    language: str
    age: float | None = None
    sex: str | None = None
    pregnant: bool | None = None
    condition: str = ""
    style: str = ""

    @property
    def group(self) -> str:
        return condition_group(self.condition)


def condition_group(condition: str) -> str:
    """The condition without modifier tokens and numbers ("infant-fever-3-6-months" -> "fever")."""
    tokens = [t for t in re.split(r"[-_ ]+", condition.lower()) if t and not t.isdigit() and t not in MODIFIERS]
    return "-".join(tokens) or condition.lower()


def _read_jsonl(path: Path) -> list[Vignette]:
    fields = Vignette.__dataclass_fields__
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            rows.append(Vignette(**{k: v for k, v in obj.items() if k in fields}))
    return rows


def load_vignettes(directory: Path = VIGNETTE_DIR) -> list[Vignette]:
    """Every vignette under ``directory`` (``*.jsonl``), sorted by id; ids must be unique."""
    rows = [v for path in sorted(directory.glob("*.jsonl")) for v in _read_jsonl(path)]
    duplicates = [i for i, n in Counter(v.id for v in rows).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate vignette ids: {duplicates[:5]}")
    bad = [v.id for v in rows if v.level not in LEVELS]
    if bad:
        raise ValueError(f"unknown level in {bad[:5]}")
    return sorted(rows, key=lambda v: v.id)


def load_challenge(path: Path = CHALLENGE_PATH) -> list[Vignette]:
    """The held-out challenge set (empty when the file does not exist yet). Score only; never train on it."""
    return _read_jsonl(path) if path.exists() else []


def _stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assign_groups(vignettes: list[Vignette], existing: dict[str, str] | None = None) -> dict[str, str]:
    """Fold ("train" | "dev") of every condition group; groups in ``existing`` keep their fold."""
    folds = dict(existing or {})
    per_group: dict[str, Counter[str]] = {}
    for v in vignettes:
        per_group.setdefault(v.group, Counter())[v.level] += 1
    totals = Counter(v.level for v in vignettes)
    dev = Counter()
    for group, counts in per_group.items():
        if folds.get(group) == "dev":
            dev.update(counts)
    for group in sorted(set(per_group) - set(folds), key=_stable_hash):
        counts = per_group[group]
        fits = all(dev[level] + n <= DEV_FRACTION * totals[level] + 1 for level, n in counts.items())
        folds[group] = "dev" if fits else "train"
        if fits:
            dev.update(counts)
    return dict(sorted(folds.items()))


def load_split(path: Path = SPLIT_PATH) -> dict[str, str]:
    """The committed group -> fold map (empty if there is none yet)."""
    return json.loads(path.read_text(encoding="utf-8"))["groups"] if path.exists() else {}


def write_split(vignettes: list[Vignette], path: Path = SPLIT_PATH) -> dict[str, str]:
    """Extend the committed split with any new groups and write it back; returns the group -> fold map."""
    folds = assign_groups(vignettes, load_split(path))
    counts = Counter((folds[v.group], v.level) for v in vignettes)
    payload = {
        "method": f"grouped by condition (modifiers stripped), ~{DEV_FRACTION:.0%} of each level in dev, "
        "sha256 order; existing groups never move",
        "counts": {fold: {level: counts[(fold, level)] for level in LEVELS} for fold in ("train", "dev")},
        "groups": folds,
    }
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return folds


def split_vignettes(
    vignettes: list[Vignette], folds: dict[str, str] | None = None
) -> tuple[list[Vignette], list[Vignette]]:
    """(train, dev) by the committed split; groups missing from it are assigned on the fly (not written)."""
    folds = assign_groups(vignettes, folds if folds is not None else load_split())
    train = [v for v in vignettes if folds[v.group] == "train"]
    dev = [v for v in vignettes if folds[v.group] == "dev"]
    return train, dev
