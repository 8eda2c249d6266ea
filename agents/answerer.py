"""Answerer agent: the locally served LoRA model, prompted exactly as it is trained (``answerer_messages``).

The prompt is ``finetune.prompts.answerer_messages(question, passages, triage_level, language)``; on a
follow-up the previous question and verified answer come first as one user/assistant pair. The reply is
streamed (``ModelClientStreamingChunkEvent`` per chunk) under an overall timeout and ``max_tokens``. The
model is not asked when there is nothing to answer from (empty question, no passages). Any model failure
becomes ``DraftAnswer.error``: the verifier then answers from the passages.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Literal

import httpx
import openai
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, ModelClientStreamingChunkEvent
from autogen_core import CancellationToken
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    SystemMessage,
    UserMessage,
)

from agents.messages import DraftAnswer, LanguageResult, PatientTurn, RetrievalOutcome, Source, TriageOutcome, latest
from agents.stage import StageAgent
from finetune.prompts import answerer_messages, format_passage

DEFAULT_MAX_TOKENS = 200
DEFAULT_TIMEOUT_S = 60.0
PromptPassages = Literal["topic", "all"]
TOPIC_PASSAGES = 3  # at most this many passages of the best topic in "topic" mode
PREVIOUS_ANSWER_CHARS = 400  # of the previous verified answer, as context for a follow-up
# A model that starts repeating the prompt's labels is echoing, not answering: the server stops there (at most
# four stop strings, the OpenAI limit).
STOP = {"en": ["\nPassages:", "\nTriage level:", "\nQuestion:"], "ko": ["\n참고 자료:", "\n응급도:", "\n질문:"]}


def prompt_sources(sources: Sequence[Source], mode: PromptPassages = "topic") -> list[Source]:
    """The sources the model reads: all of them, or ("topic") the leading passages of the best-ranked topic.
    A small model quotes whichever passage it is shown, so it gets only the best topic's; sources are grouped
    by topic (``agents.retriever_agent.to_sources``), so these are [1]..[n] and the numbering still holds."""
    if mode == "all" or not sources:
        return list(sources)
    best = sources[0].topic_id
    return list(itertools.takewhile(lambda s: s.topic_id == best, sources))[:TOPIC_PASSAGES]


def build_prompt(turn: PatientTurn, request: LanguageResult, retrieval: RetrievalOutcome,
                 triage: TriageOutcome, mode: PromptPassages = "topic") -> list[LLMMessage]:
    """The answerer's chat messages: the trained format, preceded by the previous exchange on follow-ups."""
    passages = [format_passage(s.title, s.heading, s.text) for s in prompt_sources(retrieval.sources, mode)]
    system, user = answerer_messages(request.question, passages, triage.level, request.answer_language)
    messages: list[LLMMessage] = [SystemMessage(content=system["content"])]
    if turn.previous_question and turn.previous_answer:
        messages += [UserMessage(content=turn.previous_question, source="patient"),
                     AssistantMessage(content=turn.previous_answer[:PREVIOUS_ANSWER_CHARS], source="answerer")]
    messages.append(UserMessage(content=user["content"], source="patient"))
    return messages


def describe_error(exc: BaseException, timeout_s: float) -> str:
    """One line for the transcript and the patient's note."""
    if isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException):
        return f"the language model did not answer within {timeout_s:.0f} s"
    if isinstance(exc, openai.APIConnectionError | httpx.ConnectError | ConnectionError):
        return "the language model server is not reachable"
    return f"the language model failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"


class AnswererAgent(StageAgent):
    """Drafts a cited answer with the served model; streams the draft; never raises on model failure."""

    output_type = DraftAnswer

    def __init__(self, model_client: ChatCompletionClient | None, model_id: str | None = None,
                 adapter: str | None = None, max_tokens: int = DEFAULT_MAX_TOKENS,
                 timeout_s: float = DEFAULT_TIMEOUT_S, unavailable: str | None = None,
                 prompt_passages: PromptPassages = "topic", name: str = "answerer") -> None:
        """``model_client`` None means no model is available (``unavailable`` says why); ``prompt_passages``:
        which retrieved passages the model reads (``prompt_sources``)."""
        super().__init__(name, "Drafts a cited answer from the passages with the local language model.")
        self.model_client = model_client
        self.model_id, self.adapter = model_id, adapter
        self.max_tokens, self.timeout_s = max_tokens, timeout_s
        self.prompt_passages = prompt_passages
        self.unavailable = unavailable or "no language model is configured"

    async def _pump(self, prompt: list[LLMMessage], language: str,
                    queue: asyncio.Queue[str | CreateResult | BaseException | None],
                    cancellation_token: CancellationToken) -> None:
        """Stream the model's reply into ``queue``: chunks, the final result, an exception, then None."""
        assert self.model_client is not None
        try:
            async for item in self.model_client.create_stream(
                prompt, cancellation_token=cancellation_token,
                extra_create_args={"max_tokens": self.max_tokens, "temperature": 0.0, "stop": STOP[language]},
            ):
                if item:
                    queue.put_nowait(item)
        except Exception as exc:
            queue.put_nowait(exc)
        queue.put_nowait(None)

    def _skip_reason(self, request: LanguageResult, retrieval: RetrievalOutcome) -> str | None:
        if request.empty:
            return "empty question"
        if not retrieval.sources:
            return "no relevant passages"
        return None

    async def on_messages_stream(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                                 ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        started = time.perf_counter()
        turn, request = latest(messages, PatientTurn), latest(messages, LanguageResult)
        retrieval, triage = latest(messages, RetrievalOutcome), latest(messages, TriageOutcome)
        if turn is None or request is None or retrieval is None or triage is None:
            raise ValueError("the answerer needs the task, language, retrieval and triage messages")
        draft = DraftAnswer(model_id=self.model_id, adapter=self.adapter)
        skip = self._skip_reason(request, retrieval)
        if skip:
            yield self.respond(draft.model_copy(update={"skipped": skip}), started)
            return
        if self.model_client is None:
            yield self.respond(draft.model_copy(update={"error": self.unavailable}), started)
            return
        chunks: list[str] = []
        first_token_ms: float | None = None
        queue: asyncio.Queue[str | CreateResult | BaseException | None] = asyncio.Queue()
        pump = asyncio.create_task(self._pump(build_prompt(turn, request, retrieval, triage, self.prompt_passages),
                                              request.answer_language, queue, cancellation_token))
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:  # the timeout is applied here, never around a yield
            while (item := await asyncio.wait_for(queue.get(), deadline - asyncio.get_running_loop().time())):
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, CreateResult):
                    usage = item.usage
                    draft = draft.model_copy(update={"cached": item.cached, "prompt_tokens": usage.prompt_tokens,
                                                     "completion_tokens": usage.completion_tokens,
                                                     "truncated": item.finish_reason == "length"})
                    if not chunks and isinstance(item.content, str) and item.content:
                        chunks.append(item.content)
                        yield ModelClientStreamingChunkEvent(content=item.content, source=self.name)
                    continue
                if first_token_ms is None:
                    first_token_ms = round((time.perf_counter() - started) * 1000, 2)
                chunks.append(item)
                yield ModelClientStreamingChunkEvent(content=item, source=self.name)
        except Exception as exc:  # server down, timeout, HTTP error: the verifier falls back to the passages
            draft = draft.model_copy(update={"error": describe_error(exc, self.timeout_s)})
        finally:
            pump.cancel()
        yield self.respond(draft.model_copy(update={"text": "".join(chunks), "chunks": len(chunks)}), started,
                           first_token_ms=first_token_ms)
