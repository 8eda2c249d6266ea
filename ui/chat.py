"""The chat tab's logic: check a message, stream the assistant's events into a view, remember the conversation.

A turn runs in two steps, so the labels can switch language before the answer streams: ``accept`` checks the
message and picks the UI language; ``stream`` asks the conversation and yields the ``TurnView`` after every
event. Answer text is shown only once the triage (and with it the emergency banner) is shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents.language import detect_language
from agents.verifier import self_harm
from ui import render
from ui.backend import Backend, NotReady
from ui.i18n import t, ui_language

MAX_MESSAGE_CHARS = 4000
TIMING_KEYS = ("first_token", "total")  # FinalEvent.timings entries that are not agents


@dataclass
class ChatSession:
    """One browser session's conversation (kept in gr.State)."""

    lang: str = "en"
    messages: list[dict[str, str]] = field(default_factory=list)  # what the Chatbot shows
    conversation: Any = None  # agents.assistant Conversation, created on the first question
    pending: str | None = None  # the accepted question waiting for ``stream``
    answering: bool = False
    transcript_path: str | None = None

    @property
    def busy(self) -> bool:
        """A question is waiting for or receiving its answer."""
        return self.pending is not None or self.answering


@dataclass
class TurnView:
    """Everything one turn shows: the assistant's events folded together."""

    lang: str
    triage: Any = None
    retrieval: Any = None
    draft: str = ""
    final: Any = None
    stages: list[render.Stage] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str = ""

    def answer_text(self) -> str:
        """What the answer bubble shows: nothing before the triage, then the draft, then the verified text."""
        if self.error:
            return self.error
        if self.triage is None:
            return ""
        return self.final.text if self.final is not None else self.draft

    def html(self) -> tuple[str, str, str, str, str]:
        """Banner, badge, sources, trace and notice HTML."""
        done = self.final is not None
        crisis = self.triage is not None and self_harm(self.triage, self.retrieval.sources if self.retrieval else [])
        return (render.banner(self.triage, self.lang, crisis), render.badge(self.triage, self.lang),
                render.sources(self.retrieval, self.lang), render.trace(self.stages, self.lang, done),
                render.notice(" ".join(self.notices)))

    def apply(self, event: Any) -> bool:
        """Fold one assistant event into the view; True when the display changed."""
        kind = event.kind
        if kind == "answer_delta":
            self.draft += event.text
        elif kind == "final":
            self.final = event.answer
            self._finish_trace(event.timings)
        elif kind in ("language", "retrieval", "triage"):
            if kind == "language":
                self.notices += list(event.notices)
            else:
                setattr(self, kind, event)
            self.stages.append(render.Stage(event.agent, self._summary(event), event.elapsed_ms / 1000))
        else:
            return False
        return True

    def _summary(self, event: Any) -> str:
        """What one agent did, in a few words of the UI language."""
        if event.kind == "language":
            return t("tr_language", self.lang, language=event.language, answer=event.answer_language)
        if event.kind == "retrieval":
            if event.error:
                return t("sources_error", self.lang, error=event.error)
            if not event.sources:
                return t("sources_none_relevant", self.lang)
            return t("tr_sources", self.lang, n=len(event.sources), best=max(s.score for s in event.sources))
        return t("tr_triage", self.lang, label=event.level_label, flags=len(event.red_flags))

    def _finish_trace(self, timings: dict[str, float]) -> None:
        """Rows for the agents that reported only in the final timings (answerer, verifier) and the total."""
        seen = {stage.agent for stage in self.stages}
        answer = self.final
        for agent, ms in timings.items():
            if agent in seen or agent in TIMING_KEYS:
                continue
            if agent == "verifier":
                supported = sum(v.verdict == "supported" for v in answer.verdicts)
                summary = t("tr_verify", self.lang, ok=supported, total=len(answer.verdicts))
            elif answer.fallback:
                summary = t("tr_fallback", self.lang, reason=answer.fallback_reason or "")
            else:
                summary = t("tr_answer", self.lang, words=len(self.draft.split()), model=answer.model_id or "?",
                            first=timings.get("first_token", 0.0) / 1000)
            self.stages.append(render.Stage(agent, summary, ms / 1000))
        if "total" in timings:
            self.stages.append(render.Stage(t("total", self.lang), "", timings["total"] / 1000))


def check_message(message: str, lang: str) -> str:
    """Why ``message`` cannot be sent (in ``lang``), or "" when it can."""
    text = (message or "").strip()
    if not text:
        return t("empty_message", lang)
    if len(text) > MAX_MESSAGE_CHARS:
        return t("too_long", lang, n=len(text), limit=MAX_MESSAGE_CHARS)
    return ""


def accept(session: ChatSession, message: str, choice: str) -> str:
    """Take the user's message into the session; return a notice ("" if accepted). ``choice``: auto/en/ko."""
    text = (message or "").strip()
    session.lang = ui_language(choice, detect_language(text) if text else None, session.lang)
    problem = t("busy", session.lang) if session.busy else check_message(text, session.lang)
    if problem:
        return problem
    session.pending = text
    session.messages.append({"role": "user", "content": text})
    return ""


def early_triage(session: ChatSession) -> tuple[str | None, str | None]:
    """Banner and badge HTML for the accepted message from ``agents.triage`` alone (rules and a small
    classifier, no LLM), shown at once while the question waits in the queue for the model. The banner only
    when it applies; the badge only on a conversation's first message (later levels depend on the history,
    which the team's own triage weighs). None for what should stay as it is, also when triage fails."""
    try:
        from agents.triage import triage

        decision = triage(session.pending or "")
    except Exception:  # noqa: BLE001  (the team's own triage still runs; this is only a head start)
        return None, None
    banner = render.banner(decision, session.lang, self_harm(decision, [])) or None
    first = len(session.messages) == 1
    return banner, render.badge(decision, session.lang) if first else None


async def stream(backend: Backend, session: ChatSession) -> AsyncIterator[TurnView]:
    """Ask the pending question in the session's conversation, yielding the view after each event."""
    question, session.pending = session.pending, None
    if question is None:
        return
    view = TurnView(session.lang)
    session.messages.append({"role": "assistant", "content": ""})
    session.answering = True
    backend.answering += 1
    try:
        if session.conversation is None:
            session.conversation = backend.conversation()
        async for event in session.conversation.ask_stream(question):
            if view.apply(event):
                session.messages[-1]["content"] = view.answer_text()
                yield view
    except NotReady as exc:
        view.error = t("not_ready", view.lang, state=str(exc))
    except Exception as exc:  # noqa: BLE001  (any failure becomes a message; the app keeps working)
        view.error = t("backend_error", view.lang, error=f"{type(exc).__name__}: {exc}")
    finally:
        session.answering = False
        backend.answering -= 1
    if view.final is None and not view.error:
        view.error = t("backend_error", view.lang, error="no final answer")
    if view.final is not None and view.final.transcript_path:
        session.transcript_path = view.final.transcript_path
    session.messages[-1]["content"] = view.answer_text()
    yield view
