"""Parse Markdown with optional YAML front matter into its `## ` sections (with line numbers)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_H2 = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")


class MarkdownError(ValueError):
    """The text cannot be parsed (bad front matter); ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class MarkdownSection:
    heading: str
    body: str
    line: int  # line of the heading


@dataclass
class ParsedMarkdown:
    front_matter: dict[str, Any] | None
    h1: str | None  # first "# " title, if any
    preamble: str  # text before the first "## " heading (without front matter and the "# " title)
    preamble_line: int  # first non-blank line of the preamble
    sections: list[MarkdownSection] = field(default_factory=list)


def _split_front_matter(lines: list[str]) -> tuple[dict[str, Any] | None, int]:
    """Front matter mapping (or None) and the index of the first line after it."""
    if not lines or lines[0].strip() != "---":
        return None, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            try:
                data = yaml.safe_load("\n".join(lines[1:end])) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                raise MarkdownError(2 + (mark.line if mark else 0), f"front matter is not valid YAML: {exc}") from None
            if not isinstance(data, dict):
                raise MarkdownError(2, "front matter must be a YAML mapping (key: value lines)")
            return data, end + 1
    raise MarkdownError(1, "front matter opened with '---' is never closed")


def parse_markdown(text: str) -> ParsedMarkdown:
    """Split ``text`` into front matter, an optional "# " title, a preamble and "## " sections."""
    lines = text.lstrip("\ufeff").splitlines()
    front_matter, start = _split_front_matter(lines)
    parsed = ParsedMarkdown(front_matter, None, "", start + 1)
    body: list[str] = []
    current: MarkdownSection | None = None

    def close() -> None:
        content = "\n".join(body).strip()
        if current is None:
            parsed.preamble = content
        else:
            current.body = content
            parsed.sections.append(current)
        body.clear()

    for number, line in enumerate(lines[start:], start=start + 1):
        if match := _H2.match(line):
            close()
            current = MarkdownSection(match.group(1).strip(), "", number)
        elif current is None and parsed.h1 is None and (match := _H1.match(line)):
            parsed.h1 = match.group(1).strip()
        else:
            if current is None and not any(b.strip() for b in body) and line.strip():
                parsed.preamble_line = number
            body.append(line)
    close()
    return parsed
