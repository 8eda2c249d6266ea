"""Identifier redaction: resident registration numbers, phone numbers, e-mail addresses."""

import pytest

from agents.redaction import redact, redact_data


@pytest.mark.parametrize(("text", "expected"), [
    ("주민등록번호 900101-1234567 입니다", "주민등록번호 [RRN] 입니다"),
    ("RRN 9001012234567", "RRN [RRN]"),
    ("휴대폰 010-1234-5678", "휴대폰 [PHONE]"),
    ("call 01012345678", "call [PHONE]"),
    ("office 02-123-4567", "office [PHONE]"),
    ("(031) 123 4567", "[PHONE]"),
    ("+82 10 1234 5678", "[PHONE]"),
    ("+82-2-123-4567", "[PHONE]"),
    ("write to kim.minji+trial@hospital.co.kr", "write to [EMAIL]"),
])
def test_identifiers_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "call 119 or the crisis line 109, or 1339",
    "since 2024-05-01, temperature 38.5, BP 120/80, age 45",
    "3 tablets of 500 mg every 6 hours",
])
def test_clinical_numbers_and_service_numbers_stay(text: str) -> None:
    assert redact(text) == text


def test_nested_data_is_redacted_keys_included() -> None:
    data = {"text": "010-1234-5678", "items": [{"a@b.com": ("900101-1234567", 3)}], "n": 1}
    assert redact_data(data) == {"text": "[PHONE]", "items": [{"[EMAIL]": ["[RRN]", 3]}], "n": 1}
