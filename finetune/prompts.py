"""Chat formats shared by training data, evaluation and the agents' answerer.

Everything the model is trained on goes through these builders, so the app, ``finetune.evaluate`` and the
training data stay in one format. The answerer format (``answerer_messages``) is the contract with
``agents``: a system message with rules in the user's language, then one user message with the numbered
passages, the triage level and the question. The model answers in that language, cites passages as [n]
and ends its turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Message = dict[str, str]
LANGUAGES = ("en", "ko")
TRIAGE_LEVELS = ("emergency", "urgent", "routine", "self_care")

ANSWERER_SYSTEM = {
    "en": (
        "You are a careful medical information assistant. Answer only from the numbered passages and cite each "
        "statement with its passage number in square brackets, like [1]. If the passages do not answer the "
        "question, say so and suggest asking a doctor or nurse. Answer in English, in two to four short sentences. "
        "You do not diagnose."
    ),
    "ko": (
        "당신은 신중한 의료 정보 도우미입니다. 번호가 붙은 참고 자료만 근거로 답하고, "
        "각 문장 끝에 [1]처럼 자료 번호를 대괄호로 표시하세요. 참고 자료에 답이 없으면 그렇다고 말하고 "
        "의사나 간호사와 상담하도록 안내하세요. 한국어로 두세 문장 정도로 짧게 답하세요. 진단은 하지 않습니다."
    ),
}
_TRIAGE_NAMES = {
    "en": {"emergency": "emergency", "urgent": "urgent", "routine": "routine", "self_care": "self-care"},
    "ko": {"emergency": "응급", "urgent": "긴급", "routine": "일반 진료", "self_care": "자가 관리"},
}
_LABELS = {
    "en": {"passages": "Passages", "triage": "Triage level", "question": "Question"},
    "ko": {"passages": "참고 자료", "triage": "응급도", "question": "질문"},
}
NO_ANSWER = {
    "en": "The passages do not cover this question. Please ask a doctor, nurse or pharmacist.",
    "ko": "참고 자료에는 이 질문에 대한 내용이 없습니다. 의사, 간호사 또는 약사와 상담해 주세요.",
}


def _lang(language: str) -> str:
    return language if language in LANGUAGES else "en"


def format_passage(title: str, section: str, text: str) -> str:
    """One passage as the answerer sees it after its number: ``<title> - <section heading>: <text>``."""
    return f"{title} - {section}: {' '.join(text.split())}"


def answerer_messages(question: str, passages: Sequence[str], triage_level: str | None, language: str) -> list[Message]:
    """System rules + one user turn with numbered passages "[1] ...", the triage level and the question."""
    lang = _lang(language)
    labels = _LABELS[lang]
    lines = [f"{labels['passages']}:"]
    lines += [f"[{i}] {p}" for i, p in enumerate(passages, 1)]
    if triage_level:
        lines += ["", f"{labels['triage']}: {_TRIAGE_NAMES[lang].get(triage_level, triage_level)}"]
    lines += ["", f"{labels['question']}: {question.strip()}"]
    return [{"role": "system", "content": ANSWERER_SYSTEM[lang]}, {"role": "user", "content": "\n".join(lines)}]


_MCQ_INSTRUCTION = {
    "en": "Answer the following medical exam question. Reply with the letter and text of the correct option.",
    "ko": "다음 의학 시험 문제의 정답을 고르세요. 정답 보기의 기호와 내용을 답하세요.",
}


def mcq_prompt(question: str, options: Mapping[str, str], language: str) -> list[Message]:
    """A multiple-choice question with lettered options, as one user turn."""
    body = "\n".join(f"{key}. {text}" for key, text in options.items())
    return [{"role": "user", "content": f"{_MCQ_INSTRUCTION[_lang(language)]}\n\n{question.strip()}\n\n{body}"}]


def mcq_answer(key: str, text: str) -> str:
    """The assistant's reply to ``mcq_prompt``: ``B. option text`` (scored by ``finetune.evaluate``)."""
    return f"{key}. {text}"


_PUBMEDQA_LABEL = {
    "en": "Read the abstract and answer the research question with yes, no or maybe.",
    "ko": "초록을 읽고 연구 질문에 yes, no, maybe 중 하나로 답하세요.",
}
_PUBMEDQA_LONG = {
    "en": "Read the abstract and answer the research question in one or two sentences.",
    "ko": "초록을 읽고 연구 질문에 한두 문장으로 답하세요.",
}
PUBMEDQA_LABELS = ("yes", "no", "maybe")


def pubmedqa_prompt(question: str, contexts: Sequence[str], language: str, long_answer: bool = False) -> list[Message]:
    """A PubMedQA item: abstract (contexts) + question; asks for the label or for a long answer."""
    lang = _lang(language)
    instruction = (_PUBMEDQA_LONG if long_answer else _PUBMEDQA_LABEL)[lang]
    abstract = "\n".join(c.strip() for c in contexts)
    content = f"{instruction}\n\n{abstract}\n\n{_LABELS[lang]['question']}: {question.strip()}"
    return [{"role": "user", "content": content}]


_TRANSLATE = {
    ("en", "ko"): "Translate the following medical text into Korean.",
    ("ko", "en"): "다음 의료 문서를 영어로 번역하세요.",
}


def translation_prompt(text: str, source: str, target: str) -> list[Message]:
    """KO<->EN translation request (instruction in the source language)."""
    return [{"role": "user", "content": f"{_TRANSLATE[(source, target)]}\n\n{text.strip()}"}]
