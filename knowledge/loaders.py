"""Loaders for user files: each turns one file into Documents, or says precisely why it cannot.

Formats (picked by extension, then by the keys present):
- ``.md`` / ``.markdown``: ``## `` sections (canonical headings map to section keys, others become "other");
  optional front matter (topic_id, title, language, urgency).
- ``.txt``: the whole file, one document.
- ``.jsonl`` / ``.json`` / ``.csv`` / ``.parquet`` rows:
  instruction/output rows (optional ``input``: Asan-AMC-Healthinfo), PubMedQA records (``CONTEXTS``),
  AI Hub healthcare QA answer files (``HC-A-*.json``: ``answer{intro, body, conclusion}``).
  AI Hub question files (``HC-Q-*.json``) hold no answer text and are skipped with that reason.
A row that cannot be read is reported with its line and skipped; a file with no readable row is an error.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.corpus import display_path
from knowledge.documents import OTHER_SECTION, Document, guess_language, heading_to_section
from knowledge.markdown import MarkdownError, parse_markdown

MARKDOWN_SUFFIXES = (".md", ".markdown")
ROW_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
SUPPORTED_SUFFIXES = (*MARKDOWN_SUFFIXES, ".txt", *ROW_SUFFIXES)

# AI Hub answer "intention" -> canonical section key (합병증/complications has none: overview).
AIHUB_INTENTIONS = {
    "증상": "symptoms", "원인": "causes", "진단": "diagnosis", "검진": "diagnosis", "치료": "treatment",
    "예방": "prevention", "관리": "self_care", "합병증": "overview",
}
_TITLE_CHARS = 120


class LoadError(Exception):
    """A file (or one row of it) cannot be loaded: ``file:line: reason``."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file, self.line, self.reason = file, line, reason


class SkipFile(Exception):
    """A readable file with nothing to index (e.g. an AI Hub question file)."""


@dataclass
class LoadedFile:
    """The documents of one file and the rows that had to be left out."""

    path: Path
    format: str
    documents: list[Document] = field(default_factory=list)
    row_errors: list[LoadError] = field(default_factory=list)


def slug(text: str) -> str:
    """Lower-case id fragment: letters (any script), digits and dashes."""
    return re.sub(r"[^\w]+", "-", text.casefold()).strip("-_") or "untitled"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TITLE_CHARS else text[: _TITLE_CHARS - 1] + "…"


def _read_text(path: Path, name: str) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(name, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise LoadError(name, 1, f"unreadable: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise LoadError(name, 1, "binary content (NUL bytes) in a text file")
    if not text.strip():
        raise LoadError(name, 1, "empty file")
    return text


# --- Markdown and plain text ---------------------------------------------------------------------


def load_markdown(path: Path) -> LoadedFile:
    """``## `` sections of a Markdown file; the preamble and unknown headings become section "other" (the
    heading stays in the text: "Diet tips:")."""
    name = display_path(path)
    try:
        parsed = parse_markdown(_read_text(path, name))
    except MarkdownError as exc:
        raise LoadError(name, exc.line, str(exc)) from None
    fm = parsed.front_matter or {}
    title = str(fm.get("title") or parsed.h1 or path.stem)
    topic_id = str(fm.get("topic_id") or slug(path.stem))
    all_text = "\n".join([parsed.preamble, *(s.body for s in parsed.sections)])
    language = str(fm.get("language") or guess_language(all_text))
    parts = [(None, parsed.preamble, parsed.preamble_line)] if parsed.preamble else []
    parts += [(s.heading, s.body, s.line) for s in parsed.sections if s.body]
    loaded = LoadedFile(path, "markdown")
    for heading, body, line in parts:
        section = heading_to_section(heading) if heading else None
        text = body
        if heading and not section:  # an unknown heading stays in the text, as a unit of its own
            text = f"{heading}{'' if heading[-1] in '.:?!' else ':'}\n{body}"
        loaded.documents.append(Document(
            ref=f"{path.name}:{line}", text=text, topic_id=topic_id, title=title, language=language,
            section=section or OTHER_SECTION, source=f"{path.name}:{line}", file=name, line=line,
            format="markdown", urgency=str(fm.get("urgency") or ""),
        ))
    if not loaded.documents:
        raise LoadError(name, 1, "no text to index")
    return loaded


def load_text(path: Path) -> LoadedFile:
    """A plain-text file as one document titled after the file."""
    name = display_path(path)
    text = _read_text(path, name)
    doc = Document(
        ref=path.name, text=text, topic_id=slug(path.stem), title=path.stem, language=guess_language(text),
        section=OTHER_SECTION, source=path.name, file=name, line=1, format="text",
    )
    return LoadedFile(path, "text", [doc])


# --- rows: QA pairs, PubMedQA, AI Hub answers ------------------------------------------------------


def _text_field(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be text, not {type(value).__name__}")
    return value.strip()


def _qa_documents(row: dict[str, Any], path: Path, line: int) -> list[Document]:
    """instruction (+ input) / output row: the answer is the text, the question its title."""
    question = " ".join(p for p in (_text_field(row, "instruction"), _text_field(row, "input")) if p)
    answer = _text_field(row, "output")
    if not question or not answer:
        raise ValueError("instruction and output must both be non-empty")
    where = f"{path.name}:{line}"
    return [Document(
        ref=where, text=answer, topic_id=f"{slug(path.stem)}:{line}", title=_short(question),
        language=guess_language(answer), section=OTHER_SECTION, source=where, file=display_path(path),
        line=line, format="qa",
    )]


def _pubmedqa_documents(row: dict[str, Any], pmid: str, path: Path, line: int) -> list[Document]:
    """One document per abstract context paragraph plus the long answer; the question is the title."""
    contexts = row.get("CONTEXTS")
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise ValueError("CONTEXTS must be a list of strings")
    labels = row.get("LABELS") if isinstance(row.get("LABELS"), list) else []
    question = _text_field(row, "QUESTION")
    texts = [(str(labels[i]).casefold() if i < len(labels) else f"context-{i + 1}", c) for i, c in enumerate(contexts)]
    if long_answer := _text_field(row, "LONG_ANSWER"):
        texts.append(("conclusion", long_answer))
    docs = [Document(
        ref=f"pubmed:{pmid}/{label}", text=text.strip(), topic_id=f"pubmed:{pmid}", title=_short(question or pmid),
        language=guess_language(text), section=OTHER_SECTION, source=f"PubMed {pmid}", file=display_path(path),
        line=line, format="pubmedqa",
    ) for label, text in texts if text.strip()]
    if not docs:
        raise ValueError("no context text")
    return docs


def _aihub_documents(row: dict[str, Any], path: Path, line: int) -> list[Document]:
    """AI Hub healthcare QA answer: intro + body + conclusion, titled with the disease name."""
    answer = row["answer"]
    if not isinstance(answer, dict):
        raise ValueError("'answer' must be an object with intro, body, conclusion")
    text = "\n".join(str(answer.get(k) or "").strip() for k in ("intro", "body", "conclusion")).strip()
    if not text:
        raise ValueError("answer has no intro, body or conclusion text")
    disease = row.get("disease_name") if isinstance(row.get("disease_name"), dict) else {}
    title = str(disease.get("kor") or disease.get("eng") or row.get("disease_category") or path.stem)
    intention = str(row.get("intention") or "")
    file_name = str(row.get("fileName") or path.name)
    return [Document(
        ref=f"{file_name}:{line}" if path.suffix == ".jsonl" else file_name, text=text,
        topic_id=f"aihub:{slug(str(disease.get('eng') or title))}", title=title, language=guess_language(text),
        section=AIHUB_INTENTIONS.get(intention, OTHER_SECTION), source=f"AI Hub {file_name}",
        file=display_path(path), line=line, format="aihub",
        category=", ".join(map(str, row.get("department") or [])),
    )]


def row_documents(row: Any, path: Path, line: int, key: str | None = None) -> list[Document]:
    """Documents of one row, by the keys it has; raises ValueError for a row of no known shape."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if "answer" in row and ("disease_name" in row or "intention" in row):
        return _aihub_documents(row, path, line)
    if "CONTEXTS" in row:
        return _pubmedqa_documents(row, str(key or row.get("pubid") or row.get("PMID") or line), path, line)
    if "instruction" in row or "output" in row:
        return _qa_documents(row, path, line)
    if "question" in row and "disease_name" in row:
        raise SkipFile("AI Hub question file: no answer text to index")
    keys = ", ".join(sorted(map(str, row))[:8])
    raise ValueError(
        f"unknown row layout (keys: {keys}); expected instruction/output, PubMedQA CONTEXTS or AI Hub answer"
    )


def _json_rows(path: Path, name: str) -> Iterator[tuple[int, str | None, Any]]:
    """(line, key, row) of a .json file: one object, a list of objects, or a PubMedQA {PMID: record} map."""
    try:
        data = json.loads(_read_text(path, name))
    except json.JSONDecodeError as exc:
        raise LoadError(name, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if isinstance(data, list):
        yield from ((1, None, row) for row in data)
    elif isinstance(data, dict) and data and all(isinstance(v, dict) and "CONTEXTS" in v for v in data.values()):
        yield from ((1, str(pmid), row) for pmid, row in data.items())
    else:
        yield 1, None, data


def _jsonl_rows(path: Path, name: str) -> Iterator[tuple[int, str | None, Any]]:
    for number, line in enumerate(_read_text(path, name).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, None, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, LoadError(name, number, f"invalid JSON: {exc.msg}")


def _csv_rows(path: Path, name: str) -> Iterator[tuple[int, str | None, Any]]:
    reader = csv.DictReader(_read_text(path, name).splitlines(keepends=True))
    try:
        for row in reader:
            yield reader.line_num, None, row
    except csv.Error as exc:
        yield reader.line_num, None, LoadError(name, reader.line_num, f"invalid CSV: {exc}")


def _parquet_rows(path: Path, name: str) -> Iterator[tuple[int, str | None, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise LoadError(name, 1, f"unreadable Parquet: {exc}") from None
    yield from ((index, None, row) for index, row in enumerate(table.to_pylist(), start=1))


_ROW_READERS = {".json": _json_rows, ".jsonl": _jsonl_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}


def load_rows(path: Path) -> LoadedFile:
    """Documents of a row file; bad rows are kept in ``row_errors`` (line = JSONL/CSV line or row number)."""
    name = display_path(path)
    loaded = LoadedFile(path, "rows")
    formats: set[str] = set()
    for line, key, row in _ROW_READERS[path.suffix.lower()](path, name):
        if isinstance(row, LoadError):
            loaded.row_errors.append(row)
            continue
        try:
            docs = row_documents(row, path, line, key)
        except (ValueError, TypeError, KeyError) as exc:
            loaded.row_errors.append(LoadError(name, line, str(exc)))
            continue
        loaded.documents.extend(docs)
        formats.update(d.format for d in docs)
    if not loaded.documents:
        first = loaded.row_errors[0] if loaded.row_errors else LoadError(name, 1, "no rows")
        more = f" (and {len(loaded.row_errors) - 1} more bad rows)" if len(loaded.row_errors) > 1 else ""
        raise LoadError(name, first.line, first.reason + more)
    loaded.format = "+".join(sorted(formats))
    return loaded


def load_file(path: Path) -> LoadedFile:
    """Load one file by its extension; raises LoadError (unreadable, corrupt, unknown) or SkipFile."""
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return load_markdown(path)
    if suffix == ".txt":
        return load_text(path)
    if suffix in ROW_SUFFIXES:
        return load_rows(path)
    raise LoadError(display_path(path), 1, f"unknown extension {path.suffix or '(none)'!r}; supported: "
                    + ", ".join(SUPPORTED_SUFFIXES))


def expand_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """(file, named directly) for files named directly and files under named directories (sorted, hidden
    ones left out)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                (p, False) for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            yield path, True
