"""Payloads the team's agents pass to each other as ``StructuredMessage[...]`` (one pydantic model per stage).

The flow is translator -> retriever -> triage -> answerer -> verifier; the task is a ``PatientTurn`` that
carries the conversation's earlier turns, so the agents themselves hold no state between turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from pydantic import BaseModel, Field

Level = Literal["emergency", "urgent", "routine", "self_care"]
LEVELS: tuple[Level, ...] = ("self_care", "routine", "urgent", "emergency")  # lowest to highest
AnswerLanguage = Literal["ko", "en"]
Verdict = Literal["supported", "unsupported", "contradicts_level", "wrong_language", "duplicate", "echo", "incomplete"]

LEVEL_LABELS: dict[str, dict[str, str]] = {
    "en": {"emergency": "Emergency", "urgent": "Urgent", "routine": "Routine", "self_care": "Self-care"},
    "ko": {"emergency": "응급", "urgent": "긴급", "routine": "일반 진료", "self_care": "자가 관리"},
}


def level_rank(level: str | None) -> int:
    """Position of ``level`` from self_care (0) to emergency (3); -1 for None or unknown."""
    return LEVELS.index(level) if level in LEVELS else -1  # type: ignore[arg-type]


def level_label(level: str, language: str) -> str:
    """The level's name for patients, in Korean or English."""
    return LEVEL_LABELS["ko" if language == "ko" else "en"].get(level, level)


class RedFlagInfo(BaseModel):
    """One red flag found by triage; ``explanation`` is in the patient's language."""

    id: str
    level: str
    explanation: str


class PatientTurn(BaseModel):
    """The task of one team run: the patient's new message and what the conversation already knows."""

    conversation_id: str
    turn: int = Field(ge=1)
    text: str
    earlier_turns: list[str] = Field(default_factory=list, description="earlier patient messages, oldest first")
    previous_question: str | None = None
    previous_answer: str | None = None
    level_floor: Level | None = Field(None, description="highest triage level of the conversation so far")
    earlier_red_flags: list[RedFlagInfo] = Field(default_factory=list)
    age: int | None = None
    sex: str | None = None
    pregnant: bool | None = None


class LanguageResult(BaseModel):
    """Translator output: languages, the normalised question and what was changed."""

    language: str = Field(description="detected: ko, en, another ISO code or unknown")
    answer_language: AnswerLanguage
    supported: bool = Field(description="the patient wrote Korean or English")
    question: str = Field(description="normalised, redacted, length-limited question for the answerer")
    retrieval_query: str = Field(description="question plus the context of earlier turns")
    triage_text: str = Field(description="normalised, redacted message for triage (longer limit)")
    empty: bool = False
    notices: list[str] = Field(default_factory=list, description="for the patient, in answer_language")
    elapsed_ms: float = 0.0


class Source(BaseModel):
    """A retrieved passage with its citation number ``n`` (as the answerer sees it: [n])."""

    n: int
    citation_id: str
    title: str
    section: str
    heading: str
    score: float
    text: str
    language: str
    topic_id: str


class RetrievalOutcome(BaseModel):
    """Retriever output. ``no_answer``: nothing above the calibrated threshold (``sources`` is then empty)."""

    query: str
    sources: list[Source] = Field(default_factory=list)
    no_answer: bool = True
    best_score: float = 0.0
    threshold: float | None = None
    candidates: list[tuple[str, float]] = Field(default_factory=list, description="all hits: (id, score)")
    notices: list[str] = Field(default_factory=list)
    error: str | None = None
    elapsed_ms: float = 0.0


class TriageOutcome(BaseModel):
    """Triage agent output: the conversation's level (never lower than an earlier turn's)."""

    level: Level
    level_label: str
    confidence: float
    red_flags: list[RedFlagInfo] = Field(default_factory=list)
    action: str = ""
    language: str = ""
    message_level: Level | None = Field(None, description="what this turn's text alone (with context) gave")
    raised_by_history: bool = False
    error: str | None = None
    elapsed_ms: float = 0.0


class DraftAnswer(BaseModel):
    """Answerer output: the model's unverified text, or ``error`` when the model could not answer."""

    text: str = ""
    model_id: str | None = None
    adapter: str | None = None
    cached: bool = False
    truncated: bool = Field(False, description="stopped by max_tokens")
    error: str | None = None
    skipped: str | None = Field(None, description="why the model was not asked (e.g. no passages)")
    prompt_tokens: int = Field(0, description="as the server reports them (0 when it does not when streaming)")
    completion_tokens: int = 0
    chunks: int = Field(0, description="streamed text chunks (about one per token on llama.cpp and vLLM)")
    first_token_ms: float | None = None
    elapsed_ms: float = 0.0


class SentenceVerdict(BaseModel):
    """The verifier's decision on one draft sentence; ``n``: the passage that supports it best."""

    sentence: str
    verdict: Verdict
    score: float = 0.0
    n: int | None = None


class FinalAnswer(BaseModel):
    """The verified answer every turn ends with (also when the model or the knowledge base failed)."""

    text: str = Field(description="what to show: safety lines, answer, notes and disclaimer")
    body: str
    language: AnswerLanguage
    level: Level
    level_label: str
    red_flags: list[RedFlagInfo] = Field(default_factory=list)
    action: str = ""
    sources: list[Source] = Field(default_factory=list)
    disclaimer: str
    notes: list[str] = Field(default_factory=list)
    fallback: bool = False
    fallback_reason: str | None = None
    verdicts: list[SentenceVerdict] = Field(default_factory=list)
    model_id: str | None = None
    adapter: str | None = None
    transcript_path: str | None = None
    elapsed_ms: float = 0.0


T = TypeVar("T", bound=BaseModel)


def latest(messages: Sequence[BaseChatMessage], model: type[T]) -> T | None:
    """Content of the last ``StructuredMessage`` carrying a ``model`` in ``messages``, or None."""
    for message in reversed(messages):
        if isinstance(message, StructuredMessage) and isinstance(message.content, model):
            return message.content
    return None
