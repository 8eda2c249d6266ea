"""Retriever agent: the knowledge-base passages for the question, numbered for citation ([1], [2], ...).

It searches ``knowledge.retrieval`` (top-k, in the answer's language, calibrated threshold). When even the
best hit is below the threshold it says so (``no_answer``, no sources); when the store fails it reports the
error instead of raising, so the turn still gets triage and a safe answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from autogen_agentchat.messages import BaseChatMessage
from autogen_core import CancellationToken

from agents.messages import LanguageResult, RetrievalOutcome, Source, latest
from agents.stage import StageAgent
from knowledge.documents import SECTION_HEADINGS
from knowledge.retrieval import Passage, QueryError, RetrievalResult

log = logging.getLogger(__name__)
DEFAULT_TOP_K = 5


@runtime_checkable
class PassageSearch(Protocol):
    """What the agent needs of ``knowledge.retrieval.Retriever``."""

    threshold: float

    def search(self, query: str, k: int = 5, language: str | None = None, section: str | None = None
               ) -> RetrievalResult: ...


def heading(section: str, language: str) -> str:
    """The section's heading in the passage's language (the key itself for unknown sections)."""
    names = SECTION_HEADINGS.get(section)
    return names[1 if language == "ko" else 0] if names else section


def to_sources(passages: Sequence[Passage]) -> list[Source]:
    """Passages as numbered sources in rank order, grouped by topic (a topic's passages follow its best one)."""
    first_rank: dict[str, int] = {}
    for rank, p in enumerate(passages):
        first_rank.setdefault(p.topic_id, rank)
    passages = sorted(passages, key=lambda p: first_rank[p.topic_id])  # stable: rank order within a topic
    return [
        Source(n=n, citation_id=p.citation_id, title=p.title, section=p.section,
               heading=heading(p.section, p.language), score=p.score, text=p.text, language=p.language,
               topic_id=p.topic_id)
        for n, p in enumerate(passages, 1)
    ]


class RetrieverAgent(StageAgent):
    """Queries the knowledge base; ``search`` may be a retriever or a zero-argument factory (opened lazily)."""

    output_type = RetrievalOutcome

    def __init__(self, search: PassageSearch | Callable[[], PassageSearch], top_k: int = DEFAULT_TOP_K,
                 name: str = "retriever") -> None:
        super().__init__(name, "Finds knowledge-base passages for the question and numbers them for citation.")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self._search = search
        self.top_k = top_k

    def _retriever(self) -> PassageSearch:
        if not isinstance(self._search, PassageSearch):
            self._search = self._search()
        return self._search

    def retrieve(self, request: LanguageResult) -> RetrievalOutcome:
        """Search synchronously (the agent runs this in a worker thread)."""
        query = request.retrieval_query
        if request.empty:
            return RetrievalOutcome(query=query, notices=["empty question: nothing searched"])
        try:
            retriever = self._retriever()
            result = retriever.search(query, k=self.top_k, language=request.answer_language)
        except QueryError as exc:
            return RetrievalOutcome(query=query, notices=[str(exc)])
        except Exception as exc:  # the store is down or broken: the turn goes on without passages
            log.warning("retrieval failed: %s", exc)
            return RetrievalOutcome(query=query, error=f"knowledge base unavailable: {exc}")
        candidates = [(p.citation_id, p.score) for p in result.passages]
        return RetrievalOutcome(
            query=query, sources=[] if result.no_answer else to_sources(result.passages),
            no_answer=result.no_answer, best_score=result.best_score, threshold=retriever.threshold,
            candidates=candidates, notices=list(result.notices),
        )

    async def run_stage(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                        ) -> RetrievalOutcome:
        request = latest(messages, LanguageResult)
        if request is None:
            raise ValueError("the retriever needs the translator's LanguageResult")
        return await asyncio.to_thread(self.retrieve, request)
