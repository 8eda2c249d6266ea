"""``StageAgent``: the AgentChat agent shape every team member shares.

A stage reads the structured messages of the current run, computes one pydantic payload (``output_type``)
and answers with ``StructuredMessage[output_type]``; its own run time goes into the payload's
``elapsed_ms``. Stages keep no state between runs: the task (``PatientTurn``) carries the conversation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any, ClassVar

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken
from pydantic import BaseModel


class StageAgent(BaseChatAgent):
    """Base class: subclasses set ``output_type`` and implement ``run_stage`` (or override the stream)."""

    output_type: ClassVar[type[BaseModel]]

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (StructuredMessage[self.output_type],)  # type: ignore[name-defined]

    async def run_stage(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                        ) -> BaseModel:
        """This stage's payload for the run's ``messages``."""
        raise NotImplementedError

    def respond(self, content: BaseModel, started: float, **timing: Any) -> Response:
        """Wrap ``content`` (with ``elapsed_ms`` since ``started``) as this agent's response."""
        content = content.model_copy(update={"elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
                                             **timing})
        message = StructuredMessage[self.output_type](content=content, source=self.name)  # type: ignore[name-defined]
        return Response(chat_message=message)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                          ) -> Response:
        response: Response | None = None
        async for item in self.on_messages_stream(messages, cancellation_token):
            if isinstance(item, Response):
                response = item
        assert response is not None
        return response

    async def on_messages_stream(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                                 ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        started = time.perf_counter()
        content = await self.run_stage(messages, cancellation_token)
        yield self.respond(content, started)

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Nothing to reset: stages are stateless."""
