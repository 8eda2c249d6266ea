"""The API the UI and the CLI call: ``TriageAssistant`` (model server, knowledge base, cache, settings) and
``Conversation`` (one patient conversation: multi-turn, one transcript, typed streamed events).

    with TriageAssistant(AssistantSettings(top_k=5)) as assistant:
        conversation = assistant.conversation()
        async for event in conversation.ask_stream("가슴이 조이고 식은땀이 나요"):
            ...  # LanguageEvent, RetrievalEvent, TriageEvent, AnswerDelta..., FinalEvent
        answer = conversation.ask("follow-up question")  # sync convenience

See docs/architecture.md ("The API the UI calls") for the events and fields.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from autogen_agentchat.messages import ModelClientStreamingChunkEvent, StructuredMessage
from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel

from agents.answerer import DEFAULT_MAX_TOKENS, PromptPassages
from agents.events import AnswerDelta, AnyEvent, FinalEvent, LanguageEvent, RetrievalEvent, TriageEvent
from agents.llm import adapter_fingerprint, make_model_client, open_llm_cache, served_models, with_cache
from agents.messages import (
    DraftAnswer,
    FinalAnswer,
    LanguageResult,
    Level,
    PatientTurn,
    RedFlagInfo,
    RetrievalOutcome,
    TriageOutcome,
)
from agents.retriever_agent import DEFAULT_TOP_K, PassageSearch
from agents.team import STAGES, TeamParts, build_team
from agents.transcript import TranscriptWriter, default_transcript_dir
from agents.translator import translate_turn
from agents.triage_agent import TriageAgent, TriageFn, default_triage
from agents.verifier import Verifier

log = logging.getLogger(__name__)
EMBEDDED_MODEL = "gemma3-270m"


@dataclass
class AssistantSettings:
    """What a deployment can change; the defaults are the embedded, offline setup."""

    base_url: str | None = None  # OpenAI-compatible /v1 URL; None: start the embedded llama.cpp server
    model: str | None = None  # served model id; None: the first id the server lists
    api_key: str = "x"
    top_k: int = DEFAULT_TOP_K
    cache: bool = True  # ChatCompletionCache on a diskcache in cache_dir
    cache_dir: Path | None = None  # default data_dir("llm_cache")
    transcripts: bool = True
    transcript_dir: Path | None = None  # default data_dir("transcripts")
    max_tokens: int = DEFAULT_MAX_TOKENS
    timeout_s: float = 45.0  # for the whole answer (connection, prompt and decoding)
    chroma_path: Path | None = None  # embedded Chroma store; default data_dir("chroma")
    prompt_passages: PromptPassages = "topic"  # what the model reads: the best topic's passages, or all
    chroma_host: str | None = None  # a Chroma server instead of the embedded store
    chroma_port: int | None = None


class AssistantStatus(BaseModel):
    """Health of the pieces the assistant needs (``TriageAssistant.status()``)."""

    model_ready: bool
    base_url: str | None
    model_id: str | None
    adapter: str | None
    model_error: str | None
    knowledge_ready: bool
    documents: int
    topics: int
    knowledge_error: str | None
    cache: bool
    transcript_dir: str | None


class TriageAssistant:
    """Owns the model server (embedded or remote), the knowledge base, the LLM cache and the settings."""

    def __init__(self, settings: AssistantSettings | None = None, *, retriever: PassageSearch | None = None,
                 triage_fn: TriageFn | None = None, verifier: Verifier | None = None,
                 client_factory: Callable[[], ChatCompletionClient] | None = None) -> None:
        """``retriever``, ``triage_fn``, ``verifier`` and ``client_factory`` replace the real ones (tests)."""
        self.settings = settings or AssistantSettings()
        self.base_url = self.settings.base_url
        self.model_id = self.settings.model
        self.adapter: str | None = None
        self.model_error: str | None = None
        self._adapter_path: Path | None = None
        self._client_factory = client_factory
        self._retriever = retriever
        self._retriever_error: str | None = None
        self._retriever_lock = threading.Lock()
        self._server: Any = None
        self._cache: Any = None
        self._topics = (-1, 0)  # (chunk count, topic count) when last counted
        self.parts = TeamParts(retriever=self.retriever, triage_fn=triage_fn, verifier=verifier or Verifier(),
                               top_k=self.settings.top_k, prompt_passages=self.settings.prompt_passages)

    # -- life cycle --------------------------------------------------------------------------------------------

    def start(self) -> TriageAssistant:
        """Start the embedded model server if no base URL is set, and open the cache. Never raises for a model
        that cannot be served: the assistant then answers from the passages (``status().model_error``)."""
        if self.settings.cache and self._cache is None:
            self._cache = open_llm_cache(self.settings.cache_dir)
        if self._client_factory is None and self.base_url is None and self._server is None:
            self._start_embedded()
        self._warm_up()
        return self

    def _warm_up(self) -> None:
        """Open the knowledge base and load the embedding and triage models now, not in the first turn."""
        try:
            self.retriever().search("warm-up", k=1)
        except Exception as exc:  # reported by status() and by each turn's retrieval
            log.warning("knowledge base not available: %s", exc)
        try:
            (self.parts.triage_fn or default_triage())("warm-up")
        except Exception as exc:  # each turn reports it again (and is treated as urgent)
            log.warning("triage not available: %s: %s", type(exc).__name__, exc)

    def _start_embedded(self) -> None:
        from finetune.adapters import default_adapter
        from finetune.server import ModelServer, ServeError

        self._adapter_path = default_adapter()
        server = ModelServer(engine="llamacpp", model=EMBEDDED_MODEL, adapter=self._adapter_path)
        try:
            server.start()
        except ServeError as exc:
            self.model_error = f"the embedded model server could not start: {exc}"
            log.warning(self.model_error)
            return
        self._server = server
        self.base_url, self.model_id = server.base_url, self.model_id or server.model_id
        self.adapter = self._adapter_path.name if self._adapter_path else None

    def close(self) -> None:
        """Stop the embedded server (if this assistant started it) and close the cache."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> TriageAssistant:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> TriageAssistant:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.close)

    # -- parts ---------------------------------------------------------------------------------------------------

    def retriever(self) -> PassageSearch:
        """The knowledge-base retriever, opened (and built on first use) once; raises if it cannot be."""
        with self._retriever_lock:
            if self._retriever is None:
                from knowledge.retrieval import Retriever

                try:
                    self._retriever = Retriever(path=self.settings.chroma_path, host=self.settings.chroma_host,
                                                port=self.settings.chroma_port)
                    self._retriever_error = None
                except Exception as exc:
                    self._retriever_error = str(exc)
                    raise
            return self._retriever

    def model_client(self) -> tuple[ChatCompletionClient | None, str | None]:
        """A fresh model client for one turn (bound to the running event loop), behind the cache when it is on;
        or None and the reason no model can answer."""
        if self._client_factory is not None:
            client = self._client_factory()
        elif self.base_url is None:
            return None, self.model_error or "no model server"
        else:
            if self.model_id is None:
                try:
                    self.model_id = served_models(self.base_url, api_key=self.settings.api_key)[0]
                except Exception as exc:
                    return None, f"the language model server at {self.base_url} is not reachable " \
                                 f"({type(exc).__name__})"
            client = make_model_client(self.base_url, self.model_id, timeout=self.settings.timeout_s,
                                       api_key=self.settings.api_key)
        if self._cache is None:
            return client, None
        return with_cache(client, self._cache, f"{self.model_id}|{adapter_fingerprint(self._adapter_path)}"), None

    def status(self) -> AssistantStatus:
        """Whether the model server answers and the knowledge base opens (may build it on first use)."""
        model_ready, model_error = False, self.model_error
        if self._client_factory is not None:
            model_ready, model_error = True, None
        elif self.base_url:
            try:
                ids = served_models(self.base_url, api_key=self.settings.api_key)
                model_ready = self.model_id in ids if self.model_id else bool(ids)
                model_error = None if model_ready else f"model {self.model_id!r} is not served at {self.base_url}"
            except Exception as exc:
                model_error = f"the language model server at {self.base_url} is not reachable ({type(exc).__name__})"
        documents = topics = 0
        knowledge_error = None
        try:
            store = getattr(self.retriever(), "store", None)
            if store is not None:
                documents = store.count()
                if self._topics[0] != documents:  # counting topics reads every chunk's metadata: only on change
                    self._topics = (documents, len(store.distinct("topic_id")))
                topics = self._topics[1]
        except Exception as exc:
            knowledge_error = self._retriever_error or str(exc)
        return AssistantStatus(
            model_ready=model_ready, base_url=self.base_url, model_id=self.model_id, adapter=self.adapter,
            model_error=model_error, knowledge_ready=knowledge_error is None, documents=documents, topics=topics,
            knowledge_error=knowledge_error, cache=self.settings.cache,
            transcript_dir=str(self.transcript_dir()) if self.settings.transcripts else None,
        )

    def transcript_dir(self) -> Path:
        return self.settings.transcript_dir or default_transcript_dir()

    def conversation(self, conversation_id: str | None = None) -> Conversation:
        """A new conversation (id: random hex unless given; letters, digits, '-' and '_' only)."""
        return Conversation(self, conversation_id or uuid.uuid4().hex)


class Conversation:
    """One patient conversation: turns share context, the triage level never goes down, one transcript."""

    def __init__(self, assistant: TriageAssistant, conversation_id: str) -> None:
        self.assistant = assistant
        self.id = conversation_id
        settings = assistant.settings
        self._transcript = TranscriptWriter(assistant.transcript_dir(), conversation_id) if settings.transcripts \
            else None
        self.answers: list[FinalAnswer] = []
        self.level: Level | None = None
        self.red_flags: list[RedFlagInfo] = []
        self._patient_turns: list[str] = []
        self._previous: tuple[str, str] | None = None
        self._busy = False

    @property
    def transcript_path(self) -> Path | None:
        return self._transcript.path if self._transcript else None

    def _record(self, event: str, **fields: Any) -> None:
        if self._transcript is not None:
            self._transcript.write(event, **fields)

    async def ask_stream(self, text: str, *, age: int | None = None, sex: str | None = None,
                         pregnant: bool | None = None) -> AsyncIterator[AnyEvent]:
        """Answer one patient message; yields the events of docs/architecture.md, ending with ``FinalEvent``.
        Faults (model or knowledge base down, bad input) end in a ``FinalEvent`` too, never an exception."""
        if self._busy:
            raise RuntimeError("this conversation is still answering the previous message")
        self._busy = True
        try:
            turn = PatientTurn(
                conversation_id=self.id, turn=len(self.answers) + 1, text=text if isinstance(text, str) else "",
                earlier_turns=list(self._patient_turns), level_floor=self.level,
                previous_question=self._previous[0] if self._previous else None,
                previous_answer=self._previous[1] if self._previous else None,
                earlier_red_flags=list(self.red_flags), age=age, sex=sex, pregnant=pregnant,
            )
            async for event in self._run(turn):
                yield event
        finally:
            self._busy = False

    async def _run(self, turn: PatientTurn) -> AsyncIterator[AnyEvent]:
        started = time.perf_counter()
        assistant, settings = self.assistant, self.assistant.settings
        client, unavailable = assistant.model_client()
        team = build_team(assistant.parts, client, model_id=assistant.model_id, adapter=assistant.adapter,
                          max_tokens=settings.max_tokens, timeout_s=settings.timeout_s, unavailable=unavailable)
        self._record("turn_start", turn=turn.turn, text=turn.text, age=turn.age, sex=turn.sex,
                     pregnant=turn.pregnant, level_floor=turn.level_floor,
                     settings={"base_url": assistant.base_url, "model": assistant.model_id, "top_k": settings.top_k,
                               "cache": settings.cache, "max_tokens": settings.max_tokens})
        payloads: dict[str, BaseModel] = {}
        failure: Exception | None = None
        try:
            task = StructuredMessage[PatientTurn](content=turn, source="patient")
            async for item in team.run_stream(task=task):
                if isinstance(item, ModelClientStreamingChunkEvent):
                    yield AnswerDelta(conversation_id=self.id, turn=turn.turn, agent=item.source, text=item.content)
                elif isinstance(item, StructuredMessage) and item.source in STAGES:
                    payloads[item.source] = item.content
                    self._record("message", turn=turn.turn, agent=item.source, type=type(item.content).__name__,
                                 content=item.content.model_dump())
                    if (event := self._event(item.source, item.content, turn.turn)) is not None:
                        yield event
        except Exception as exc:  # a bug in an agent must not cost the patient the triage and safety lines
            log.error("agent team failed: %s: %s", type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            self._record("error", turn=turn.turn, error=f"{type(exc).__name__}: {exc}")
            failure = exc
        finally:
            if client is not None:
                await client.close()
        if "verifier" not in payloads:
            async for event in self._recover(turn, payloads, failure):
                yield event
        yield self._finish(turn, payloads, started)

    async def _recover(self, turn: PatientTurn, payloads: dict[str, BaseModel], exc: Exception | None
                       ) -> AsyncIterator[AnyEvent]:
        """Fill in the stages the failed run did not reach (triage included) and a templated final answer."""
        parts = self.assistant.parts
        request = payloads.setdefault("translator", translate_turn(turn))
        assert isinstance(request, LanguageResult)
        missing: dict[str, BaseModel] = {}
        if "retriever" not in payloads:
            missing["retriever"] = RetrievalOutcome(query=request.retrieval_query, error="internal error")
        if "triage" not in payloads:
            missing["triage"] = await asyncio.to_thread(TriageAgent(parts.triage_fn).classify, turn, request)
        for stage, content in missing.items():
            payloads[stage] = content
            if (event := self._event(stage, content, turn.turn)) is not None:
                yield event
        retrieval, triage = payloads["retriever"], payloads["triage"]
        assert isinstance(retrieval, RetrievalOutcome) and isinstance(triage, TriageOutcome)
        draft = DraftAnswer(error=f"internal error ({type(exc).__name__ if exc else 'no final answer'})")
        payloads["verifier"] = await asyncio.to_thread(parts.verifier.verify, request, retrieval, triage, draft)

    def _event(self, stage: str, content: BaseModel, turn: int) -> AnyEvent | None:
        common = {"conversation_id": self.id, "turn": turn, "agent": stage,
                  "elapsed_ms": getattr(content, "elapsed_ms", 0.0)}
        if isinstance(content, LanguageResult):
            return LanguageEvent(**common, language=content.language, answer_language=content.answer_language,
                                 supported=content.supported, notices=content.notices)
        if isinstance(content, RetrievalOutcome):
            return RetrievalEvent(**common, sources=content.sources, no_answer=content.no_answer, error=content.error)
        if isinstance(content, TriageOutcome):
            return TriageEvent(**common, level=content.level, level_label=content.level_label,
                               confidence=content.confidence, red_flags=content.red_flags, action=content.action,
                               raised_by_history=content.raised_by_history)
        return None

    def _finish(self, turn: PatientTurn, payloads: dict[str, BaseModel], started: float) -> FinalEvent:
        """Update the conversation, write the turn's summary and build the final event."""
        final, request = payloads["verifier"], payloads["translator"]
        assert isinstance(final, FinalAnswer) and isinstance(request, LanguageResult)
        final = final.model_copy(update={"transcript_path": str(self.transcript_path) if self._transcript else None})
        timings = {stage: float(getattr(payloads.get(stage), "elapsed_ms", 0.0)) for stage in STAGES}
        draft, retrieval, triage = payloads.get("answerer"), payloads.get("retriever"), payloads.get("triage")
        if isinstance(draft, DraftAnswer) and draft.first_token_ms is not None:
            timings["first_token"] = draft.first_token_ms
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        if not request.empty:
            self._patient_turns.append(request.triage_text)
            self._previous = (request.question, final.body)
            self.level = final.level
            self.red_flags = list(final.red_flags)
        self.answers.append(final)
        self._record(
            "turn_end", turn=turn.turn, timings=timings, model_id=final.model_id, adapter=final.adapter,
            cached=isinstance(draft, DraftAnswer) and draft.cached,
            retrieved=[{"citation_id": c, "score": s} for c, s in retrieval.candidates]
            if isinstance(retrieval, RetrievalOutcome) else [],
            triage=triage.model_dump(include={"level", "message_level", "confidence", "red_flags",
                                              "raised_by_history", "error"}) if triage else None,
            verdicts=[v.model_dump() for v in final.verdicts], fallback=final.fallback,
            fallback_reason=final.fallback_reason, answer=final.text,
        )
        return FinalEvent(conversation_id=self.id, turn=turn.turn, agent="verifier",
                          elapsed_ms=timings["verifier"], answer=final, timings=timings)

    async def ask_async(self, text: str, **patient: Any) -> FinalAnswer:
        """``ask_stream`` without the intermediate events: the verified answer."""
        final: FinalAnswer | None = None
        async for event in self.ask_stream(text, **patient):
            if isinstance(event, FinalEvent):
                final = event.answer
        assert final is not None
        return final

    def ask(self, text: str, **patient: Any) -> FinalAnswer:
        """Synchronous ``ask_async`` (for scripts and the CLI; inside an event loop use ``ask_stream``)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ask_async(text, **patient))
        raise RuntimeError("Conversation.ask() cannot run inside an event loop; use ask_stream() or ask_async()")
