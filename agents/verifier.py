"""Verifier agent: only supported, level-consistent sentences reach the patient, with the safety lines first.

For each draft sentence, in order: duplicates, echoes of the question or prompt, sentences not in the
answer language and sentences that contradict the triage level ("you don't need a doctor" on an urgent
case) are dropped; the rest must reach the calibrated support threshold against the passages (e5 cosine
mixed with character n-gram containment, ``agents.support``). Kept sentences get a valid [n] citation.
When the draft fails (model error, nothing supported, or less than ``MIN_SUPPORTED_SHARE`` of it supported)
the answer is templated from the passages (extractive, cited). Emergency answers start with the 119 line,
self-harm adds the 109 crisis line, and every answer carries the level, red flags, cited sources and a
disclaimer in the patient's language.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Sequence

import numpy as np
from autogen_agentchat.messages import BaseChatMessage
from autogen_core import CancellationToken

from agents.messages import (
    AnswerLanguage,
    DraftAnswer,
    FinalAnswer,
    LanguageResult,
    RetrievalOutcome,
    SentenceVerdict,
    Source,
    TriageOutcome,
    latest,
    level_rank,
)
from agents.stage import StageAgent
from agents.support import SupportScorer, citations, clean_draft, split_sentences, strip_citations
from agents.translator import matches_language
from finetune.prompts import NO_ANSWER

MIN_SUPPORTED_SHARE = 0.5  # of the draft's (non-duplicate) sentences, else the templated answer
FALLBACK_SENTENCES = 3
MAX_PER_SOURCE = 2
MIN_FALLBACK_CHARS, MAX_FALLBACK_CHARS = 12, 300
COMPLETE = re.compile(r"[.!?。][\"')\]]*$")  # a real sentence, not a list item (chunks join list items with spaces)
LIST_INTRO = re.compile(r"the following|as follows|다음과 같|다음의|아래와 같", re.IGNORECASE)
ECHO_RATIO = 0.8  # character similarity to the question above which a sentence is an echo
SELF_HARM = re.compile(r"suicid|self[_-]?(?:harm|injur)|자살|자해", re.IGNORECASE)  # red-flag ids
SELF_HARM_TOPICS = {"self-harm", "suicidal-crisis"}
PROMPT_LABELS = re.compile(r"^(?:passages|triage level|question|참고 자료|응급도|질문)\s*:", re.IGNORECASE)

EMERGENCY_LINE = {
    "en": "Call 119 now (emergency services) or go to the nearest emergency department.",
    "ko": "지금 바로 119에 전화하거나 가까운 응급실로 가세요.",
}
CRISIS_LINE = {
    "en": "If you are thinking about harming yourself, call the suicide crisis line 109 now (24 hours, free).",
    "ko": "자해나 자살 생각이 든다면 지금 자살예방상담전화 109(24시간, 무료)에 전화하세요.",
}
LEVEL_LINE = {"en": "Urgency: {label}. {action}", "ko": "응급도: {label}. {action}"}
DISCLAIMER = {
    "en": "This is general health information, not a diagnosis or a substitute for a doctor's advice.",
    "ko": "이 답변은 일반적인 건강 정보이며 진단이나 의사의 진료를 대신하지 않습니다.",
}
FALLBACK_INTRO = {"en": "Here is what the reference material says:", "ko": "참고 자료의 내용은 다음과 같습니다."}
NOTES = {
    "model_error": {
        "en": "The language model could not answer ({error}), so this answer is taken directly from the sources.",
        "ko": "언어 모델이 답변하지 못해 참고 자료의 문장을 그대로 보여 드립니다.",
    },
    "unverified": {
        "en": "The model's answer could not be verified against the sources, so this answer is taken from them.",
        "ko": "모델의 답변을 참고 자료로 확인할 수 없어 참고 자료의 문장을 그대로 보여 드립니다.",
    },
    "dropped": {
        "en": "Statements that the sources do not support were removed.",
        "ko": "참고 자료로 뒷받침되지 않는 내용은 삭제했습니다.",
    },
    "knowledge_error": {
        "en": "The knowledge base is unavailable right now, so no sources can be shown.",
        "ko": "지금은 지식 베이스를 사용할 수 없어 참고 자료를 보여 드릴 수 없습니다.",
    },
}

# Sentences that would talk the patient out of the care their level needs. Keys: the lowest level they contradict.
_CONTRADICTIONS: dict[str, dict[str, list[str]]] = {
    "routine": {
        "en": [
            r"\b(?:do not|don't|dont|does not|doesn't|won't|will not|never) (?:really |even )?need (?:to )?"
            r"(?:see |call |visit |go to |get |seek )?(?:a |an |the |any )?(?:doctor|physician|gp|nurse|hospital|"
            r"clinic|emergency|er|ambulance|119|medical|treatment|care|help)",
            r"\bno need (?:to|for) (?:see|call|visit|go|get|seek|a doctor|medical|treatment|care|help)",
            r"\b(?:avoid|skip) (?:seeing |calling |going to )?(?:a |the )?(?:doctor|hospital|119|emergency)",
        ],
        "ko": [
            r"(?:병원|의사|진료|치료|119|응급실|응급 ?센터)[^.!?]{0,15}"
            r"(?:필요(?:가|는|도)? ?없|안 ?(?:가도|받아도) ?(?:돼|되))",
            r"(?:병원|응급실)에 ?(?:가지|갈 필요|가실 필요)",
        ],
    },
    "urgent": {
        "en": [
            r"\b(?:nothing|no need) to worry",
            r"\bnot (?:serious|an emergency|urgent|dangerous|a concern)\b",
            r"\b(?:is|are|it's|this is) (?:harmless|nothing serious|normal and harmless)\b",
            r"\bwait and see\b",
            r"\b(?:can|could|should|may) (?:safely |just )?wait\b",
            r"\bstay (?:at )?home\b",
            r"\bself[- ]care is (?:enough|sufficient|all)",
            r"\b(?:go away|pass|get better|settle) on (?:its|their) own",
        ],
        "ko": [
            r"걱정(?:하지 ?않으셔도|할 ?필요(?:가|는)? ?없|하지 ?마)",
            r"심각하지 ?않",
            r"응급(?:이|상황이|은) ?아니",
            r"기다려 ?(?:보|도)",
            r"지켜보(?:세요|셔도|면 ?됩)",
            r"저절로 ?(?:좋아|나아|사라|낫)",
            r"집에서 ?쉬(?:면|세요)",
        ],
    },
    "emergency": {
        "en": [
            r"\b(?:make|book|schedule) an appointment\b",
            r"\bin (?:a|the) (?:few|next few|coming) (?:days|weeks)\b",
            r"\b(?:tomorrow|next week)\b",
        ],
        "ko": [r"예약", r"며칠", r"내일", r"다음 ?주"],
    },
}
CONTRADICTIONS = {
    level: {lang: [re.compile(p, re.IGNORECASE) for p in patterns] for lang, patterns in by_lang.items()}
    for level, by_lang in _CONTRADICTIONS.items()
}


def contradicts_level(sentence: str, level: str, language: AnswerLanguage) -> bool:
    """Whether ``sentence`` advises less care than ``level`` needs (e.g. no doctor on an urgent case)."""
    return any(
        pattern.search(sentence)
        for lowest, by_lang in CONTRADICTIONS.items() if level_rank(level) >= level_rank(lowest)
        for pattern in by_lang[language]
    )


def is_echo(sentence: str, question: str) -> bool:
    """A sentence that repeats the question or the prompt's labels instead of answering."""
    text = strip_citations(sentence)
    if PROMPT_LABELS.match(text):
        return True
    ratio = difflib.SequenceMatcher(None, text.casefold(), question.casefold()[: len(text) * 2]).ratio()
    return ratio >= ECHO_RATIO


def self_harm(triage: TriageOutcome, sources: Sequence[Source]) -> bool:
    """Self-harm is at stake: a red flag says so, or the best passages are about it."""
    return any(SELF_HARM.search(f.id) for f in triage.red_flags) or any(
        s.topic_id in SELF_HARM_TOPICS for s in sources[:2])


def passage_sentences(text: str) -> list[str]:
    """Whole sentences of a passage fit to quote: no list fragments and no list introductions (an English
    piece that starts in lower case is list items run into a sentence)."""
    pieces = split_sentences(text)  # chunk text has one sentence or list item per line
    return [p for p in pieces if COMPLETE.search(p) and not LIST_INTRO.search(p) and not p[0].islower()]


def with_citation(sentence: str, numbers: Sequence[int]) -> str:
    """``sentence`` with exactly ``numbers`` as its citations, placed before the final punctuation."""
    text = strip_citations(sentence)
    marks = "".join(f"[{n}]" for n in numbers)
    if text and text[-1] in ".!?。":
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


class Verifier:
    """The verification logic (synchronous; ``VerifierAgent`` runs it in a worker thread)."""

    def __init__(self, scorer: SupportScorer | None = None, min_supported_share: float = MIN_SUPPORTED_SHARE
                 ) -> None:
        self.scorer = scorer or SupportScorer()
        self.min_supported_share = min_supported_share

    def judge(self, draft: str, question: str, sources: Sequence[Source], level: str,
              language: AnswerLanguage, truncated: bool = False) -> tuple[list[SentenceVerdict], list[str]]:
        """Verdicts for every draft sentence and the kept sentences (with valid citations). ``truncated``: the
        model hit max_tokens, so a last sentence without final punctuation is incomplete."""
        sentences = split_sentences(clean_draft(draft))
        keys, texts = [s.citation_id for s in sources], [s.text for s in sources]
        scores = self.scorer.scores(sentences, keys, texts)
        verdicts, kept, seen = [], [], set()
        for i, sentence in enumerate(sentences):
            best = int(np.argmax(scores[i])) if len(sources) else -1
            score = float(scores[i, best]) if best >= 0 else 0.0
            cited = [n for n in citations(sentence) if 1 <= n <= len(sources)]
            norm = strip_citations(sentence).casefold()
            if truncated and i == len(sentences) - 1 and not re.search(r"[.!?。]\s*(?:\[[\d,\s-]+\])?$", sentence):
                verdict = "incomplete"
            elif norm in seen:
                verdict = "duplicate"
            elif is_echo(sentence, question):
                verdict = "echo"
            elif not matches_language(sentence, language):
                verdict = "wrong_language"
            elif contradicts_level(sentence, level, language):
                verdict = "contradicts_level"
            else:
                verdict = "supported" if score >= self.scorer.threshold else "unsupported"
            seen.add(norm)
            verdicts.append(SentenceVerdict(sentence=sentence, verdict=verdict, score=round(score, 4),
                                            n=best + 1 if best >= 0 else None))
            if verdict == "supported":
                kept.append(with_citation(sentence, cited or [best + 1]))
        return verdicts, kept

    def templated(self, question: str, sources: Sequence[Source], language: AnswerLanguage) -> str:
        """An extractive answer: the passage sentences closest to the question, each cited. Sentences come from
        the best-ranked topic, and from the next topics only while there are too few."""
        candidates: list[tuple[int, int, str]] = []
        for topic in dict.fromkeys(s.topic_id for s in sources):
            if len(candidates) >= FALLBACK_SENTENCES:
                break
            candidates += [(s.n, j, sentence) for s in sources if s.topic_id == topic
                           for j, sentence in enumerate(passage_sentences(s.text))
                           if MIN_FALLBACK_CHARS <= len(sentence) <= MAX_FALLBACK_CHARS]
        if not candidates:  # only list fragments: show the best passage's start
            text = " ".join(sources[0].text.split())
            cut = text if len(text) <= MAX_FALLBACK_CHARS else text[:MAX_FALLBACK_CHARS].rsplit(" ", 1)[0] + " …"
            candidates = [(sources[0].n, 0, cut)]
        keys = [f"{sources[n - 1].citation_id}#s{j}" for n, j, _ in candidates]
        ranking = np.argsort(-self.scorer.cosines([question], keys, [c[2] for c in candidates])[0])
        chosen: list[tuple[int, int, str]] = []
        for index in ranking:
            n, _, text = candidates[index]
            repeated = any(text == c[2] for c in chosen)  # neighbouring chunks overlap by a sentence
            if not repeated and sum(c[0] == n for c in chosen) < MAX_PER_SOURCE:
                chosen.append(candidates[index])
            if len(chosen) == FALLBACK_SENTENCES:
                break
        lines = [f"- {with_citation(text, [n])}" for n, _, text in sorted(chosen)]
        return "\n".join([FALLBACK_INTRO[language], *lines])

    def verify(self, request: LanguageResult, retrieval: RetrievalOutcome, triage: TriageOutcome,
               draft: DraftAnswer) -> FinalAnswer:
        """The final answer for one turn."""
        language, sources = request.answer_language, retrieval.sources
        notes = list(request.notices)
        verdicts: list[SentenceVerdict] = []
        fallback_reason: str | None = None
        if request.empty:
            body = ""
        elif not sources:
            body = NO_ANSWER[language]
            if retrieval.error:
                notes.append(NOTES["knowledge_error"][language])
        elif draft.error:
            fallback_reason = draft.error
            notes.append(NOTES["model_error"][language].format(error=draft.error))
            body = self.templated(request.question, sources, language)
        else:
            verdicts, kept = self.judge(draft.text, request.question, sources, triage.level, language,
                                        draft.truncated)
            counted = [v for v in verdicts if v.verdict not in ("duplicate", "incomplete")]
            supported = sum(v.verdict == "supported" for v in counted)
            if not supported or supported / len(counted) < self.min_supported_share:
                fallback_reason = f"{supported} of {len(counted)} draft sentences supported"
                notes.append(NOTES["unverified"][language])
            elif supported < len(counted):
                notes.append(NOTES["dropped"][language])
            body = self.templated(request.question, sources, language) if fallback_reason else " ".join(kept)
        cited = set(citations(body))
        lines = []
        if triage.level == "emergency":
            lines.append(EMERGENCY_LINE[language])
        if self_harm(triage, sources):
            lines.append(CRISIS_LINE[language])
        if not request.empty:
            lines.append(LEVEL_LINE[language].format(label=triage.level_label, action=triage.action).strip())
        text = "\n".join(part for part in ["\n".join(lines), body, "\n".join(notes), DISCLAIMER[language]] if part)
        return FinalAnswer(
            text=text, body=body, language=language, level=triage.level, level_label=triage.level_label,
            red_flags=triage.red_flags, action=triage.action, sources=[s for s in sources if s.n in cited],
            disclaimer=DISCLAIMER[language], notes=notes, fallback=fallback_reason is not None,
            fallback_reason=fallback_reason, verdicts=verdicts, model_id=draft.model_id, adapter=draft.adapter,
        )


class VerifierAgent(StageAgent):
    """Checks the draft against the passages and the triage level; writes the final answer."""

    output_type = FinalAnswer

    def __init__(self, verifier: Verifier | None = None, name: str = "verifier") -> None:
        super().__init__(name, "Verifies the draft against the passages and the triage level; adds safety lines.")
        self.verifier = verifier or Verifier()

    async def run_stage(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                        ) -> FinalAnswer:
        request, retrieval = latest(messages, LanguageResult), latest(messages, RetrievalOutcome)
        triage, draft = latest(messages, TriageOutcome), latest(messages, DraftAnswer)
        if request is None or retrieval is None or triage is None or draft is None:
            raise ValueError("the verifier needs the language, retrieval, triage and draft messages")
        return await asyncio.to_thread(self.verifier.verify, request, retrieval, triage, draft)
