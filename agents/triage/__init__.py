"""Symptom triage without an LLM: bilingual red-flag rules + a small saved classifier + a safety-first policy.

``triage(text, age=None, sex=None, pregnant=None) -> TriageDecision`` is the entry point (see docs/triage.md).
"""

from agents.triage.decision import RedFlag, TriageDecision, Triager, get_triager, triage
from agents.triage.levels import LEVELS

__all__ = ["LEVELS", "RedFlag", "TriageDecision", "Triager", "get_triager", "triage"]
