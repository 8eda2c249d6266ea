"""Retrieval API the agents call: hybrid (e5 dense + character n-gram) search, ranked by topic.

    from knowledge.retrieval import Retriever
    result = Retriever().search("가슴이 꽉 조이고 식은땀이 나요", k=5, language="en")
    if not result.no_answer:
        for p in result.passages: print(p.citation_id, p.score, p.text)

How a query is answered:
1. e5 finds the ``DENSE_POOL`` nearest chunks in Chroma; a character n-gram TF-IDF index (in memory, built
   from the collection) scores every chunk lexically. A chunk's score is ``cosine + LEXICAL_WEIGHT * tfidf``:
   the relevance score that ``no_answer`` and ``Passage.score`` use.
2. Ranking adds ``WORD_WEIGHT`` x the TF-IDF similarity of whole English words, so that "heartburn" does not
   rank burns topics through the n-grams it shares with "burns".
3. Chunks vote for their topic (best chunk + ``SECOND_CHUNK_WEIGHT`` x second best). Topics hold both
   languages, so a Korean query that matches the Korean text of a topic also ranks its English text:
   ``language="en"`` returns English passages of the topics found through either language.
4. Passages of the best topics that pass the language/section filters are returned: up to
   ``top_topic_passages`` from the best topic, one from each next topic. Within a topic, a question that asks
   for one kind of information ("what can I do at home", "왜 생기나요": ``SECTION_INTENTS``) gets the chunks of
   that section first (``SECTION_PRIOR``). ``no_answer`` is set when the best chunk score is below the
   threshold calibrated on knowledge/eval/queries.jsonl (knowledge/calibration.json, see
   ``python -m knowledge.evaluate``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
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
WORD_WEIGHT = 0.1  # exact English words, for ranking only
SECOND_CHUNK_WEIGHT = 0.5
SECTION_PRIOR = 0.05  # added within a topic to the chunks of the sections the question asks for
DENSE_POOL = 100
LEXICAL_POOL = 100
TOP_TOPIC_PASSAGES = 2
MAX_TOPICS_PER_K = 3  # look for passages in at most 3k topics (filters can leave topics without any)
QUERY_CACHE_SIZE = 256  # query embeddings kept (the agents often search the same text twice)
MAX_QUERY_TOKENS = 256  # ~0.3 s of e5 on one core; longer queries are cut with a notice
_PAGE = 5000

# Questions asking for one kind of information, by the section that holds it (English and Korean phrasings).
SECTION_INTENTS: dict[str, re.Pattern[str]] = {section: re.compile(pattern, re.IGNORECASE) for section, pattern in {
    "self_care": r"\bat home\b|\bhome (?:care|remed)|\bself[- ]?care\b|\bwhat (?:can|should) i do\b|"
                 r"\bhow (?:can|do|should) i (?:ease|relieve|soothe|manage|look after|take care)|"
                 r"\b집에서|자가 ?관리|어떻게 (?:하면|해야|관리|돌보)|뭘 하면|무엇을 하면|민간 ?요법",
    "treatment": r"\btreat|\bmedicines?\b|\bmedications?\b|\bcure\b|\bwhat helps\b|\bremed|"
                 r"치료(?:법|하|받| 방법)|무슨 약|어떤 약|낫게|낫는",
    "when_to_seek_care": r"\bsee a doctor\b|\bwhen should i\b|\bshould i (?:go|see|call|worry)\b|"
                         r"\bgo to (?:the )?(?:er|hospital|emergency)\b|\bis (?:it|this) (?:serious|an emergency)\b|"
                         r"병원에 ?가야|응급실에 ?가야|언제 병원|진료를 ?받아야|걱정해야",
    "prevention": r"\bprevent(?!er)|\bavoid (?:getting|catching)\b|예방(?:하|법|할| 방법)|안 걸리",
    "causes": r"\bwhat causes\b|\bcaused by\b|\bwhy (?:do|does|did|am|is)\b|왜 생기|원인|이유가",
    "diagnosis": r"\bdiagnos|\bwhat tests?\b|어떻게 진단|진단 방법|무슨 검사|어떤 검사",
}.items()}


class QueryError(ValueError):
    """The query or a filter is unusable (empty, unknown language or section)."""


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk. ``score`` = e5 cosine + LEXICAL_WEIGHT x character n-gram similarity (the
    relevance compared with the no-answer threshold)."""

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


def asked_sections(query: str) -> frozenset[str]:
    """Sections the query asks for ("what can I do at home" -> self_care), by ``SECTION_INTENTS``."""
    return frozenset(section for section, pattern in SECTION_INTENTS.items() if pattern.search(query))


def ensure_default_collection(path: Path | None = None, host: str | None = None, port: int | None = None,
                              name: str = DEFAULT_COLLECTION, progress: bool = False,
                              corpus_dir: Path = CORPUS_DIR) -> KnowledgeStore:
    """Open the knowledge collection, building or updating the bundled corpus in it first when the store
    does not hold the corpus as it is on disk. With the shipped vectors (knowledge/corpus_vectors.npz) a first
    build takes under a minute; chunks changed since those vectors were saved are embedded (~0.1 s each)."""
    store = KnowledgeStore.open(path, host, port, name)
    ingestor = Ingestor(store, progress=progress)
    if not ingestor.bundled_is_current(corpus_dir):
        log.warning("building the bundled knowledge corpus in collection %r (first use or corpus changed)", name)
        summary = ingestor.ingest_bundled(corpus_dir)
        log.warning("bundled corpus: %s", summary.render().replace("\n", "; "))
    return store


class _Catalog:
    """Ids, texts, metadata and embeddings of every chunk, with the lexical indexes over them (in memory:
    ~2 KB per chunk)."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.ids: list[str] = []
        self.documents: list[str] = []
        self.metadatas: list[dict[str, Any]] = []
        vectors = []
        for offset in range(0, store.count(), _PAGE):
            page = store.collection.get(include=["documents", "metadatas", "embeddings"], limit=_PAGE, offset=offset)
            self.ids += page["ids"]
            self.documents += page["documents"] or []
            self.metadatas += page["metadatas"] or []
            vectors.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(len(page["ids"]), -1))
        self.embeddings = np.concatenate(vectors) if vectors else np.empty((0, 0), dtype=np.float32)
        self.row = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        grouped: dict[str, list[int]] = defaultdict(list)
        for i, metadata in enumerate(self.metadatas):
            grouped[metadata["topic_id"]].append(i)
        self.topic_rows: dict[str, np.ndarray] = {topic: np.array(rows) for topic, rows in grouped.items()}
        texts = [f"{m.get('title', '')} {d}" for m, d in zip(self.metadatas, self.documents, strict=True)]
        self.lexical = LexicalIndex(texts)
        self.words = LexicalIndex(texts, words=True)


class Retriever:
    """Hybrid search over one knowledge collection (the default store, built on first use, unless given).

    ``top_topic_passages``: how many passages the best topic may contribute (every other topic gives one),
    so ``k=5`` returns the best topic's two most relevant sections plus three alternatives.
    ``query_cache_size``: query embeddings kept in an LRU cache (0: none).
    """

    def __init__(self, store: KnowledgeStore | None = None, *, threshold: float | None = None,
                 lexical_weight: float = LEXICAL_WEIGHT, top_topic_passages: int = TOP_TOPIC_PASSAGES,
                 path: Path | None = None, host: str | None = None, port: int | None = None,
                 collection: str = DEFAULT_COLLECTION, query_cache_size: int = QUERY_CACHE_SIZE) -> None:
        self.store = store or ensure_default_collection(path, host, port, collection)
        calibration = load_calibration()
        self.threshold = threshold if threshold is not None else calibration.get("threshold", DEFAULT_THRESHOLD)
        self.lexical_weight = lexical_weight
        self.top_topic_passages = top_topic_passages
        self._catalog: _Catalog | None = None
        self._lock = threading.Lock()
        self._embed = lru_cache(maxsize=query_cache_size)(lambda text: embed_queries([text])[0])

    def refresh(self) -> None:
        """Reload the chunk catalog and lexical index. Done automatically on first use and when the store
        returns chunks the catalog does not know (added by an ingestion since)."""
        with self._lock:
            self._catalog = _Catalog(self.store)

    def _current_catalog(self) -> _Catalog:
        if self._catalog is None:
            self.refresh()
        assert self._catalog is not None
        return self._catalog

    def topic_ids(self) -> set[str]:
        """Topics present in the collection."""
        return set(self._current_catalog().topic_rows)

    def chunk_count(self) -> int:
        """Chunks in the collection (as of the last catalog load)."""
        return len(self._current_catalog().ids)

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
        vector = self._embed(text)
        try:
            catalog = self._current_catalog()
            if not catalog.ids:
                return RetrievalResult([], True, 0.0, [*notices, "the knowledge collection is empty"])
            hits = self.store.collection.query(query_embeddings=[vector], n_results=min(DENSE_POOL, len(catalog.ids)),
                                               include=[])["ids"][0]
            if any(i not in catalog.row for i in hits):
                self.refresh()
                catalog = self._current_catalog()
        except STORE_ERRORS as exc:
            raise StoreError(f"knowledge store unavailable ({exc})") from None
        return self._rank(catalog, text, vector, hits, k, language, section, notices)

    def _rank(self, catalog: _Catalog, text: str, vector: np.ndarray, hits: list[str], k: int,
              language: str | None, section: str | None, notices: list[str]) -> RetrievalResult:
        lexical = catalog.lexical.scores(text)
        words = WORD_WEIGHT * catalog.words.scores(text)
        asked = asked_sections(text)

        def relevance(rows: np.ndarray) -> np.ndarray:
            return catalog.embeddings[rows] @ vector + self.lexical_weight * lexical[rows]

        pool = np.unique(np.concatenate([[catalog.row[i] for i in hits if i in catalog.row],
                                         np.argsort(-lexical)[:LEXICAL_POOL]]).astype(int))
        pool_relevance = relevance(pool)
        pool_scores = pool_relevance + words[pool]
        best_rows: dict[str, list[float]] = defaultdict(list)  # candidate scores per topic, best first
        for i in np.argsort(-pool_scores):
            best_rows[catalog.metadatas[pool[i]]["topic_id"]].append(float(pool_scores[i]))
        topic_score = {t: s[0] + (SECOND_CHUNK_WEIGHT * s[1] if len(s) > 1 else 0.0) for t, s in best_rows.items()}
        best = round(float(pool_relevance.max()), 4)

        passages: list[Passage] = []
        for rank, topic in enumerate(sorted(topic_score, key=topic_score.__getitem__, reverse=True)):
            if len(passages) >= k or rank >= MAX_TOPICS_PER_K * k:
                break
            quota = min(self.top_topic_passages if rank == 0 else 1, k - len(passages))
            rows = catalog.topic_rows[topic]
            row_relevance = relevance(rows)
            order = self._order_in_topic(catalog, rows, row_relevance + words[rows], language, section, asked)
            passages += [self._passage(catalog, int(rows[i]), float(row_relevance[i])) for i in order[:quota]]
        return RetrievalResult(passages, best < self.threshold, best, notices)

    @staticmethod
    def _order_in_topic(catalog: _Catalog, rows: np.ndarray, row_scores: np.ndarray, language: str | None,
                        section: str | None, asked: frozenset[str]) -> list[int]:
        """Indices into ``rows`` of the chunks passing the filters, best first; chunks of the ``asked``
        sections get ``SECTION_PRIOR`` on top of their score.

        Sections are parallel across languages, so with a language filter a chunk ranks by the best score
        of its section in either language: for a Korean query with language="en", the English section
        whose Korean twin matched comes first, although English text matches a Korean query less well.
        """
        metadatas = [catalog.metadatas[r] for r in rows]
        ranked = row_scores + SECTION_PRIOR * np.array([m["section"] in asked for m in metadatas])
        keep = [i for i, m in enumerate(metadatas)
                if (language is None or m["language"] == language) and (section is None or m["section"] == section)]
        if language is None:
            return sorted(keep, key=lambda i: ranked[i], reverse=True)
        section_best: dict[str, float] = {}
        for i, m in enumerate(metadatas):
            section_best[m["section"]] = max(section_best.get(m["section"], -1.0), float(ranked[i]))
        return sorted(keep, key=lambda i: (section_best[metadatas[i]["section"]], ranked[i]), reverse=True)

    @staticmethod
    def _passage(catalog: _Catalog, row: int, score: float) -> Passage:
        m = catalog.metadatas[row]
        return Passage(
            citation_id=m["citation_id"], text=catalog.documents[row], score=round(score, 4),
            topic_id=m["topic_id"], title=m["title"], language=m["language"], section=m["section"],
            urgency=m.get("urgency", ""), source=m.get("source", ""),
        )
