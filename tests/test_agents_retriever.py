"""Retriever agent: numbered sources in the answer language, no-answer and store failures."""

import asyncio

from agents_fakes import BrokenRetriever, FakeRetriever, run_agent, structured

from agents.messages import PatientTurn, RetrievalOutcome
from agents.retriever_agent import RetrieverAgent
from agents.translator import translate_turn


def _request(text: str):
    return translate_turn(PatientTurn(conversation_id="c", turn=1, text=text))


def test_sources_are_numbered_in_the_answer_language_with_top_k() -> None:
    retriever = FakeRetriever()
    agent = RetrieverAgent(retriever, top_k=2)
    content, _ = asyncio.run(run_agent(agent, structured(_request("한쪽 얼굴이 처져요"))))
    assert isinstance(content, RetrievalOutcome) and not content.no_answer
    assert [s.n for s in content.sources] == [1, 2] and all(s.language == "ko" for s in content.sources)
    assert content.sources[0].heading == "증상" and content.threshold == FakeRetriever.threshold
    assert retriever.queries == [("한쪽 얼굴이 처져요", 2, "ko")]
    assert content.candidates[0] == ("stroke#ko-symptoms-0", 0.97)


def test_nothing_relevant_means_no_sources() -> None:
    content = RetrieverAgent(FakeRetriever()).retrieve(_request("What is the weather tomorrow?"))
    assert content.no_answer and content.sources == [] and content.candidates


def test_a_broken_store_is_reported_not_raised() -> None:
    content = RetrieverAgent(BrokenRetriever()).retrieve(_request("I have a fever"))
    assert content.error and "chroma is down" in content.error and content.sources == []


def test_empty_question_is_not_searched_and_factory_is_lazy() -> None:
    opened: list[int] = []

    def factory() -> FakeRetriever:
        opened.append(1)
        return FakeRetriever()

    agent = RetrieverAgent(factory)
    assert agent.retrieve(_request("   ")).sources == [] and opened == []
    agent.retrieve(_request("sore throat"))
    agent.retrieve(_request("sore throat again"))
    assert opened == [1]
