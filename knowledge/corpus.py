"""The bundled bilingual corpus: topic registry, file loading, format validation and a content fingerprint.

Layout: ``knowledge/corpus/{en,ko}/<topic_id>.md`` plus ``knowledge/corpus/topics.yaml``; each file has
YAML front matter (topic_id, title, language, category, urgency, source: authored) and ``## `` sections
with the canonical headings of ``knowledge.documents.SECTION_HEADINGS``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.documents import LANGUAGES, SECTION_HEADINGS, Document, hangul_ratio, heading_to_section
from knowledge.markdown import MarkdownError, parse_markdown
from medtriage.paths import REPO_ROOT

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
TOPICS_FILE = CORPUS_DIR / "topics.yaml"
REQUIRED_KEYS = ("topic_id", "title", "language", "category", "urgency", "source")
URGENCIES = ("emergency", "urgent", "routine", "self_care")


@dataclass(frozen=True)
class Topic:
    id: str
    category: str
    urgency: str
    title_en: str
    title_ko: str

    def title(self, language: str) -> str:
        return self.title_ko if language == "ko" else self.title_en


@dataclass(frozen=True)
class Problem:
    """One finding of the validator, printed as ``file:line: level: message``."""

    file: str
    line: int
    level: str  # "error" | "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level}: {self.message}"


class CorpusError(ValueError):
    """A bundled corpus file has format errors; ``problems`` lists them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@lru_cache(maxsize=4)
def load_topics(path: Path = TOPICS_FILE) -> dict[str, Topic]:
    """The topic registry, keyed by topic id."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]
    return {
        e["id"]: Topic(e["id"], e["category"], e["urgency"], e["title_en"], e["title_ko"]) for e in entries
    }


def display_path(path: Path) -> str:
    """Path relative to the repository when inside it (stable across checkouts), else absolute."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(resolved)


def corpus_files(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    """All ``<language>/<topic>.md`` files of the corpus, sorted."""
    return sorted(p for lang in LANGUAGES for p in (corpus_dir / lang).glob("*.md"))


def corpus_fingerprint(files: list[Path]) -> str:
    """Hash of the names and contents of ``files``: changes whenever the bundled corpus changes."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path.parent.name}/{path.name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _check_front_matter(fm: dict, path: Path, topics: dict[str, Topic], name: str) -> list[Problem]:
    problems = []

    def err(message: str, level: str = "error") -> None:
        problems.append(Problem(name, 2, level, message))

    missing = [k for k in REQUIRED_KEYS if not str(fm.get(k) or "").strip()]
    if missing:
        err(f"front matter misses {', '.join(missing)}")
    unknown = sorted(set(fm) - set(REQUIRED_KEYS))
    if unknown:
        err(f"unknown front matter keys {', '.join(unknown)} (allowed: {', '.join(REQUIRED_KEYS)})", "warning")
    topic_id, language = fm.get("topic_id"), fm.get("language")
    if topic_id and topic_id != path.stem:
        err(f"topic_id {topic_id!r} does not match the file name {path.stem!r}")
    if language and language != path.parent.name:
        err(f"language {language!r} but the file is in {path.parent.name}/")
    if fm.get("source") and fm["source"] != "authored":
        err(f"source must be 'authored', not {fm['source']!r}")
    if fm.get("urgency") and fm["urgency"] not in URGENCIES:
        err(f"urgency {fm['urgency']!r} is not one of {', '.join(URGENCIES)}")
    topic = topics.get(path.stem)
    if topic is None:
        err(f"topic {path.stem!r} is not in topics.yaml")
    else:
        for key, expected in (("category", topic.category), ("urgency", topic.urgency)):
            if fm.get(key) and fm[key] != expected:
                err(f"{key} {fm[key]!r} differs from topics.yaml ({expected!r})")
    return problems


def read_corpus_file(path: Path, topics: dict[str, Topic] | None = None) -> tuple[list[Document], list[Problem]]:
    """Documents (one per section) of a bundled corpus file and the format problems found in it."""
    topics = load_topics() if topics is None else topics
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
        parsed = parse_markdown(text)
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(name, 1, "error", f"unreadable: {exc}")]
    except MarkdownError as exc:
        return [], [Problem(name, exc.line, "error", str(exc))]
    if parsed.front_matter is None:
        return [], [Problem(name, 1, "error", "no YAML front matter (the file must start with '---')")]
    fm = parsed.front_matter
    problems = _check_front_matter(fm, path, topics, name)
    language = path.parent.name
    if parsed.h1 or parsed.preamble:
        problems.append(Problem(name, parsed.preamble_line, "warning", "text before the first '## ' is not indexed"))
    seen: dict[str, int] = {}
    docs = []
    for section in parsed.sections:
        key = heading_to_section(section.heading)
        allowed = [names[1] if language == "ko" else names[0] for names in SECTION_HEADINGS.values()]
        expected_name = SECTION_HEADINGS[key][1 if language == "ko" else 0] if key else None
        if key is None or expected_name != section.heading:
            problems.append(Problem(name, section.line, "error",
                                    f"unknown heading {section.heading!r} for {language}; use one of: "
                                    + ", ".join(allowed)))
            continue
        if key in seen:
            problems.append(Problem(name, section.line, "error",
                                    f"heading {section.heading!r} repeats (first at line {seen[key]})"))
            continue
        seen[key] = section.line
        if not section.body:
            problems.append(Problem(name, section.line, "error", f"section {section.heading!r} is empty"))
            continue
        docs.append(Document(
            ref=f"{path.stem}/{language}/{key}", text=section.body, topic_id=path.stem,
            title=str(fm.get("title") or path.stem), language=language, section=key, source="authored",
            file=name, line=section.line, format="corpus", urgency=str(fm.get("urgency") or ""),
            category=str(fm.get("category") or ""),
        ))
    missing = [SECTION_HEADINGS[k][1 if language == "ko" else 0] for k in SECTION_HEADINGS if k not in seen]
    if missing and parsed.sections:
        problems.append(Problem(name, 1, "warning", f"missing sections: {', '.join(missing)}"))
    if not docs:
        problems.append(Problem(name, 1, "error", "no indexable '## ' section"))
    body_text = " ".join(d.text for d in docs)
    if language == "ko" and body_text and hangul_ratio(body_text) < 0.3:
        problems.append(Problem(name, 1, "error", "a ko/ file whose text is mostly not Korean"))
    if language == "en" and body_text and hangul_ratio(body_text) > 0.05:
        problems.append(Problem(name, 1, "error", "an en/ file with Korean text"))
    return docs, problems


def load_corpus_file(path: Path, topics: dict[str, Topic] | None = None) -> list[Document]:
    """Documents of a bundled corpus file; raises CorpusError when the file has format errors."""
    docs, problems = read_corpus_file(path, topics)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise CorpusError(errors)
    return docs


def check_corpus(paths: list[Path] | None = None, corpus_dir: Path = CORPUS_DIR) -> list[Problem]:
    """Validate corpus files (all of them when ``paths`` is None, then also that every topic of the
    registry exists in both languages and no file is outside the registry)."""
    topics = load_topics(corpus_dir / "topics.yaml")
    files = corpus_files(corpus_dir) if paths is None else paths
    problems = [p for path in files for p in read_corpus_file(path, topics)[1]]
    if paths is None:
        present = {(p.parent.name, p.stem) for p in files}
        registry = display_path(corpus_dir / "topics.yaml")
        for topic_id in topics:
            absent = [lang for lang in LANGUAGES if (lang, topic_id) not in present]
            if absent:
                problems.append(Problem(registry, 1, "error",
                                        f"topic {topic_id!r} has no {' / '.join(absent)} file"))
    return problems
