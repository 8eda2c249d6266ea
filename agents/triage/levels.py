"""The four triage levels, their order, and what each tells the patient to do (Korean and English)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

LEVELS = ("emergency", "urgent", "routine", "self_care")  # most urgent first
RANK = {level: len(LEVELS) - i for i, level in enumerate(LEVELS)}  # emergency 4 ... self_care 1
DATA_DIR = Path(__file__).resolve().parent / "data"


def more_urgent(a: str, b: str) -> str:
    """The more urgent of two levels."""
    return a if RANK[a] >= RANK[b] else b


def most_urgent(levels: list[str], default: str = "self_care") -> str:
    """The most urgent level in ``levels`` (``default`` when empty)."""
    return max(levels, key=RANK.__getitem__, default=default)


@cache
def _advice() -> dict[str, dict[str, str]]:
    return yaml.safe_load((DATA_DIR / "levels.yaml").read_text(encoding="utf-8"))["levels"]


def action_text(level: str, language: str) -> str:
    """What to do, in Korean or English; other languages get English plus one short Korean line."""
    advice = _advice()[level]
    if language in ("ko", "en"):
        return advice[language]
    return f"{advice['en']}\n{advice['short_ko']}"
