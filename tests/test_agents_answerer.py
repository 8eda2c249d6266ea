"""Answerer agent: the trained prompt format, streaming, follow-up context, skips and model failures."""

import asyncio

from agents_fakes import PASSAGES, FailingClient, RecordingClient, run_agent, structured, turn_inputs
from autogen_agentchat.messages import ModelClientStreamingChunkEvent

from agents.answerer import STOP, AnswererAgent, build_prompt, prompt_sources
from agents.messages import DraftAnswer, RetrievalOutcome
from agents.retriever_agent import to_sources
from finetune.prompts import answerer_messages, format_passage


def _run(agent: AnswererAgent, text: str = "My face is drooping", **turn: object):
    task, request, retrieval, triage = turn_inputs(text, **turn)
    return asyncio.run(run_agent(agent, structured(task, request, retrieval, triage)))


def test_prompt_is_exactly_the_trained_answerer_format() -> None:
    client = RecordingClient("A stroke is an emergency [2].")
    content, _ = _run(AnswererAgent(client, model_id="m", max_tokens=123))
    messages, create_args = client.requests[0]
    task, request, retrieval, triage = turn_inputs("My face is drooping")
    passages = [format_passage(s.title, s.heading, s.text) for s in retrieval.sources[:2]]  # the stroke ones
    expected = answerer_messages(request.question, passages, "emergency", "en")
    assert [m.content for m in messages] == [expected[0]["content"], expected[1]["content"]]
    assert "[1] Stroke - Symptoms: Signs of a stroke" in messages[1].content
    assert "Sore throat" not in messages[1].content
    assert create_args == {"max_tokens": 123, "temperature": 0.0, "stop": STOP["en"]}
    assert isinstance(content, DraftAnswer) and content.text == "A stroke is an emergency [2]." and not content.error


def test_the_model_reads_the_best_topic_or_every_passage() -> None:
    _, request, retrieval, triage = turn_inputs("My face is drooping")
    assert [s.n for s in prompt_sources(retrieval.sources)] == [1, 2]
    assert prompt_sources(retrieval.sources, "all") == retrieval.sources
    client = RecordingClient("A stroke is an emergency [2].")
    _run(AnswererAgent(client, prompt_passages="all"))
    assert "[3] Sore throat - Self-care" in client.requests[0][0][1].content


def test_sources_are_grouped_by_topic_in_rank_order() -> None:
    """A topic's passages follow its best one, so the best topic's passages are [1]..[n] for the prompt."""
    stroke, care, throat = PASSAGES["en"]
    assert [s.citation_id for s in to_sources([stroke, throat, care])] == [
        stroke.citation_id, care.citation_id, throat.citation_id]
    assert [s.n for s in to_sources([stroke, throat, care])] == [1, 2, 3]


def test_draft_is_streamed_chunk_by_chunk() -> None:
    content, events = _run(AnswererAgent(RecordingClient("Call 119 now. Do not wait.")))
    chunks = [e.content for e in events if isinstance(e, ModelClientStreamingChunkEvent)]
    assert len(chunks) > 1 and "".join(chunks) == content.text
    assert content.first_token_ms is not None and content.elapsed_ms >= content.first_token_ms


def test_follow_up_puts_the_previous_exchange_before_the_new_turn() -> None:
    _, request, retrieval, triage = turn_inputs("what about my arm?")
    task = turn_inputs("what about my arm?", previous_question="My face droops", previous_answer="Call 119 [1].")[0]
    prompt = build_prompt(task, request, retrieval, triage)
    assert [type(m).__name__ for m in prompt] == ["SystemMessage", "UserMessage", "AssistantMessage", "UserMessage"]
    assert prompt[1].content == "My face droops" and prompt[2].content == "Call 119 [1]."


def test_model_is_not_asked_without_passages() -> None:
    client = RecordingClient("unused")
    task, request, _, triage = turn_inputs("What is the weather?")
    empty = RetrievalOutcome(query="weather", no_answer=True)
    content, _ = asyncio.run(run_agent(AnswererAgent(client), structured(task, request, empty, triage)))
    assert content.skipped == "no relevant passages" and client.requests == []


def test_server_down_becomes_an_error_not_an_exception() -> None:
    content, _ = _run(AnswererAgent(FailingClient()))
    assert content.error == "the language model server is not reachable" and content.text == ""


def test_a_hanging_server_times_out() -> None:
    content, _ = _run(AnswererAgent(FailingClient(hang=5.0), timeout_s=0.2))
    assert content.error and "did not answer within" in content.error and content.elapsed_ms < 4000


def test_no_model_configured() -> None:
    content, _ = _run(AnswererAgent(None, unavailable="the embedded model server could not start"))
    assert content.error == "the embedded model server could not start"
