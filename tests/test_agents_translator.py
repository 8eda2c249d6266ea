"""Translator agent: language, normalisation, redaction, length limits and follow-up context."""

import asyncio

from agents_fakes import run_agent, structured

from agents.messages import LanguageResult, PatientTurn
from agents.translator import (
    MAX_QUESTION_CHARS,
    MAX_TRIAGE_CHARS,
    TranslatorAgent,
    matches_language,
    normalise,
    translate_turn,
)


def _turn(text: str, **fields: object) -> PatientTurn:
    return PatientTurn(conversation_id="c", turn=1, text=text, **fields)  # type: ignore[arg-type]


def test_korean_and_english_are_answered_in_kind() -> None:
    ko = translate_turn(_turn("갑자기  한쪽 팔에 힘이 빠져요\u200b"))
    assert (ko.language, ko.answer_language, ko.supported) == ("ko", "ko", True)
    assert ko.question == "갑자기 한쪽 팔에 힘이 빠져요"
    en = translate_turn(_turn("I have chest pain and I am sweating"))
    assert (en.language, en.answer_language, en.supported, en.notices) == ("en", "en", True, [])


def test_other_languages_get_english_with_a_bilingual_note() -> None:
    result = translate_turn(_turn("Tengo dolor de cabeza muy fuerte desde esta mañana y no puedo dormir"))
    assert result.answer_language == "en" and not result.supported
    assert "English or Korean" in result.notices[0] and "한국어" in result.notices[0]


def test_empty_input_is_flagged_with_a_notice() -> None:
    result = translate_turn(_turn("  \n\t "))
    assert result.empty and result.question == "" and result.notices


def test_huge_input_is_truncated_with_a_clear_notice() -> None:
    text = "I have a headache. " * 1500  # 28,500 characters
    result = translate_turn(_turn(text))
    assert len(result.question) == MAX_QUESTION_CHARS
    assert len(result.triage_text) == MAX_TRIAGE_CHARS
    assert any("characters" in n for n in result.notices) and len(result.notices) == 2


def test_identifiers_are_redacted_before_anything_else_sees_them() -> None:
    result = translate_turn(_turn("제 주민번호는 900101-1234567이고 전화는 010-1234-5678이에요. 머리가 아파요"))
    assert "1234567" not in result.question and "[RRN]" in result.question and "[PHONE]" in result.triage_text


def test_follow_up_uses_earlier_turns_for_retrieval_and_language() -> None:
    result = translate_turn(_turn("38.5", earlier_turns=["아이가 열이 나요", "기침도 해요"]))
    assert result.answer_language == "ko"
    assert result.retrieval_query.startswith("38.5") and "아이가 열이 나요" in result.retrieval_query


def test_matches_language() -> None:
    assert matches_language("뇌졸중은 응급 상황입니다 [1].", "ko")
    assert not matches_language("Stroke is an emergency [1].", "ko")
    assert matches_language("Call 119 now.", "en") and not matches_language("119에 전화하세요.", "en")
    assert matches_language("[1] 119", "en")


def test_normalise_collapses_control_characters() -> None:
    assert normalise("a\x00b\u202ec  d") == "a b c d"


def test_agent_answers_with_a_language_result() -> None:
    content, events = asyncio.run(run_agent(TranslatorAgent(), structured(_turn("Fever and a stiff neck"))))
    assert isinstance(content, LanguageResult) and content.answer_language == "en" and events == []
