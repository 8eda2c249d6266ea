"""Stand-ins for the agents' unit tests: a retriever over a few fixed passages, keyword triage with the
``agents.triage`` result shape, scripted model clients, and helpers to run one agent on structured messages."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import BaseModel

from agents.llm import MODEL_INFO
from agents.messages import (
    DraftAnswer,
    LanguageResult,
    PatientTurn,
    RetrievalOutcome,
    TriageOutcome,
)
from agents.retriever_agent import to_sources
from agents.translator import translate_turn
from knowledge.retrieval import Passage, RetrievalResult


def _passage(citation_id: str, text: str, score: float, title: str, section: str, urgency: str) -> Passage:
    topic, language = citation_id.split("#")[0], citation_id.split("#")[1][:2]
    return Passage(citation_id, text, score, topic, title, language, section, urgency, "authored")


PASSAGES = {
    "en": [
        _passage("stroke#en-symptoms-0",
                 "Signs of a stroke come on suddenly: the face drooping on one side, weakness or numbness in one "
                 "arm or leg, and slurred or garbled speech.", 0.97, "Stroke", "symptoms", "emergency"),
        _passage("stroke#en-care-0",
                 "A stroke is a medical emergency. Call 119 immediately, even if the symptoms go away. Fast "
                 "treatment in hospital limits brain damage.", 0.95, "Stroke", "when_to_seek_care", "emergency"),
        _passage("sore-throat#en-self-0",
                 "Most sore throats get better within a week. Drink plenty of fluids, rest, and take paracetamol "
                 "or ibuprofen for the pain.", 0.93, "Sore throat", "self_care", "self_care"),
    ],
    "ko": [
        _passage("stroke#ko-symptoms-0",
                 "뇌졸중의 증상은 갑자기 나타납니다. 한쪽 얼굴이 처지고, "
                 "한쪽 팔이나 다리에 힘이 빠지거나 저리며, 말이 어눌해집니다.",
                 0.97, "뇌졸중", "symptoms", "emergency"),
        _passage("stroke#ko-care-0",
                 "뇌졸중은 응급 상황입니다. 증상이 사라지더라도 즉시 119에 "
                 "전화하세요. 병원에서 빨리 치료받을수록 뇌 손상이 줄어듭니다.",
                 0.95, "뇌졸중", "when_to_seek_care", "emergency"),
        _passage("sore-throat#ko-self-0",
                 "대부분의 인후통은 일주일 안에 좋아집니다. 물을 충분히 마시고 "
                 "쉬며, 통증에는 아세트아미노펜이나 이부프로펜을 복용하세요.",
                 0.93, "인후통", "self_care", "self_care"),
    ],
}


class FakeRetriever:
    """Returns the fixed passages of the requested language; ``no_answer`` for questions about 'weather'."""

    threshold = 0.9

    def __init__(self) -> None:
        self.queries: list[tuple[str, int, str | None]] = []

    def search(self, query: str, k: int = 5, language: str | None = None, section: str | None = None
               ) -> RetrievalResult:
        self.queries.append((query, k, language))
        passages = PASSAGES[language or "en"][:k]
        if "weather" in query.lower() or "날씨" in query:
            return RetrievalResult(passages, True, 0.5)
        return RetrievalResult(passages, False, passages[0].score)


class BrokenRetriever:
    threshold = 0.9

    def search(self, query: str, k: int = 5, language: str | None = None, section: str | None = None
               ) -> RetrievalResult:
        raise ConnectionError("chroma is down")


@dataclass
class FakeFlag:
    id: str
    level: str
    explanation: str


@dataclass
class FakeDecision:
    level: str
    confidence: float
    red_flags: list[FakeFlag] = field(default_factory=list)
    action: str = ""
    language: str = "en"


class FakeTriage:
    """Keyword triage with the shape of ``agents.triage.triage``; records what it was given."""

    RULES = (("face", "emergency", "stroke_face"), ("얼굴", "emergency", "stroke_face"),
             ("kill myself", "emergency", "suicidal_intent"), ("fever", "urgent", "high_fever"))

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str, age: int | None = None, sex: str | None = None, pregnant: bool | None = None
                 ) -> FakeDecision:
        self.calls.append(text)
        language = "ko" if any("\uac00" <= c <= "\ud7a3" for c in text) else "en"
        for word, level, flag in self.RULES:
            if word in text.lower():
                return FakeDecision(level, 0.9, [FakeFlag(flag, level, f"found {word}")], f"{level} action", language)
        return FakeDecision("self_care", 0.7, [], "self-care action", language)


def replay(*answers: str) -> ReplayChatCompletionClient:
    """A replay client that streams ``answers`` in order (one per request)."""
    return ReplayChatCompletionClient(list(answers), model_info=MODEL_INFO)


class FailingClient(ReplayChatCompletionClient):
    """A client whose every request fails like a server that is down (or hangs, with ``hang``)."""

    def __init__(self, hang: float = 0.0) -> None:
        super().__init__(["unused"], model_info=MODEL_INFO)
        self.hang = hang

    async def create_stream(self, messages: Sequence[LLMMessage], **kwargs: Any
                            ) -> AsyncGenerator[str | CreateResult, None]:
        import asyncio

        if self.hang:
            await asyncio.sleep(self.hang)
        raise ConnectionError("connection refused")
        yield ""  # pragma: no cover  (makes this an async generator)


def structured(*contents: BaseModel, source: str = "test") -> list[BaseChatMessage]:
    """Contents wrapped as the ``StructuredMessage`` s an agent receives in a team run."""
    return [StructuredMessage[type(c)](content=c, source=source) for c in contents]  # type: ignore[misc]


async def run_agent(agent: Any, messages: Sequence[BaseChatMessage]) -> tuple[Any, list[Any]]:
    """(payload of the agent's response, the events it streamed before it)."""
    events, response = [], None
    async for item in agent.on_messages_stream(messages, CancellationToken()):
        if isinstance(item, Response):
            response = item
        else:
            events.append(item)
    assert response is not None
    return response.chat_message.content, events


def turn_inputs(text: str, triage_level: str = "emergency", language: str | None = None,
                **turn: Any) -> tuple[PatientTurn, LanguageResult, RetrievalOutcome, TriageOutcome]:
    """A turn's task, translator output, retrieval over ``PASSAGES`` and a triage outcome at ``triage_level``."""
    task = PatientTurn(conversation_id="c1", turn=1, text=text, **turn)
    request = translate_turn(task)
    lang = language or request.answer_language
    retrieval = RetrievalOutcome(query=text, sources=to_sources(PASSAGES[lang]), no_answer=False, best_score=0.97)
    triage = TriageOutcome(level=triage_level, level_label=triage_level, confidence=0.9, action="act",
                           language=lang)
    return task, request, retrieval, triage


def draft(text: str = "", **fields: Any) -> DraftAnswer:
    return DraftAnswer(text=text, model_id="fake", **fields)



class RecordingClient(ReplayChatCompletionClient):
    """A replay client that keeps the messages and create arguments of every request."""

    def __init__(self, *answers: str) -> None:
        super().__init__(list(answers), model_info=MODEL_INFO)
        self.requests: list[tuple[list[LLMMessage], dict[str, Any]]] = []

    def create_stream(self, messages: Sequence[LLMMessage], **kwargs: Any) -> AsyncGenerator[str | CreateResult, None]:
        self.requests.append((list(messages), dict(kwargs.get("extra_create_args", {}))))
        return super().create_stream(messages, **kwargs)
