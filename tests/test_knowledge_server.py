"""Server mode: a real `chroma run` server (slow), and clear errors when no server answers."""

from pathlib import Path

import pytest
from knowledge_fixtures import CORPUS, FILES, chroma_server, free_port

from knowledge.ingest import Ingestor
from knowledge.ingest import main as ingest_main
from knowledge.retrieval import Retriever
from knowledge.store import KnowledgeStore, StoreError


def test_no_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    with pytest.raises(StoreError, match=rf"cannot reach the Chroma server at http://127.0.0.1:{port}.*chroma run"):
        KnowledgeStore.open(host="127.0.0.1", port=port)
    with pytest.raises(StoreError, match="cannot reach"):
        Retriever(host="127.0.0.1", port=port)
    assert ingest_main([str(FILES / "notes.md"), "--chroma-port", str(port), "--quiet"]) == 2
    assert "error: cannot reach the Chroma server" in capsys.readouterr().err


def test_a_missing_collection_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no collection 'absent-kb'.*python -m knowledge.ingest"):
        KnowledgeStore.open(tmp_path / "chroma", name="absent-kb", create=False)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ingest_and_search_through_a_chroma_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with chroma_server(tmp_path / "server") as (port, process):
        store = KnowledgeStore.open(host="127.0.0.1", port=port, name="fixture-kb")
        assert Ingestor(store, progress=False).ingest_bundled(CORPUS).ok  # the fixture corpus, not the bundled one
        args = ["--chroma-host", "127.0.0.1", "--chroma-port", str(port), "--collection", "fixture-kb", "--quiet"]
        assert ingest_main([str(FILES / "notes.md"), *args]) == 0
        assert "chunks: 3 added" in capsys.readouterr().out

        retriever = Retriever(KnowledgeStore.open(host="127.0.0.1", port=port, name="fixture-kb", create=False))
        result = retriever.search("가슴이 꽉 조이고 식은땀이 나요", k=2, language="en")
        assert [(p.topic_id, p.language) for p in result.passages] == [("heart-attack", "en")] * 2
        assert retriever.search("gout big toe", k=1).passages[0].topic_id == "notes"

        again = Ingestor(store, progress=False).ingest_bundled(CORPUS)
        assert again.chunks_added == 0 and again.chunks_present == store.count() - 3

        process.terminate()
        process.wait(timeout=10)
        with pytest.raises(StoreError, match="knowledge store unavailable"):
            retriever.search("chest pain")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_assistant_reads_the_bundled_knowledge_base_from_a_chroma_server(tmp_path: Path) -> None:
    """--chroma-host/--chroma-port: the assistant builds the bundled corpus on the server once and cites from it
    (no model server here: the answer is the templated one, with triage and sources)."""
    from agents.assistant import AssistantSettings, TriageAssistant

    with chroma_server(tmp_path / "server") as (port, _):
        settings = AssistantSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", cache=False, transcripts=False,
                                     chroma_host="127.0.0.1", chroma_port=port)
        with TriageAssistant(settings) as assistant:
            answer = assistant.conversation().ask("가슴이 쥐어짜듯 아프고 식은땀이 나요")
            assert answer.level == "emergency" and answer.sources and answer.fallback
            assert KnowledgeStore.open(host="127.0.0.1", port=port, create=False).count() > 4000
