"""Combination policy: red-flag rules set a floor, the classifier decides above it, and a cautious emergency
threshold escalates when the classifier's emergency probability is high even if it is not the top class.

The policy never lowers a rule's level: final = max(rule level, classifier level, escalation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.triage.levels import LEVELS, RANK, more_urgent


@dataclass(frozen=True)
class Combined:
    """The final level and where it came from."""

    level: str
    source: str  # "rule" | "classifier" | "emergency_threshold"
    confidence: float


def combine(probabilities: np.ndarray, rule_level: str | None, emergency_threshold: float) -> Combined:
    """Merge one row of classifier probabilities (``LEVELS`` order) with the rules' floor."""
    classifier_level = LEVELS[int(np.argmax(probabilities))]
    source = "classifier"
    if classifier_level != "emergency" and probabilities[0] >= emergency_threshold:
        classifier_level, source = "emergency", "emergency_threshold"
    level = classifier_level if rule_level is None else more_urgent(rule_level, classifier_level)
    if rule_level is not None and RANK[rule_level] >= RANK[classifier_level]:
        source = "rule"
    # Confidence: the classifier's probability of the chosen level; a red flag that forces the level is a
    # deterministic finding, reported as 1.0.
    confidence = 1.0 if source == "rule" else float(probabilities[LEVELS.index(level)])
    return Combined(level, source, round(confidence, 3))


def choose_emergency_threshold(probabilities: np.ndarray, labels: list[str], target_recall: float) -> float:
    """The highest threshold at which the classifier escalates ``target_recall`` of the emergencies *without*
    help from the rules.

    ``probabilities`` are rule-blind out-of-fold predictions on the training folds (``rule:*`` features
    cleared). The rules are left out on purpose: they were written while reading the training vignettes, so
    their recall there is optimistic, and the threshold is the safety net for emergencies no rule names.
    Searched from 0.50 down to 0.05.
    """
    emergency = np.array([label == "emergency" for label in labels])
    if not emergency.any():
        return 0.5
    p_emergency = probabilities[emergency, 0]
    for threshold in np.arange(0.50, 0.049, -0.01):
        if (p_emergency >= threshold).mean() >= target_recall:
            return round(float(threshold), 2)
    return 0.05
