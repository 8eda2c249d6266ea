"""Triage metrics (per-level precision/recall, emergency recall, over/under-triage) and their reports."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from agents.triage.levels import LEVELS, RANK

SEMIGRAN = {"emergency": "emergent", "urgent": "non-emergent", "routine": "non-emergent", "self_care": "self-care"}


def metrics(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """Accuracy, per-level precision/recall, emergency recall, over-/under-triage and the confusion matrix."""
    n = len(truth)
    if n == 0:
        return {"n": 0}
    confusion = np.zeros((len(LEVELS), len(LEVELS)), dtype=int)  # rows: truth, columns: predicted
    for t, p in zip(truth, predicted, strict=True):
        confusion[LEVELS.index(t), LEVELS.index(p)] += 1
    per_level = {}
    for i, level in enumerate(LEVELS):
        support = int(confusion[i].sum())
        called = int(confusion[:, i].sum())
        per_level[level] = {
            "support": support,
            "precision": round(confusion[i, i] / called, 4) if called else None,
            "recall": round(confusion[i, i] / support, 4) if support else None,
        }
    over = sum(RANK[p] > RANK[t] for t, p in zip(truth, predicted, strict=True))
    under = sum(RANK[p] < RANK[t] for t, p in zip(truth, predicted, strict=True))
    three = [SEMIGRAN[t] == SEMIGRAN[p] for t, p in zip(truth, predicted, strict=True)]
    return {
        "n": n,
        "accuracy": round(float(np.trace(confusion)) / n, 4),
        "emergency_recall": per_level["emergency"]["recall"],
        "over_triage_rate": round(over / n, 4),
        "under_triage_rate": round(under / n, 4),
        "missed_emergencies": int(confusion[0, 1:].sum()),
        "semigran_3way_accuracy": round(sum(three) / n, 4),
        "per_level": per_level,
        "confusion": confusion.tolist(),
    }


def by_group(truth: list[str], predicted: list[str], groups: list[str]) -> dict[str, dict[str, Any]]:
    """``metrics`` for each value of ``groups`` (e.g. language)."""
    out = {}
    for value in sorted(Counter(groups)):
        idx = [i for i, g in enumerate(groups) if g == value]
        out[value] = metrics([truth[i] for i in idx], [predicted[i] for i in idx])
    return out


def plot_confusion(confusion: list[list[int]], title: str, path: Path) -> None:
    """Save a confusion-matrix heat map as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(confusion)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(LEVELS)), LEVELS, rotation=30)
    ax.set_yticks(range(len(LEVELS)), LEVELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(LEVELS)):
        for j in range(len(LEVELS)):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_section(title: str, result: dict[str, Any]) -> str:
    """One Markdown block: headline numbers and the per-level table."""
    if not result.get("n"):
        return f"### {title}\n\n_no cases_\n"
    lines = [
        f"### {title}",
        "",
        f"n = {result['n']}; accuracy **{_fmt(result['accuracy'])}**; emergency recall "
        f"**{_fmt(result['emergency_recall'])}** ({result['missed_emergencies']} missed); over-triage "
        f"{_fmt(result['over_triage_rate'])}; under-triage {_fmt(result['under_triage_rate'])}; "
        f"Semigran 3-way (emergent / non-emergent / self-care) {_fmt(result['semigran_3way_accuracy'])}",
        "",
        "| level | support | precision | recall |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {level} | {row['support']} | {_fmt(row['precision'])} | {_fmt(row['recall'])} |"
        for level, row in result["per_level"].items()
    ]
    return "\n".join(lines) + "\n"
