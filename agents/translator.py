"""Translator agent: the patient's language, the normalised question, and the language of the answer.

Korean and English are answered in kind; any other language gets an English answer with a polite note in
English and Korean (triage and sources still run). The message is NFKC-normalised, stripped of control
characters, redacted (``agents.redaction``) and length-limited: ``MAX_QUESTION_CHARS`` for retrieval and
the prompt, ``MAX_TRIAGE_CHARS`` for triage. ``matches_language`` is the check the verifier applies to every
answer sentence, so the final answer is in the patient's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from autogen_agentchat.messages import BaseChatMessage
from autogen_core import CancellationToken

from agents.language import HANGUL, detect_language
from agents.messages import AnswerLanguage, LanguageResult, PatientTurn, latest
from agents.redaction import redact
from agents.stage import StageAgent

MAX_QUESTION_CHARS = 1000  # what the answerer and the retriever see of one message
MAX_TRIAGE_CHARS = 20000  # what triage reads of one message (rules are cheap; red flags can be anywhere)
CONTEXT_TURNS = 2  # earlier patient turns added to a follow-up's retrieval query
CONTEXT_CHARS = 300  # of each of them

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")

NOTICES = {
    "empty": {
        "en": "Please describe your symptoms or ask a health question. / 증상을 설명하거나 건강 질문을 입력해 주세요.",
        "ko": "증상을 설명하거나 건강 질문을 입력해 주세요.",
    },
    "unsupported": {
        "en": "Sorry, I can only answer in English or Korean, so this answer is in English. "
              "/ 죄송합니다. 영어와 한국어로만 답변할 수 있어 영어로 답변합니다.",
    },
    "truncated": {
        "en": "Your message was long ({length:,} characters): the answer uses its first {kept:,} characters.",
        "ko": "메시지가 깁니다({length:,}자). 답변에는 앞부분 {kept:,}자만 사용했습니다.",
    },
    "triage_truncated": {
        "en": "Only the first {kept:,} characters were checked for warning signs.",
        "ko": "위험 징후는 앞부분 {kept:,}자에서만 확인했습니다.",
    },
}


def normalise(text: str) -> str:
    """NFKC, no control or invisible characters, single spaces, identifiers redacted."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text))
    return redact(" ".join(text.split()))


def matches_language(text: str, language: AnswerLanguage) -> bool:
    """Whether ``text`` reads as ``language``: mostly Hangul for ko, (almost) no Hangul for en.

    Citations, digits and punctuation do not count; a text without letters matches either language.
    """
    letters = [c for c in re.sub(r"\[\d+\]", "", text) if c.isalpha()]
    if not letters:
        return True
    share = sum(bool(HANGUL.match(c)) for c in letters) / len(letters)
    return share >= 0.5 if language == "ko" else share <= 0.05


def answer_language(detected: str, earlier_turns: Sequence[str]) -> AnswerLanguage:
    """ko or en for a detected language; undecidable text follows the conversation's earlier turns."""
    if detected in ("ko", "en"):
        return detected  # type: ignore[return-value]
    if detected == "unknown":
        for turn in reversed(earlier_turns):
            earlier = detect_language(turn)
            if earlier in ("ko", "en"):
                return earlier  # type: ignore[return-value]
    return "en"


def retrieval_query(question: str, earlier_turns: Sequence[str]) -> str:
    """The question first (so it survives the retriever's length limit), then recent earlier turns."""
    context = [turn[:CONTEXT_CHARS] for turn in earlier_turns[-CONTEXT_TURNS:]]
    return " ".join([question, *reversed(context)]).strip()


def translate_turn(turn: PatientTurn) -> LanguageResult:
    """The translator's decision for one patient turn (pure function; the agent wraps it)."""
    text = normalise(turn.text)
    detected = detect_language(text) if text else "unknown"
    language = answer_language(detected, turn.earlier_turns)
    supported = detected in ("ko", "en", "unknown")
    notices = []
    if not text:
        notices.append(NOTICES["empty"][language])
    elif not supported:
        notices.append(NOTICES["unsupported"]["en"])
    question = text[:MAX_QUESTION_CHARS]
    if len(text) > MAX_QUESTION_CHARS:
        notices.append(NOTICES["truncated"][language].format(length=len(text), kept=MAX_QUESTION_CHARS))
    if len(text) > MAX_TRIAGE_CHARS:
        notices.append(NOTICES["triage_truncated"][language].format(kept=MAX_TRIAGE_CHARS))
    return LanguageResult(
        language=detected, answer_language=language, supported=supported, question=question,
        retrieval_query=retrieval_query(question, turn.earlier_turns), triage_text=text[:MAX_TRIAGE_CHARS],
        empty=not text, notices=notices,
    )


class TranslatorAgent(StageAgent):
    """Detects the language and normalises the patient's message (no model involved)."""

    output_type = LanguageResult

    def __init__(self, name: str = "translator") -> None:
        super().__init__(name, "Detects the patient's language and normalises the question.")

    async def run_stage(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                        ) -> LanguageResult:
        turn = latest(messages, PatientTurn)
        if turn is None:
            raise ValueError("the translator needs a PatientTurn task")
        return translate_turn(turn)
