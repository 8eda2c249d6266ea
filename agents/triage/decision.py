"""One triage decision: rules + classifier + policy, explained in the patient's language. No LLM involved."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.language import detect_language
from agents.triage.features import embed_texts, symbolic_vector
from agents.triage.levels import LEVELS, action_text
from agents.triage.model import MODEL_DIR, TriageModel
from agents.triage.policy import Combined, combine
from agents.triage.rules import Rule, RuleResult, RuleSet


@dataclass(frozen=True)
class RedFlag:
    """A red-flag rule that fired: its id, the level it forces and a patient-facing explanation."""

    id: str
    level: str
    explanation: str


@dataclass(frozen=True)
class TriageDecision:
    """The outcome for one message. ``action`` and explanations are in ``language`` (ko/en; else English)."""

    level: str
    confidence: float
    red_flags: list[RedFlag]
    action: str
    language: str
    source: str  # "rule" | "classifier" | "emergency_threshold"
    probabilities: dict[str, float] = field(default_factory=dict)  # classifier's; {} when a rule forced emergency
    concepts: list[str] = field(default_factory=list)  # affirmed concepts and facts the rules saw

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (red flags as dicts)."""
        return asdict(self)


def _explanation(rule: Rule, language: str) -> str:
    return rule.explain["ko" if language == "ko" else "en"]


class Triager:
    """Loads the rules and the saved model once; ``decide``/``decide_many`` are thread-safe."""

    def __init__(self, model_dir: Path = MODEL_DIR, rules: RuleSet | None = None) -> None:
        self.rules = rules or RuleSet()
        self.model = TriageModel.load(model_dir)

    def _decision(self, text: str, language: str, result: RuleResult, probs: np.ndarray | None) -> TriageDecision:
        if probs is None:  # rule-forced emergency; the classifier was not consulted
            combined = Combined("emergency", "rule", 1.0)
        else:
            combined = combine(probs, result.level, self.model.emergency_threshold)
        flags = [RedFlag(rule.id, rule.level, _explanation(rule, language)) for rule in result.hits]
        return TriageDecision(
            level=combined.level,
            confidence=combined.confidence,
            red_flags=flags,
            action=action_text(combined.level, language),
            language=language,
            source=combined.source,
            probabilities={}
            if probs is None
            else {lvl: round(float(p), 4) for lvl, p in zip(LEVELS, probs, strict=True)},
            concepts=sorted(result.present),
        )

    def decide_many(self, cases: Sequence[dict[str, Any]]) -> list[TriageDecision]:
        """Decide several cases (dicts with ``text`` and optional ``age``, ``sex``, ``pregnant``) in one batch."""
        if not cases:
            return []
        texts = [str(case.get("text") or "") for case in cases]
        results = [
            self.rules.evaluate(text, case.get("age"), case.get("sex"), case.get("pregnant"))
            for text, case in zip(texts, cases, strict=True)
        ]
        # A rule-forced emergency cannot be changed by the classifier: skip its (costly) embedding. Repeated texts
        # are embedded once.
        need = [i for i, r in enumerate(results) if r.level != "emergency"]
        probs: list[np.ndarray | None] = [None] * len(texts)
        if need:
            symbolic = np.vstack([symbolic_vector(results[i], self.model.symbolic_names) for i in need])
            unique = list(dict.fromkeys(texts[i] for i in need))
            vectors = dict(zip(unique, embed_texts(unique), strict=True))
            embeddings = np.vstack([vectors[texts[i]] for i in need])
            for i, row in zip(need, self.model.probabilities(embeddings, symbolic), strict=True):
                probs[i] = row
        return [
            self._decision(text, detect_language(text), result, row)
            for text, result, row in zip(texts, results, probs, strict=True)
        ]

    def decide(
        self, text: str, age: float | None = None, sex: str | None = None, pregnant: bool | None = None
    ) -> TriageDecision:
        return self.decide_many([{"text": text, "age": age, "sex": sex, "pregnant": pregnant}])[0]


_triager: Triager | None = None
_lock = threading.Lock()


def get_triager() -> Triager:
    """The process-wide triager, created on first use (thread-safe)."""
    global _triager
    if _triager is None:
        with _lock:
            if _triager is None:
                _triager = Triager()
    return _triager


def triage(text: str, age: float | None = None, sex: str | None = None, pregnant: bool | None = None) -> TriageDecision:
    """Triage one patient message: ``emergency`` | ``urgent`` | ``routine`` | ``self_care`` with reasons."""
    return get_triager().decide(text, age=age, sex=sex, pregnant=pregnant)
