"""Triage agent: conversation context, a level that never goes down, red flags, failures."""

import asyncio

from agents_fakes import FakeTriage, run_agent, structured

from agents.messages import PatientTurn, RedFlagInfo, TriageOutcome
from agents.translator import translate_turn
from agents.triage_agent import ACTIONS, TriageAgent, conversation_text


def _classify(agent: TriageAgent, text: str, **turn: object) -> TriageOutcome:
    task = PatientTurn(conversation_id="c", turn=2 if turn else 1, text=text, **turn)  # type: ignore[arg-type]
    return agent.classify(task, translate_turn(task))


def test_level_red_flags_and_action_come_from_triage() -> None:
    outcome = _classify(TriageAgent(FakeTriage()), "My face is drooping")
    assert outcome.level == "emergency" and outcome.message_level == "emergency" and not outcome.raised_by_history
    assert [f.id for f in outcome.red_flags] == ["stroke_face"] and outcome.action == "emergency action"


def test_follow_ups_are_triaged_with_earlier_patient_turns() -> None:
    triage = FakeTriage()
    _classify(TriageAgent(triage), "and now it is worse", earlier_turns=["I have a fever"])
    assert triage.calls == ["I have a fever\nand now it is worse"]


def test_the_level_never_goes_down_in_a_conversation() -> None:
    earlier = [RedFlagInfo(id="stroke_face", level="emergency", explanation="face")]
    outcome = _classify(TriageAgent(lambda *a, **k: FakeTriage()("nothing much")), "I feel fine now, thanks",
                        level_floor="emergency", earlier_red_flags=earlier)
    assert outcome.level == "emergency" and outcome.message_level == "self_care" and outcome.raised_by_history
    assert outcome.action == ACTIONS["en"]["emergency"] and outcome.red_flags == earlier


def test_a_higher_new_level_wins_and_flags_merge() -> None:
    earlier = [RedFlagInfo(id="high_fever", level="urgent", explanation="fever")]
    outcome = _classify(TriageAgent(FakeTriage()), "now my face is drooping", level_floor="urgent",
                        earlier_red_flags=earlier)
    assert outcome.level == "emergency" and not outcome.raised_by_history
    assert [f.id for f in outcome.red_flags] == ["stroke_face", "high_fever"]


def test_a_failing_triage_is_treated_as_urgent() -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("model file missing")

    outcome = _classify(TriageAgent(broken), "headache")
    assert outcome.level == "urgent" and outcome.error and "119" in outcome.action
    assert _classify(TriageAgent(broken), "headache", level_floor="emergency").level == "emergency"


def test_empty_message_keeps_the_floor() -> None:
    agent = TriageAgent(FakeTriage())
    assert _classify(agent, "  ").level == "routine"
    assert _classify(agent, "", level_floor="emergency").level == "emergency"


def test_conversation_text_drops_the_oldest_turns_first() -> None:
    assert conversation_text("now", ["a" * 50, "b" * 50], limit=60) == "b" * 50 + "\nnow"


def test_agent_runs_on_the_team_messages() -> None:
    task = PatientTurn(conversation_id="c", turn=1, text="얼굴 한쪽이 처졌어요")
    content, _ = asyncio.run(run_agent(TriageAgent(FakeTriage()), structured(task, translate_turn(task))))
    assert isinstance(content, TriageOutcome) and content.level == "emergency" and content.level_label == "응급"
