"""Triage agent: ``agents.triage.triage`` (rules + classifier, no LLM) over the conversation so far.

A follow-up is triaged together with the conversation's earlier patient turns, and the level never goes
down within a conversation: an emergency mentioned earlier stays (``PatientTurn.level_floor``). Red flags
accumulate. If triage itself fails, the turn is treated as urgent (never lower than the floor) and says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from autogen_agentchat.messages import BaseChatMessage
from autogen_core import CancellationToken

from agents.messages import (
    LEVELS,
    LanguageResult,
    Level,
    PatientTurn,
    RedFlagInfo,
    TriageOutcome,
    latest,
    level_label,
    level_rank,
)
from agents.stage import StageAgent
from agents.translator import MAX_TRIAGE_CHARS

log = logging.getLogger(__name__)
TriageFn = Callable[..., Any]  # agents.triage.triage(text, age=None, sex=None, pregnant=None) -> TriageDecision

# What to do at a level, used when the conversation's earlier level outranks this message's decision.
ACTIONS: dict[str, dict[str, str]] = {
    "en": {
        "emergency": "Call 119 now or go to the nearest emergency department.",
        "urgent": "See a doctor today (clinic or urgent care); call 119 if it gets worse.",
        "routine": "Make an appointment with your doctor in the next few days.",
        "self_care": "You can usually look after this at home; see a doctor if it gets worse or does not improve.",
    },
    "ko": {
        "emergency": "지금 바로 119에 전화하거나 가까운 응급실로 가세요.",
        "urgent": "오늘 안에 병원(의원 또는 응급진료)에서 진료를 받으세요. 악화되면 119에 전화하세요.",
        "routine": "며칠 안에 병원 진료 예약을 하세요.",
        "self_care": "보통 집에서 관리할 수 있습니다. 나빠지거나 좋아지지 않으면 진료를 받으세요.",
    },
}
FAILED_ACTION = {
    "en": "Automatic triage is unavailable. If symptoms are severe call 119; otherwise see a doctor today.",
    "ko": "자동 응급도 판단을 할 수 없습니다. 증상이 심하면 119에 전화하고, 그렇지 않으면 오늘 진료를 받으세요.",
}
EMPTY_ACTION = {
    "en": "Describe your symptoms so they can be assessed.",
    "ko": "판단할 수 있도록 증상을 설명해 주세요.",
}


def default_triage() -> TriageFn:
    """``agents.triage.triage`` (imported on first use)."""
    from agents.triage import triage

    return triage


def conversation_text(current: str, earlier_turns: Sequence[str], limit: int = MAX_TRIAGE_CHARS) -> str:
    """Earlier turns then the current one, one per line; the oldest turns are dropped beyond ``limit``."""
    parts = [current]
    size = len(current)
    for turn in reversed(earlier_turns):
        if size + len(turn) + 1 > limit:
            break
        parts.insert(0, turn)
        size += len(turn) + 1
    return "\n".join(parts)


def merge_flags(earlier: Sequence[RedFlagInfo], new: Sequence[RedFlagInfo]) -> list[RedFlagInfo]:
    """Earlier and new red flags, one per id, highest level first (stable otherwise)."""
    merged: dict[str, RedFlagInfo] = {}
    for flag in [*new, *earlier]:
        merged.setdefault(flag.id, flag)
    return sorted(merged.values(), key=lambda f: -level_rank(f.level))


class TriageAgent(StageAgent):
    """Classifies urgency with the rules-and-classifier triage; never lowers the conversation's level."""

    output_type = TriageOutcome

    def __init__(self, triage_fn: TriageFn | None = None, name: str = "triage") -> None:
        super().__init__(name, "Classifies the urgency of the conversation (rules and classifier, no LLM).")
        self._triage = triage_fn

    def classify(self, turn: PatientTurn, request: LanguageResult) -> TriageOutcome:
        """The triage outcome for this turn (synchronous)."""
        language = request.answer_language
        floor: Level | None = turn.level_floor
        if request.empty:
            level = floor or "routine"
            return TriageOutcome(level=level, level_label=level_label(level, language), confidence=0.0,
                                 red_flags=list(turn.earlier_red_flags), action=EMPTY_ACTION[language],
                                 language=language, raised_by_history=floor is not None)
        try:
            self._triage = self._triage or default_triage()
            decision = self._triage(conversation_text(request.triage_text, turn.earlier_turns),
                                    age=turn.age, sex=turn.sex, pregnant=turn.pregnant)
            found: Level = decision.level
            flags = [RedFlagInfo(id=f.id, level=f.level, explanation=f.explanation) for f in decision.red_flags]
        except Exception as exc:  # triage must never take the turn down: assume urgent
            log.warning("triage failed: %s: %s", type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            level = LEVELS[max(level_rank(floor), level_rank("urgent"))]
            return TriageOutcome(level=level, level_label=level_label(level, language), confidence=0.0,
                                 red_flags=list(turn.earlier_red_flags), action=FAILED_ACTION[language],
                                 language=language, error=f"triage failed: {exc}")
        raised = level_rank(floor) > level_rank(found)
        level = floor if raised and floor else found
        action = ACTIONS[language][level] if raised or decision.language != language else decision.action
        return TriageOutcome(
            level=level, level_label=level_label(level, language), confidence=float(decision.confidence),
            red_flags=merge_flags(turn.earlier_red_flags, flags), action=action, language=language,
            message_level=found, raised_by_history=raised,
        )

    async def run_stage(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
                        ) -> TriageOutcome:
        turn, request = latest(messages, PatientTurn), latest(messages, LanguageResult)
        if turn is None or request is None:
            raise ValueError("triage needs the PatientTurn task and the translator's LanguageResult")
        return await asyncio.to_thread(self.classify, turn, request)
