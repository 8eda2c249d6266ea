"""Command line for the triage classifier.

python -m agents.triage split            # extend the committed train/dev split with new vignettes
python -m agents.triage train            # retrain both saved models (dev model + app model)
python -m agents.triage eval             # score them; writes agents/triage/reports/eval.{json,md} + PNGs
python -m agents.triage ask "가슴이 쥐어짜듯 아파요" --age 60   # one decision as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def cmd_split(_: argparse.Namespace) -> int:
    from agents.triage.dataset import SPLIT_PATH, load_vignettes, write_split

    vignettes = load_vignettes()
    folds = write_split(vignettes)
    table = Table(title=f"{SPLIT_PATH.name}: {len(folds)} condition groups")
    for column in ("fold", "emergency", "urgent", "routine", "self_care", "total"):
        table.add_column(column)
    for fold in ("train", "dev"):
        rows = [v for v in vignettes if folds[v.group] == fold]
        counts = [sum(v.level == level for v in rows) for level in ("emergency", "urgent", "routine", "self_care")]
        table.add_row(fold, *map(str, counts), str(len(rows)))
    Console().print(table)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from agents.triage.train import train

    with _progress_bar() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done if stage == "embed" else total)

        summary = train(target_recall=args.target_recall, progress=progress)
    for label, info in summary.items():
        cv = info["cross_validation"]["policy"]
        print(
            f"{label}: n={info['n']}, emergency threshold {info['emergency_threshold']}; grouped 5-fold CV "
            f"accuracy {cv['accuracy']}, emergency recall {cv['emergency_recall']}, over-triage "
            f"{cv['over_triage_rate']}, under-triage {cv['under_triage_rate']}"
        )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from agents.triage.train import evaluate, report_markdown

    report = evaluate(Path(args.out))
    print(report_markdown(report))
    print(f"written: {args.out}/eval.json, eval.md, confusion_*.png")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from agents.triage import triage

    decision = triage(args.text, age=args.age, sex=args.sex, pregnant=args.pregnant)
    print(json.dumps(decision.to_dict(), ensure_ascii=False, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    from agents.triage.train import REPORT_DIR, TARGET_RECALL

    parser = argparse.ArgumentParser(
        prog="python -m agents.triage", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("split", help="assign new condition groups to train/dev and rewrite data/split.json")
    train = sub.add_parser("train", help="retrain data/model_dev (train split) and data/model (all vignettes)")
    train.add_argument(
        "--target-recall",
        type=float,
        default=TARGET_RECALL,
        help="share of emergencies the classifier must escalate with no rule firing (rule-blind out-of-fold "
        f"predictions); sets the emergency-probability threshold (default {TARGET_RECALL})",
    )
    evaluate = sub.add_parser("eval", help="score dev and challenge sets; write JSON, Markdown and confusion PNGs")
    evaluate.add_argument("--out", default=str(REPORT_DIR), help=f"report directory (default {REPORT_DIR})")
    ask = sub.add_parser("ask", help="triage one message and print the decision as JSON")
    ask.add_argument("text", help="the patient's message (Korean, English or another language)")
    ask.add_argument("--age", type=float, default=None, help="age in years (e.g. 0.1 for a 5-week-old)")
    ask.add_argument("--sex", choices=["F", "M", "female", "male"], default=None, help="sex, if known")
    ask.add_argument(
        "--pregnant", action=argparse.BooleanOptionalAction, default=None, help="--pregnant / --no-pregnant, if known"
    )
    args = parser.parse_args(argv)
    return {"split": cmd_split, "train": cmd_train, "eval": cmd_eval, "ask": cmd_ask}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
