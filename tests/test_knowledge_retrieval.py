"""Retriever through a real embedded Chroma store of the fixture corpus (4 topics x en/ko)."""

import logging
from pathlib import Path

import pytest
from knowledge_fixtures import CORPUS, FILES, copy_corpus

from knowledge.ingest import Ingestor
from knowledge.lexical import LexicalIndex
from knowledge.retrieval import (
    MAX_QUERY_TOKENS,
    QueryError,
    Retriever,
    asked_sections,
    ensure_default_collection,
    load_calibration,
    prepare_query,
)
from knowledge.store import KnowledgeStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeStore:
    store = KnowledgeStore.open(tmp_path_factory.mktemp("kb") / "chroma")
    assert Ingestor(store, progress=False).ingest_bundled(CORPUS).ok
    return store


@pytest.fixture(scope="module")
def retriever(store: KnowledgeStore) -> Retriever:
    return Retriever(store)


def test_korean_symptoms_find_the_topic_with_korean_passages(retriever: Retriever) -> None:
    result = retriever.search("가슴이 꽉 조이고 식은땀이 나요", k=3)
    top = result.passages[0]
    assert top.topic_id == "heart-attack" and top.language == "ko" and top.urgency == "emergency"
    assert top.citation_id.startswith("heart-attack/ko/") and top.source == "authored"
    assert top.title == "심근경색과 심장성 흉통" and top.score == result.best_score
    assert [p.topic_id for p in result.passages[:2]] == ["heart-attack"] * 2  # the best topic gives two
    assert len({p.topic_id for p in result.passages}) == 2 and len(result.passages) == 3


@pytest.mark.parametrize(("query", "language", "topic"), [
    ("가슴이 꽉 조이고 식은땀이 나요", "en", "heart-attack"),
    ("my kid has a barking cough at night", "ko", "epiglottitis-and-croup"),
    ("피부가 빨갛게 익고 따가워요", "en", "sunburn"),
    ("runny nose and sneezing", "ko", "common-cold"),
])
def test_cross_lingual_search_returns_the_requested_language(retriever: Retriever, query: str, language: str,
                                                            topic: str) -> None:
    result = retriever.search(query, k=4, language=language)
    assert result.passages[0].topic_id == topic
    assert {p.language for p in result.passages} == {language}


def test_cross_lingual_passages_follow_the_matched_section(retriever: Retriever) -> None:
    """The English section whose Korean twin matched comes first."""
    korean = retriever.search("언제 119에 전화해야 하나요 가슴 통증", k=1).passages[0]
    english = retriever.search("언제 119에 전화해야 하나요 가슴 통증", k=1, language="en").passages[0]
    assert korean.section == english.section == "when_to_seek_care"


def test_section_filter(retriever: Retriever) -> None:
    result = retriever.search("chest pain and sweating", k=3, section="when_to_seek_care")
    assert result.passages[0].topic_id == "heart-attack"
    assert {p.section for p in result.passages} == {"when_to_seek_care"}
    both = retriever.search("chest pain", k=2, language="ko", section="symptoms")
    assert {(p.language, p.section) for p in both.passages} == {("ko", "symptoms")}


@pytest.mark.parametrize(("query", "language", "section"), [
    ("sunburn, what can I do at home?", None, "self_care"),
    ("햇볕에 탔는데 집에서 어떻게 해야 하나요", "en", "self_care"),
    ("how can I prevent sunburn", "ko", "prevention"),
    ("when should I see a doctor for chest pain", None, "when_to_seek_care"),
])
def test_questions_asking_for_a_section_get_it_first(retriever: Retriever, query: str, language: str | None,
                                                      section: str) -> None:
    result = retriever.search(query, k=2, language=language)
    assert result.passages[0].section == section
    assert result.passages[0].score <= result.best_score  # scores stay the relevance the threshold is about


def test_section_intents_in_both_languages() -> None:
    assert asked_sections("sore throat, what can I do at home") == {"self_care"}
    assert asked_sections("how do I treat a sprain at home") == {"self_care", "treatment"}
    assert asked_sections("목이 아픈데 집에서 어떻게 하면 좋아질까요") == {"self_care"}
    assert asked_sections("편두통은 왜 생기나요") == {"causes"}
    assert asked_sections("is this serious? should I go to the hospital") == {"when_to_seek_care"}
    for plain in ["가슴이 꽉 조이고 식은땀이 나요", "어린이집에서 수족구가 돌아요", "독감 예방접종 맞고 열이 나요",
                  "항암 치료 중인데 열이 나요", "how do I use a preventer inhaler"]:
        assert asked_sections(plain) == frozenset(), plain


def test_english_words_are_matched_whole_beside_character_ngrams() -> None:
    texts = ["Heartburn is a burning feeling from stomach acid.", "Minor burns: cool the burn under running water.",
             "속쓰림은 위산 때문입니다."]
    chars, words = LexicalIndex(texts).scores("heartburn"), LexicalIndex(texts, words=True).scores("heartburn")
    assert chars[1] > 0 and words[1] == 0 and words[0] > 0  # n-grams share "burn"; words do not
    assert LexicalIndex(texts, words=True).scores("속쓰림").tolist() == [0, 0, 0]  # Korean: n-grams only
    assert LexicalIndex(["가슴", "12"], words=True).scores("chest").tolist() == [0, 0]  # no English word at all


def test_threshold_separates_off_topic_queries(store: KnowledgeStore) -> None:
    probe = Retriever(store)
    on_topic = probe.search("sunburn after the beach").best_score
    off_topic = probe.search("how do I change the oil in my car").best_score
    assert off_topic < on_topic
    strict = Retriever(store, threshold=(on_topic + off_topic) / 2)
    assert strict.search("how do I change the oil in my car").no_answer
    assert not strict.search("sunburn after the beach").no_answer
    assert probe.threshold == load_calibration().get("threshold", probe.threshold)


def test_bad_queries_and_filters_raise_clear_errors(retriever: Retriever) -> None:
    for query in ["", "   \n\t"]:
        with pytest.raises(QueryError, match="empty query"):
            retriever.search(query)
    with pytest.raises(QueryError, match="unknown language 'fr'"):
        retriever.search("fever", language="fr")
    with pytest.raises(QueryError, match="unknown section 'history'"):
        retriever.search("fever", section="history")
    with pytest.raises(QueryError, match="k must be"):
        retriever.search("fever", k=0)


@pytest.mark.timeout(120)
def test_a_50k_character_query_is_truncated_with_a_notice(retriever: Retriever,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    query = "my chest feels tight and I am sweating " * 1300
    assert len(query) > 50_000
    with caplog.at_level(logging.WARNING):
        result = retriever.search(query)
    assert result.notices and "query truncated from" in result.notices[0] and "truncated" in caplog.text
    assert result.passages[0].topic_id == "heart-attack"
    text, notices = prepare_query("가" * 5000)
    assert len(text) < 400 and notices
    assert prepare_query("  short   query ") == ("short query", [])
    assert MAX_QUERY_TOKENS <= 512


def test_new_chunks_are_picked_up_without_a_restart(tmp_path: Path) -> None:
    store = KnowledgeStore.open(tmp_path / "chroma")
    retriever = Retriever(store)
    empty = retriever.search("gout in the big toe")
    assert empty.no_answer and empty.passages == [] and "empty" in empty.notices[0]
    Ingestor(store, progress=False).ingest_paths([FILES / "notes.md"])
    retriever.refresh()
    Ingestor(store, progress=False).ingest_bundled(CORPUS)
    assert retriever.chunk_count() < store.count()
    assert retriever.search("빨갛게 익은 피부").passages[0].topic_id == "sunburn"  # a new chunk in the results
    assert retriever.chunk_count() == store.count()
    assert {"notes", "sunburn"} <= retriever.topic_ids()


def test_ensure_default_collection_builds_once_and_follows_corpus_changes(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    store = ensure_default_collection(tmp_path / "chroma", corpus_dir=corpus)
    count = store.count()
    assert count > 20
    ids_before = set(store.ids_where({"topic_id": "sunburn"}))
    assert ensure_default_collection(tmp_path / "chroma", corpus_dir=corpus).count() == count
    page = corpus / "ko" / "sunburn.md"
    page.write_text(page.read_text().replace("보습제를 바르세요", "알로에 젤을 바르세요"), encoding="utf-8")
    updated = ensure_default_collection(tmp_path / "chroma", corpus_dir=corpus)
    assert updated.count() == count and set(updated.ids_where({"topic_id": "sunburn"})) != ids_before
    assert Retriever(updated).search("알로에 젤", language="ko").passages[0].topic_id == "sunburn"
