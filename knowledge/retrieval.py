"""Retrieval API the agents call: hybrid (e5 dense + character n-gram) search, ranked by topic.

    from knowledge.retrieval import Retriever
    result = Retriever().search("가슴이 꽉 조이고 식은땀이 나요", k=5, language="en")
    if not result.no_answer:
        for p in result.passages: print(p.citation_id, p.score, p.text)

How a query is answered:
1. e5 finds the ``DENSE_POOL`` nearest chunks in Chroma; a character n-gram TF-IDF index (in memory, built
   from the collection) scores every chunk lexically. A chunk's score is ``cosine + LEXICAL_WEIGHT * tfidf``.
2. Chunks vote for their topic (best chunk + ``SECOND_CHUNK_WEIGHT`` x second best). Topics hold both
   languages, so a Korean query that matches the Korean text of a topic also ranks its English text:
   ``language="en"`` returns English passages of the topics found through either language.
3. Passages of the best topics that pass the language/section filters are returned (at most
   ``max_per_topic`` per topic). ``no_answer`` is set when the best chunk score is below the threshold
   calibrated on knowledge/eval/queries.jsonl (knowledge/calibration.json, see ``python -m knowledge.evaluate``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.chunking import estimate_tokens
from knowledge.corpus import CORPUS_DIR
from knowledge.documents import LANGUAGES, SECTIONS
from knowledge.embeddings import embed_queries
from knowledge.ingest import Ingestor
from knowledge.lexical import LexicalIndex
from knowledge.store import DEFAULT_COLLECTION, STORE_ERRORS, KnowledgeStore, StoreError

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
DEFAULT_THRESHOLD = 0.89  # used only when calibration.json is missing
LEXICAL_WEIGHT = 0.25
SECOND_CHUNK_WEIGHT = 0.5
DENSE_POOL = 100
LEXICAL_POOL = 100
MAX_PER_TOPIC = 2
MAX_TOPICS_PER_K = 3  # with filters, look for passages in at most 3k topics
MAX_QUERY_TOKENS = 256  # ~0.3 s of e5 on one core; longer queries are cut with a notice
_PAGE = 5000


class QueryError(ValueError):
    """The query or a filter is unusable (empty, unknown language or section)."""


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk. ``score`` = e5 cosine + LEXICAL_WEIGHT x character n-gram similarity."""

    citation_id: str
    text: str
    score: float
    topic_id: str
    title: str
    language: str
    section: str
    urgency: str
    source: str


@dataclass
class RetrievalResult:
    """Passages best first. ``no_answer``: even the best chunk is below the calibrated threshold, so the
    passages are not evidence for an answer. ``notices`` tell the caller what was changed (e.g. truncation)."""

    passages: list[Passage]
    no_answer: bool
    best_score: float = 0.0
    notices: list[str] = field(default_factory=list)


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, Any]:
    """The stored calibration (threshold and how it was chosen), or {} when there is none."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def prepare_query(query: str, max_tokens: int = MAX_QUERY_TOKENS) -> tuple[str, list[str]]:
    """The query as it will be embedded, and notices about changes; raises QueryError when it is empty."""
    if not isinstance(query, str):
        raise QueryError(f"query must be a string, not {type(query).__name__}")
    text = " ".join(query.split())
    if not text:
        raise QueryError("empty query: describe the symptoms or ask a question")
    if estimate_tokens(text) <= max_tokens:
        return text, []
    low, high = 0, len(text)  # longest prefix within the budget
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    notice = f"query truncated from {len(text)} to {low} characters (about {max_tokens} tokens)"
    log.warning(notice)
    return text[:low], [notice]


def ensure_default_collection(path: Path | None = None, host: str | None = None, port: int | None = None,
                              name: str = DEFAULT_COLLECTION, progress: bool = False,
                              corpus_dir: Path = CORPUS_DIR) -> KnowledgeStore:
    """Open the knowledge collection, building or updating the bundled corpus in it first when the store
    does not hold the corpus as it is on disk (first use: a few minutes of embedding on one core)."""
    store = KnowledgeStore.open(path, host, port, name)
    ingestor = Ingestor(store, progress=progress)
    if not ingestor.bundled_is_current(corpus_dir):
        log.warning("building the bundled knowledge corpus in collection %r (first use or corpus changed)", name)
        summary = ingestor.ingest_bundled(corpus_dir)
        log.warning("bundled corpus: %s", summary.render().replace("\n", "; "))
    return store


class _Catalog:
    """Ids, texts and metadata of every chunk, with the lexical index over them."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.ids: list[str] = []
        self.documents: list[str] = []
        self.metadatas: list[dict[str, Any]] = []
        for offset in range(0, store.count(), _PAGE):
            page = store.collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            self.ids += page["ids"]
            self.documents += page["documents"] or []
            self.metadatas += page["metadatas"] or []
        self.row = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        self.topic_rows: dict[str, list[int]] = defaultdict(list)
        for i, metadata in enumerate(self.metadatas):
            self.topic_rows[metadata["topic_id"]].append(i)
        texts = [f"{m.get('title', '')} {d}" for m, d in zip(self.metadatas, self.documents, strict=True)]
        self.lexical = LexicalIndex(texts)


class Retriever:
    """Hybrid search over one knowledge collection (the default store, built on first use, unless given)."""

    def __init__(self, store: KnowledgeStore | None = None, *, threshold: float | None = None,
                 lexical_weight: float = LEXICAL_WEIGHT, max_per_topic: int = MAX_PER_TOPIC,
                 path: Path | None = None, host: str | None = None, port: int | None = None,
                 collection: str = DEFAULT_COLLECTION) -> None:
        self.store = store or ensure_default_collection(path, host, port, collection)
        calibration = load_calibration()
        self.threshold = threshold if threshold is not None else calibration.get("threshold", DEFAULT_THRESHOLD)
        self.lexical_weight = lexical_weight
        self.max_per_topic = max_per_topic
        self._catalog: _Catalog | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Reload the chunk catalog and lexical index (done automatically when the chunk count changes)."""
        with self._lock:
            self._catalog = _Catalog(self.store)

    def _current_catalog(self) -> _Catalog:
        catalog = self._catalog
        if catalog is None or len(catalog.ids) != self.store.count():
            self.refresh()
            catalog = self._catalog
        assert catalog is not None
        return catalog

    def _dense(self, vector: np.ndarray, size: int) -> dict[str, float]:
        """Cosine similarity of the nearest chunks (Chroma HNSW)."""
        hits = self.store.collection.query(query_embeddings=[vector], n_results=min(DENSE_POOL, size),
                                           include=["distances"])
        return {i: 1.0 - d for i, d in zip(hits["ids"][0], hits["distances"][0], strict=True)}

    def _exact_dense(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of specific chunks (their stored embeddings)."""
        got = self.store.collection.get(ids=list(ids), include=["embeddings"])
        cosines = np.asarray(got["embeddings"], dtype=np.float32) @ vector
        return dict(zip(got["ids"], cosines.tolist(), strict=True))

    def search(self, query: str, k: int = 5, language: str | None = None, section: str | None = None
               ) -> RetrievalResult:
        """The ``k`` best passages for ``query`` (optionally only in ``language`` / of ``section``).

        Raises QueryError for an empty query or an unknown filter, StoreError when Chroma is unreachable.
        """
        if language is not None and language not in LANGUAGES:
            raise QueryError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)} or None")
        if section is not None and section not in SECTIONS:
            raise QueryError(f"unknown section {section!r}; use one of {', '.join(SECTIONS)} or None")
        if k < 1:
            raise QueryError("k must be at least 1")
        text, notices = prepare_query(query)
        vector = embed_queries([text])[0]
        try:
            return self._search(text, vector, k, language, section, notices)
        except STORE_ERRORS as exc:
            raise StoreError(f"knowledge store unavailable ({exc})") from None

    def _search(self, text: str, vector: np.ndarray, k: int, language: str | None, section: str | None,
                notices: list[str]) -> RetrievalResult:
        catalog = self._current_catalog()
        if not catalog.ids:
            return RetrievalResult([], True, 0.0, [*notices, "the knowledge collection is empty"])
        lexical = catalog.lexical.scores(text)
        score = self._candidate_scores(catalog, vector, lexical)
        by_topic: dict[str, list[int]] = defaultdict(list)  # candidate rows per topic, best first
        for r in sorted(score, key=score.__getitem__, reverse=True):
            by_topic[catalog.metadatas[r]["topic_id"]].append(r)
        topic_score = {
            t: score[rows[0]] + (SECOND_CHUNK_WEIGHT * score[rows[1]] if len(rows) > 1 else 0.0)
            for t, rows in by_topic.items()
        }
        best = max(score.values())

        def eligible(m: dict[str, Any]) -> bool:
            return (language is None or m["language"] == language) and (section is None or m["section"] == section)

        passages: list[Passage] = []
        for topic in sorted(topic_score, key=topic_score.__getitem__, reverse=True)[: MAX_TOPICS_PER_K * k]:
            if len(passages) >= k:
                break
            if language or section:  # the topic's filtered chunks may lie outside the candidate pools
                rows = self._filtered_rows(catalog, topic, eligible, vector, lexical, score, by_topic[topic])
            else:
                rows = by_topic[topic]
            take = min(self.max_per_topic, k - len(passages))
            passages += [self._passage(catalog, r, score[r]) for r in rows[:take]]
        return RetrievalResult(passages, best < self.threshold, best, notices)

    def _candidate_scores(self, catalog: _Catalog, vector: np.ndarray, lexical: np.ndarray) -> dict[int, float]:
        """Hybrid score of the dense and the lexical candidates, by catalog row."""
        dense = self._dense(vector, len(catalog.ids))
        floor = min(dense.values())  # stands in for the cosine of lexical candidates outside the dense pool
        rows = {catalog.row[i] for i in dense if i in catalog.row}
        rows.update(np.argsort(-lexical)[:LEXICAL_POOL].tolist())
        return {r: dense.get(catalog.ids[r], floor) + self.lexical_weight * float(lexical[r]) for r in rows}

    def _filtered_rows(self, catalog: _Catalog, topic: str, eligible: Any, vector: np.ndarray,
                       lexical: np.ndarray, score: dict[int, float], matched: list[int]) -> list[int]:
        """Rows of ``topic`` passing the filters, scored exactly (added to ``score``), best first.

        Sections are parallel across languages, so a row also ranks by how well its section matched in
        any language (``matched``: the topic's candidate rows): for a Korean query with language="en", the
        English section whose Korean twin matched comes first, even though English text matches less well.
        """
        rows = [r for r in catalog.topic_rows[topic] if eligible(catalog.metadatas[r])]
        missing = [catalog.ids[r] for r in rows if r not in score]
        if missing:
            for chunk_id, cosine in self._exact_dense(vector, missing).items():
                r = catalog.row[chunk_id]
                score[r] = cosine + self.lexical_weight * float(lexical[r])
        section_score: dict[str, float] = {}
        for r in matched:  # best first, so the first score seen per section is its best
            section_score.setdefault(catalog.metadatas[r]["section"], score[r])

        def key(r: int) -> tuple[float, float]:
            return max(section_score.get(catalog.metadatas[r]["section"], score[r]), score[r]), score[r]

        return sorted((r for r in rows if r in score), key=key, reverse=True)

    @staticmethod
    def _passage(catalog: _Catalog, row: int, score: float) -> Passage:
        m = catalog.metadatas[row]
        return Passage(
            citation_id=m["citation_id"], text=catalog.documents[row], score=round(score, 4),
            topic_id=m["topic_id"], title=m["title"], language=m["language"], section=m["section"],
            urgency=m.get("urgency", ""), source=m.get("source", ""),
        )
