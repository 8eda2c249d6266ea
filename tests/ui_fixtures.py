"""Stand-ins for the UI's unit tests: an assistant that speaks the ``agents.assistant`` event contract
(docs/architecture.md) without a model, and a helper to start a UI app in-process on a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

STROKE_WORDS = ("stroke", "slurred", "face drooping", "말이 어눌", "얼굴이 처져")


def _event(kind: str, agent: str, ms: float, **fields: Any) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, agent=agent, elapsed_ms=ms, conversation_id="c0", turn=1, **fields)


class FakeConversation:
    """Yields the contract's events in order; stroke words give an emergency with a red flag."""

    def __init__(self, transcript_path: str | None = None, delay: float = 0.0) -> None:
        self.transcript_path = transcript_path
        self.delay = delay
        self.questions: list[str] = []

    async def ask_stream(self, text: str, **_: Any) -> AsyncIterator[SimpleNamespace]:
        self.questions.append(text)
        lang = "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text) else "en"
        yield _event("language", "translator", 1.0, language=lang, answer_language=lang, supported=True,
                     notices=[])
        source = SimpleNamespace(n=1, citation_id=f"stroke/{lang}/symptoms#1", title="Stroke", section="Symptoms",
                                 topic_id="stroke",
                                 score=0.93, text="Face drooping, arm weakness, speech problems: call 119.")
        yield _event("retrieval", "retriever", 20.0, sources=[source], no_answer=False, error=None)
        emergency = any(word in text.lower() for word in STROKE_WORDS)
        flags = [SimpleNamespace(id="stroke-fast", level="emergency", explanation="Signs of a stroke")] \
            if emergency else []
        level = "emergency" if emergency else "self_care"
        yield _event("triage", "triage", 2.0, level=level, level_label=level.replace("_", "-").title(),
                     confidence=0.9, red_flags=flags, action="Call 119." if emergency else "Rest.",
                     raised_by_history=False)
        for word in ("This ", "is ", "the ", "answer [1]."):
            await asyncio.sleep(self.delay)
            yield _event("answer_delta", "answerer", 0.0, text=word)
        answer = SimpleNamespace(text="This is the answer [1].\n\nNot medical advice.", verdicts=[
            SimpleNamespace(sentence="This is the answer [1].", verdict="supported", score=0.9, n=1)],
            fallback=False, fallback_reason=None, model_id="fake", transcript_path=self.transcript_path)
        yield _event("final", "verifier", 3.0, answer=answer,
                     timings={"translator": 1.0, "retriever": 20.0, "triage": 2.0, "answerer": 50.0,
                              "verifier": 3.0, "first_token": 30.0, "total": 76.0})


class FakeAssistant:
    """``TriageAssistant`` stand-in: context manager, ``status()``, ``conversation()``."""

    def __init__(self, settings: Any = None, transcript_path: str | None = None, delay: float = 0.0) -> None:
        self.settings = settings
        self.transcript_path = transcript_path
        self.delay = delay
        self.entered = self.exited = 0

    def __enter__(self) -> FakeAssistant:
        self.entered += 1
        return self

    def __exit__(self, *_: object) -> None:
        self.exited += 1

    def status(self) -> SimpleNamespace:
        return SimpleNamespace(model_ready=True, base_url="http://127.0.0.1:1/v1", model_id="fake", adapter=None,
                               model_error=None, knowledge_ready=True, documents=42, topics=7, knowledge_error=None)

    def conversation(self) -> FakeConversation:
        return FakeConversation(self.transcript_path, self.delay)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
