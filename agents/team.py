"""The five-agent AutoGen team as a ``GraphFlow`` with fixed edges (no model picks the next speaker):

    translator -> retriever -> triage -> answerer -> verifier

The task is a ``StructuredMessage[PatientTurn]``; each agent answers with its payload from
``agents.messages`` and the verifier's ``FinalAnswer`` ends the run. Build one team per turn (about a
millisecond): the agents are stateless, the conversation lives in the task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from autogen_agentchat.messages import StructuredMessage
from autogen_agentchat.teams import DiGraphBuilder, GraphFlow
from autogen_core.models import ChatCompletionClient

from agents.answerer import DEFAULT_MAX_TOKENS, DEFAULT_TIMEOUT_S, AnswererAgent, PromptPassages
from agents.messages import PatientTurn
from agents.retriever_agent import DEFAULT_TOP_K, PassageSearch, RetrieverAgent
from agents.translator import TranslatorAgent
from agents.triage_agent import TriageAgent, TriageFn
from agents.verifier import Verifier, VerifierAgent

STAGES = ("translator", "retriever", "triage", "answerer", "verifier")


@dataclass
class TeamParts:
    """What the agents share across turns: the knowledge base, triage and the verifier's scorer."""

    retriever: PassageSearch | Callable[[], PassageSearch]
    triage_fn: TriageFn | None = None
    verifier: Verifier = field(default_factory=Verifier)
    top_k: int = DEFAULT_TOP_K
    prompt_passages: PromptPassages = "topic"


def build_team(parts: TeamParts, model_client: ChatCompletionClient | None, *, model_id: str | None = None,
               adapter: str | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, timeout_s: float = DEFAULT_TIMEOUT_S,
               unavailable: str | None = None) -> GraphFlow:
    """One team run's ``GraphFlow``; ``model_client`` None (``unavailable`` says why) gives templated answers."""
    agents = [
        TranslatorAgent(),
        RetrieverAgent(parts.retriever, parts.top_k),
        TriageAgent(parts.triage_fn),
        AnswererAgent(model_client, model_id, adapter, max_tokens, timeout_s, unavailable, parts.prompt_passages),
        VerifierAgent(parts.verifier),
    ]
    builder = DiGraphBuilder()
    for agent in agents:
        builder.add_node(agent)
    for source, target in zip(agents, agents[1:], strict=False):
        builder.add_edge(source, target)
    return GraphFlow(builder.get_participants(), graph=builder.build(),
                     custom_message_types=[StructuredMessage[PatientTurn]])
