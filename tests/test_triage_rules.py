"""Red-flag rules and the concept matcher: bilingual phrasing, negation, history, age and pregnancy modifiers."""

from __future__ import annotations

import re

import pytest
import yaml

from agents.triage.context import build_context
from agents.triage.levels import DATA_DIR, RANK
from agents.triage.rules import RuleSet
from tests.triage_probes import (
    EMERGENCY,
    NO_RULE,
    ROUTINE_FLOOR,
    SEVERITY_EMERGENCY,
    URGENT_FLOOR,
    WRITTEN_REGISTER_AFFIRMED,
    WRITTEN_REGISTER_NOT_EMERGENCY,
)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet()


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    EMERGENCY + URGENT_FLOOR + SEVERITY_EMERGENCY + WRITTEN_REGISTER_AFFIRMED + ROUTINE_FLOOR,
)
def test_red_flag_forces_at_least_level(rules: RuleSet, text: str, kwargs: dict, expected: str) -> None:
    result = rules.evaluate(text, **kwargs)
    assert result.level is not None, f"no rule fired; concepts: {sorted(result.present)}"
    assert RANK[result.level] >= RANK[expected], [h.id for h in result.hits]


@pytest.mark.parametrize(("text", "kwargs", "expected"), NO_RULE)
def test_no_red_flag(rules: RuleSet, text: str, kwargs: dict, expected: None) -> None:
    result = rules.evaluate(text, **kwargs)
    assert result.level is expected, [h.id for h in result.hits]


@pytest.mark.parametrize(("text", "kwargs", "highest"), WRITTEN_REGISTER_NOT_EMERGENCY)
def test_written_register_negatives_fire_no_emergency(
    rules: RuleSet, text: str, kwargs: dict, highest: str | None
) -> None:
    result = rules.evaluate(text, **kwargs)
    allowed = 0 if highest is None else RANK[highest]
    assert result.level is None or RANK[result.level] <= allowed, [h.id for h in result.hits]


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("호흡곤란은 부인한다", "breathless"),
        ("흉통은 부정하였다", "chest_pain"),
        ("구토나 설사는 동반하지 않는다", "diarrhoea"),
        ("목 경직 소견은 관찰되지 않는다", "stiff_neck"),
        ("두통, 복시, 말 어눌함, 팔다리 힘 빠짐은 없고 청력 변화도 없다", "headache"),
        ("발열(-), 구토(-)", "fever"),
        ("케톤 음성", "ketones_dka"),
        ("fever (-), cough (+)", "fever"),
        ("She has no fever, chills, night sweats, weight loss, chest pain or shortness of breath.", "breathless"),
        ("He denies fever, vomiting, diarrhoea, blood in the stool or shortness of breath.", "breathless"),
        ("가슴 통증은 없어요", "chest_pain"),
        ("숨은 안 차요", "breathless"),
        ("no chest pain", "chest_pain"),
        ("denies shortness of breath", "breathless"),
        ("sore throat without fever", "fever"),
        ("열은 없고 기침만 나요", "fever"),
        ("fever 없고 콧물만 나요", "fever"),  # English term, Korean negation
        ("두통이나 가슴 통증, 눈 침침한 건 없어요", "chest_pain"),  # negated list
        ("Chest pain: none. Cough for 3 days.", "chest_pain"),
        ("Blisters on my ribs, nowhere near my eye", "eye_area"),
    ],
)
def test_negated_mentions_are_denied(rules: RuleSet, text: str, concept: str) -> None:
    findings = rules.lexicon.find(text)
    assert not findings.present(concept)
    assert findings.denied(concept)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("열이 안 떨어져요", "fever"),  # "안" here reports a problem, not its absence
        ("숨이 안 쉬어져요", "breathless_severe"),
        ("no fever yesterday, now has crushing chest pain", "chest_crushing"),
        ("my inhaler isn't helping and I'm wheezing", "inhaler_not_helping"),
        ("I have crushing chest pain. No history of heart disease.", "chest_pain"),  # "No" of the next sentence
        ("두통이 있으나 구토는 없다", "headache"),  # a contrastive clause ends the negation's scope
        ("두통을 호소하나 구토는 없다", "headache"),
        ("No real chest pain, just a weird pressure between my shoulder blades", "jaw_arm_back_pain"),
        ("The dizziness hasn't stopped and I have vomited twice", "vomiting"),
    ],
)
def test_pseudo_negations_stay_present(rules: RuleSet, text: str, concept: str) -> None:
    assert rules.lexicon.find(text).present(concept)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("It stopped bleeding after pressing for five minutes", "seizure_prolonged"),  # not a seizure
        ("넘어지면서 손을 짚었는데 손목이 부었어요", "preeclampsia_signs"),  # a wrist, not swollen hands
        ("It is worse when she moves her head", "peritonism"),  # vertigo, not peritonism
        ("머리를 움직이면 어지러워요", "exertional"),
        ("옆구리에서 등까지 띠 모양으로 물집이 생겼어요", "radiating_arm_jaw"),
        ("burning pain on the right side of her back", "one_sided_pelvic_pain"),
        ("burning pain on the right side of her back", "burn"),
        ("콘택트렌즈 처방전이 필요해요", "cancer"),
        ("비흡연자이며 기저 질환은 없다", "cardiac_risk"),
        ("a non-smoker with no medical history", "cardiac_risk"),
    ],
)
def test_look_alike_words_are_not_findings(rules: RuleSet, text: str, concept: str) -> None:
    assert concept not in rules.lexicon.find(text).mentions


def test_past_events_do_not_fire_acute_rules(rules: RuleSet) -> None:
    result = rules.evaluate("history of stroke 5 years ago, today just a runny nose")
    assert result.level is None


def test_infant_fever_depends_on_age(rules: RuleSet) -> None:
    assert rules.evaluate("열이 38.5도예요", age=0.15).level == "emergency"
    assert rules.evaluate("열이 38.5도예요", age=0.4).level == "urgent"
    assert rules.evaluate("열이 38.5도예요", age=30).level is None


def test_pregnancy_modifies_bleeding_and_pain(rules: RuleSet) -> None:
    text = "아랫배가 아프고 피가 조금 나와요"
    assert rules.evaluate(text, pregnant=True).level == "emergency"
    assert rules.evaluate(text, pregnant=False).level is None
    assert rules.evaluate("I have some light spotting", pregnant=True).level == "urgent"


def test_older_diabetic_atypical_cardiac(rules: RuleSet) -> None:
    text = "Feeling breathless and sick to my stomach with a cold sweat"
    assert rules.evaluate(text, age=74).level == "emergency"
    assert rules.evaluate("I'm diabetic. " + text).level == "emergency"


def test_suicide_rules_give_crisis_lines(rules: RuleSet) -> None:
    result = rules.evaluate("죽고 싶어요")
    assert result.level == "emergency"
    assert "109" in result.hits[0].explain["ko"] and "119" in result.hits[0].explain["ko"]
    assert "109" in result.hits[0].explain["en"]
    no_plan = rules.evaluate("I keep thinking about ending my life but I have no plan and I won't act on it")
    assert no_plan.level == "urgent"


def test_context_reads_age_temperature_and_vitals() -> None:
    assert build_context("생후 6주 아기가 열이 38도").facts >= {"infant_under_3m", "fever_measured"}
    assert build_context("my 2-month-old has a temp of 100.8F").facts >= {"infant_under_3m", "fever_measured"}
    assert "older_adult" in build_context("아버지(75)가 쓰러지셨어요").facts
    assert "bp_crisis" in build_context("BP 200/120 this morning").facts
    assert "glucose_very_high" in build_context("blood sugar 28 mmol").facts
    assert build_context("기침한 지 2개월이에요").age_years is None  # a duration, not an age
    assert build_context("anything", age=80).facts >= {"older_adult"}  # structured age wins
    assert "low_oxygen" in build_context("oxygen saturation of 91% on room air").facts
    assert "oxygen_borderline" in build_context("산소포화도 93%").facts
    assert "oxygen_borderline" in build_context("COPD, sats 90% (my usual is 91)").facts  # a stated baseline
    assert "fast_breathing" in build_context("호흡수 분당 30회").facts
    assert "fast_breathing" not in build_context("호흡수 44회", age=3).facts  # age-adjusted limit
    assert "tachycardia_severe" in build_context("pulse 135").facts
    assert "bp_low" in build_context("systolic 84").facts
    assert "gcs_reduced" in build_context("GCS 14").facts
    assert "fever_measured" not in build_context("no fever above 38 C").facts  # a limit, not a reading
    assert "fever_measured" not in build_context("열은 38도를 넘지 않았다").facts


def test_rule_and_lexicon_files_are_valid(rules: RuleSet) -> None:
    assert len(rules.rules) >= 60
    ids = [r.id for r in rules.rules]
    assert len(ids) == len(set(ids))
    for rule in rules.rules:
        assert rule.explain["en"].strip() and rule.explain["ko"].strip()
    for path in (DATA_DIR / "lexicon").glob("*.yaml"):
        for cid, spec in (yaml.safe_load(path.read_text(encoding="utf-8")).get("concepts") or {}).items():
            for pattern in spec.get("en", []) + spec.get("ko", []):
                assert "\\\\" not in pattern, f"{path.name}:{cid}: doubled backslash in {pattern!r}"


def test_every_emergency_category_has_a_rule(rules: RuleSet) -> None:
    wanted = (
        r"cardiac|stroke|anaphylaxis|breathing|thunderclap|meningitis|gi_bleeding|ketoacidosis|choking|head_injury|"
        r"sepsis|ectopic|embolism|dissection|torsion|burn|overdose|seizure|dehydration|neutropenic|drug_rash|suicid"
    )
    found = {m for rule in rules.rules if rule.level == "emergency" for m in re.findall(wanted, rule.id)}
    assert len(found) == len(wanted.split("|"))


def test_long_text_is_handled(rules: RuleSet) -> None:
    text = "I have had a mild cough. " * 800 + "Now crushing chest pain and sweating."
    assert rules.evaluate(text).level == "emergency"
