"""The combination policy (pure logic): rules are a floor, the classifier decides above it, cautious escalation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agents.triage.levels import LEVELS, RANK
from agents.triage.policy import choose_emergency_threshold, combine


def _probs(top: str, p_top: float = 0.7, p_emergency: float | None = None) -> np.ndarray:
    probs = np.full(len(LEVELS), (1 - p_top) / (len(LEVELS) - 1))
    probs[LEVELS.index(top)] = p_top
    if p_emergency is not None and top != "emergency":
        probs[0] = p_emergency
        rest = [i for i in range(1, len(LEVELS)) if LEVELS[i] != top]
        probs[rest] = (1 - p_top - p_emergency) / len(rest)
    return probs


@pytest.mark.parametrize(("rule_level", "classifier_top"), list(itertools.product([None, *LEVELS], LEVELS)))
def test_never_lowers_a_rule_level(rule_level: str | None, classifier_top: str) -> None:
    for threshold in (0.05, 0.3, 0.5, 1.0):
        level = combine(_probs(classifier_top), rule_level, threshold).level
        if rule_level is not None:
            assert RANK[level] >= RANK[rule_level]
        assert RANK[level] >= RANK[classifier_top]


def test_rule_forced_level_is_reported_as_rule() -> None:
    combined = combine(_probs("self_care", 0.9), "emergency", 0.5)
    assert (combined.level, combined.source, combined.confidence) == ("emergency", "rule", 1.0)


def test_escalates_above_threshold_only() -> None:
    probs = _probs("routine", 0.45, p_emergency=0.35)
    assert combine(probs, None, 0.30).level == "emergency"
    assert combine(probs, None, 0.30).source == "emergency_threshold"
    assert combine(probs, None, 0.40).level == "routine"


def test_classifier_can_raise_above_a_lower_rule() -> None:
    combined = combine(_probs("emergency", 0.8), "urgent", 0.5)
    assert (combined.level, combined.source) == ("emergency", "classifier")
    assert combined.confidence == pytest.approx(0.8, abs=1e-3)


def test_threshold_is_the_highest_meeting_the_target() -> None:
    labels = ["emergency"] * 4 + ["self_care"] * 2
    p_emergency = [0.9, 0.6, 0.35, 0.2, 0.1, 0.4]
    probs = np.array([[p, 0, 0, 1 - p] for p in p_emergency])
    assert choose_emergency_threshold(probs, labels, target_recall=0.5) == 0.5
    assert choose_emergency_threshold(probs, labels, target_recall=0.75) == 0.35
    assert choose_emergency_threshold(probs, labels, target_recall=1.0) == 0.2
    assert choose_emergency_threshold(probs, ["self_care"] * 6, target_recall=1.0) == 0.5
