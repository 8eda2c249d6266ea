"""agents.language.detect_language: Hangul ratio first, English word list, then seeded langdetect."""

import pytest

from agents.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chest pain", "en"),
        ("fever", "en"),
        ("sore throat, scratchy, 1 day, no fever", "en"),
        ("My BP is 180/110 and I have a headache", "en"),
        ("가슴이 아파요", "ko"),
        ("숨이 안 쉬어져요", "ko"),
        ("소변 볼 때 burning이랑 frequency 있어요", "ko"),  # mixed KO/EN with meaningful Hangul
        ("kidney stone 있었는데 그 pain이 또 왔어요. painkiller 먹으니까 좀 괜찮아요. no fever", "ko"),
        ("J'ai mal à la tête depuis trois jours et de la fièvre", "fr"),
        ("Tengo dolor de pecho y fiebre desde ayer", "es"),
        ("头痛发烧", "zh"),
        ("頭が痛いです", "ja"),
        ("Боль в груди и одышка", "ru"),
    ],
)
def test_detects_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "123 456", "!!!", None])
def test_empty_or_letterless_text_is_unknown(text: str | None) -> None:
    assert detect_language(text) == "unknown"


def test_english_word_in_korean_sentence_stays_korean() -> None:
    assert detect_language("어제부터 fever가 있어요") == "ko"


def test_is_deterministic() -> None:
    text = "mal de tête et fièvre depuis hier soir"
    assert len({detect_language(text) for _ in range(5)}) == 1
