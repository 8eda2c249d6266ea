"""The unit every loader produces: one section of source text with the metadata its chunks inherit."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Canonical section keys with their English and Korean headings (docs/architecture.md).
SECTION_HEADINGS: dict[str, tuple[str, str]] = {
    "overview": ("Overview", "개요"),
    "symptoms": ("Symptoms", "증상"),
    "causes": ("Causes", "원인"),
    "diagnosis": ("Diagnosis", "진단"),
    "treatment": ("Treatment", "치료"),
    "self_care": ("Self-care", "자가 관리"),
    "prevention": ("Prevention", "예방"),
    "when_to_seek_care": ("When to seek care", "진료가 필요한 경우"),
}
OTHER_SECTION = "other"  # user text whose heading is not one of the canonical ones
SECTIONS = (*SECTION_HEADINGS, OTHER_SECTION)
LANGUAGES = ("en", "ko")

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_LETTER = re.compile(r"[^\W\d_]")


def heading_to_section(heading: str) -> str | None:
    """Canonical key of a section heading in either language (case-insensitive), or None."""
    wanted = " ".join(heading.split()).casefold()
    for key, names in SECTION_HEADINGS.items():
        if wanted in (name.casefold() for name in names):
            return key
    return None


def hangul_ratio(text: str) -> float:
    """Share of letters that are Hangul (0.0 for text without letters)."""
    letters = _LETTER.findall(text)
    return sum(1 for c in letters if _HANGUL.match(c)) / len(letters) if letters else 0.0


def guess_language(text: str) -> str:
    """"ko" when at least a fifth of the letters are Hangul, else "en" (the corpus has only these two)."""
    return "ko" if hangul_ratio(text) >= 0.2 else "en"


@dataclass(frozen=True)
class Document:
    """A stretch of source text (one section, one QA answer, one abstract paragraph) and where it came from.

    ``ref`` names the document in citation ids (``<ref>#<chunk>``, e.g. "heart-attack/en/symptoms#2");
    ``file`` and ``line`` point at the source for error messages; ``source`` is the provenance shown to users
    ("authored" for the bundled corpus, "<file name>:<line>" for user files).
    """

    ref: str
    text: str
    topic_id: str
    title: str
    language: str
    section: str
    source: str
    file: str
    line: int
    format: str
    urgency: str = ""
    category: str = ""
