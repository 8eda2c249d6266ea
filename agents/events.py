"""Typed events ``Conversation.ask_stream`` yields to the UI, in this order per turn:

``LanguageEvent`` -> ``RetrievalEvent`` -> ``TriageEvent`` (before any answer text: show an emergency banner)
-> ``AnswerDelta`` x N (the unverified draft, streamed) -> ``FinalEvent`` (the verified answer replaces the
draft; ``timings`` per agent). Every event names its conversation, turn and agent, and ``elapsed_ms`` is
that agent's own time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agents.messages import FinalAnswer, Level, RedFlagInfo, Source


class Event(BaseModel):
    """Fields common to every event."""

    kind: str
    conversation_id: str
    turn: int
    agent: str
    elapsed_ms: float = 0.0


class LanguageEvent(Event):
    kind: Literal["language"] = "language"
    language: str
    answer_language: str
    supported: bool
    notices: list[str] = Field(default_factory=list)


class RetrievalEvent(Event):
    kind: Literal["retrieval"] = "retrieval"
    sources: list[Source] = Field(default_factory=list)
    no_answer: bool
    error: str | None = None


class TriageEvent(Event):
    kind: Literal["triage"] = "triage"
    level: Level
    level_label: str
    confidence: float
    red_flags: list[RedFlagInfo] = Field(default_factory=list)
    action: str
    raised_by_history: bool


class AnswerDelta(Event):
    kind: Literal["answer_delta"] = "answer_delta"
    text: str


class FinalEvent(Event):
    kind: Literal["final"] = "final"
    answer: FinalAnswer
    timings: dict[str, float] = Field(default_factory=dict, description="ms per agent, 'first_token', 'total'")


AnyEvent = LanguageEvent | RetrievalEvent | TriageEvent | AnswerDelta | FinalEvent
