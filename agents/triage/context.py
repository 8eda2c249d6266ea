"""Patient context for the rules: age, sex and pregnancy (given or read from the text) and measured vitals.

The structured fields win over the text. From the text we read ages ("58살", "72세", "생후 6주", "70대",
"아버지(75)", "9 yo", "28M", "2-month-old"), temperatures ("38.6도", "39℃", "102F", "temp 38.4"), blood
glucose, blood pressure, oxygen saturation, respiratory and heart rate and GCS, in lay and clinical register
("SpO2 89%", "산소포화도 90%", "호흡수 32회", "breathing 55 times a minute", "맥박 130회", "systolic 85", "GCS 13").
The result is a set of *facts* (e.g. ``infant_under_3m``, ``fever_measured``, ``bp_crisis``, ``low_oxygen``) that
red-flag rules combine with concepts. Vital-sign thresholds follow the NICE sepsis / NEWS2 high-risk criteria.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.triage.matcher import normalise

FACTS = (
    "infant_under_3m",
    "infant_3_to_6m",
    "infant_under_1y",
    "child_under_5",
    "child",
    "adult_50plus",
    "older_adult",
    "pregnant",
    "female",
    "male",
    "fever_measured",
    "high_fever",
    "low_temp",
    "bp_crisis",
    "bp_low",
    "low_oxygen",
    "oxygen_borderline",
    "fast_breathing",
    "tachycardia_severe",
    "gcs_reduced",
    "glucose_very_high",
    "glucose_low",
)

_KO_AGE_YEARS = re.compile(r"(?<![\d.])(\d{1,3})\s*(?:살|세)(?!\s*(?:때|적|부터|까지|이후|이전|쯤에|무렵))")
_KO_DECADE = re.compile(
    r"(?<!\d)([1-9]0)\s*대\s*(?:초반|중반|후반)?\s*(?:남|여|이|인|예|입|고|의|,|\.|$|환자|어머니|아버지)"
)
_KO_INFANT = re.compile(
    r"(?:생후\s*(\d{1,3})\s*(일|주|개월|달))|(?<![\d.])(\d{1,2})\s*(일|주|개월)\s*(?:된|짜리|"
    r"아기|아가|아이|애기|남아|여아|딸|아들|신생아|baby)"
)
# "5개월이에요" is an age only when the text is about a baby ("기침한 지 2개월이에요" is a duration).
_KO_MONTHS_BARE = re.compile(r"(?<![\d.])(\d{1,2})\s*개월\s*(?:인데|이에요|예요|입니다|이고|$|[.,)])")
_INFANT_WORDS = re.compile(r"아기|아가|애기|신생아|분유|모유|수유|기저귀|baby|infant|nappy|diaper|formula|breastfe")
_KO_PAREN_AGE = re.compile(r"[가-힣]\s*\((\d{1,3})\s*(?:세|살)?\)")
_EN_AGE = re.compile(
    r"(?<![\d.])(\d{1,3})\s*(?:-|\s)?(?:(year|yr|month|mo|week|wk|day)s?)(?:\s*|-)old|"
    r"(?<![\d./])(\d{1,3})\s*(?:yo|y/o|y\.o\.|yrs?|years?)\b|"
    r"(?<![\d./:])(\d{1,2})\s?([mf])\b(?!\s*(?:of|in|away|from))|"
    r"\b(?:aged?|age:?)\s*(\d{1,3})\b|"
    r"\b(?:i'm|i am|im|she's|he's|she is|he is)\s+(\d{1,2})\b(?!\s*(?:weeks?|days?|months?|hours?|minutes?|mins?|"
    r"years? ago|%|kg|cm|lbs?|times?|/))|"
    r"\bin (?:my|his|her) (\d)0s\b"
)
_NEWBORN = re.compile(r"newborn|neonat|신생아|갓난\s*(?:아기|애기)")
_TEMP_C = re.compile(r"(?<![\d.])(3[4-9]|4[0-3])(?:[.,](\d))?\s*(?:도|℃|°\s*c?|c\b|degrees?(?:\s*c(?:elsius)?)?)")
_TEMP_F = re.compile(r"(?<![\d.])(9[5-9]|10[0-9])(?:\.(\d))?\s*(?:°\s*f|f\b|degrees?\s*f|fahrenheit)")
_TEMP_CONTEXT = re.compile(
    r"(?:열|체온|온도|temp\w*|fever|febrile|thermometer)[^\d\n]{0,14}(?<![\d.])(3[3-9]|4[0-3]|9[5-9]|10[0-9])(?:[.,](\d))?(?![\d])"
)
_TEMP_DECIMAL = re.compile(r"(?<![\d.])(3[89]|4[0-2])\.(\d)(?![\d])")
_GLUCOSE = re.compile(
    r"(?<![a-z])(?:혈당|당\s*수치|blood\s*sugars?|sugars?|glucose|bgl?|bm|cbg)(?![a-z])[^\d\n]{0,15}(?<![\d.])(\d{1,3}(?:\.\d)?)(?![\d/])"
)
_BP = re.compile(r"(?:혈압|bp|blood\s*pressure|pressure)[^\d\n]{0,20}(?<![\d.])(\d{2,3})\s*/\s*(\d{2,3})")
_SPO2 = re.compile(
    r"(?:산소\s*포화도|산소|spo2|sao2|sats?|saturation|oxygen|o2|pulse\s*ox\w*)[^\d\n]{0,16}(?<![\d.])(\d{2,3})(?!\d|\s*(?:l\b|리터|liters?|litres?))"
)
# Respiratory rate: a label then a number ("호흡수 32회", "RR 30", "respiratory rate of 28"), or a number of breaths per
# minute ("55 breaths a minute", "breathing about 30 times a minute", "숨을 1분에 55번").
_RESP_RATE = re.compile(
    r"(?:호흡\s*수|호흡\s*횟수|분당\s*호흡\s*수?|respiratory\s*rate|resp\.?\s*rate|(?<![a-z])rr(?![a-z])|breathing\s*rate)"
    r"[^\d\n]{0,12}(?<![\d.])(\d{2,3})(?![\d.])|호흡\s*(\d{2,3})\s*회|"
    r"(?<![\d.])(\d{2,3})\s*(?:breaths?|respirations?)\s*(?:a|per|/|each|every)\s*min|"
    r"breath\w*[^\d\n.]{0,25}?(?<![\d.])(\d{2,3})\s*times\s*(?:a|per|each|every)\s*min|"
    r"(?:숨|호흡)[^\d\n.]{0,20}?(?:1\s*분에|분당|1\s*분\s*동안)\s*(\d{2,3})\s*(?:번|회)|"
    r"(?:1\s*분에|분당)\s*(\d{2,3})\s*(?:번|회)\s*(?:정도\s*|가량\s*|쯤\s*)?(?:숨|호흡|쉬)"
)
_HEART_RATE = re.compile(
    r"(?:맥박\s*수?|심박\s*수?|심장\s*박동\s*수?|heart\s*rate|pulse(?!\s*ox)|(?<![a-z])hr(?![a-z]))"
    r"[^\d\n]{0,14}(?<![\d.])(\d{2,3})(?![\d./])"
)
_SYSTOLIC = re.compile(
    r"(?:수축기\s*혈압|systolic(?:\s*(?:bp|blood\s*pressure))?|(?<![a-z])sbp(?![a-z]))[^\d\n]{0,12}(\d{2,3})"
)
_SPO2_USUAL = re.compile(
    r"(?:normal|usual(?:ly)?|baseline|평소(?:에는|에도)?|보통)[^\d\n]{0,14}(?<![\d.])(\d{2})(?!\d)"
)
_GCS = re.compile(r"(?:gcs|glasgow(?:\s*coma\s*scale)?)[^\d\n]{0,10}(?<![\d.])(\d{1,2})(?!\d)")


@dataclass(frozen=True)
class PatientContext:
    """What the rules know about the patient beyond the symptoms."""

    age_years: float | None = None
    sex: str | None = None  # "F" | "M" | None
    pregnant: bool | None = None
    temperature_c: float | None = None
    facts: frozenset[str] = field(default_factory=frozenset)


def _age_from_text(text: str) -> float | None:
    """The first age mentioned in the (normalised) text, in years."""
    found: list[tuple[int, float]] = []
    for m in _KO_INFANT.finditer(text):
        value = float(m.group(1) or m.group(3))
        unit = m.group(2) or m.group(4)
        found.append((m.start(), {"일": value / 365, "주": value / 52, "개월": value / 12, "달": value / 12}[unit]))
    if _INFANT_WORDS.search(text):
        found.extend((m.start(), float(m.group(1)) / 12) for m in _KO_MONTHS_BARE.finditer(text))
    for m in _KO_AGE_YEARS.finditer(text):
        found.append((m.start(), float(m.group(1))))
    for m in _KO_DECADE.finditer(text):
        found.append((m.start(), float(m.group(1)) + 5))
    for m in _KO_PAREN_AGE.finditer(text):
        found.append((m.start(), float(m.group(1))))
    for m in _EN_AGE.finditer(text):
        if m.group(1):
            scale = {"year": 1, "yr": 1, "month": 12, "mo": 12, "week": 52, "wk": 52, "day": 365}[m.group(2)]
            found.append((m.start(), float(m.group(1)) / scale))
        elif m.group(8):
            found.append((m.start(), float(m.group(8)) * 10 + 5))
        else:
            value = next(g for g in (m.group(3), m.group(4), m.group(6), m.group(7)) if g)
            found.append((m.start(), float(value)))
    found = [(pos, age) for pos, age in found if 0 <= age <= 115]
    if found:
        return min(found)[1]
    return 0.02 if _NEWBORN.search(text) else None


_SEX = re.compile(
    r"(?<![\d./:])\d{1,2}\s?([mf])\b|(?:\d{1,3}\s*(?:살|세)\s*|[0-9]0\s*대\s*)(남|여)|(남|여)(?:자|성)\s*(?:인데|이고|예요|이에요|입니다|환자)|"
    r"\d{1,3}[- ]?(?:yo|y/o|years?[- ]old)\s+(man|male|woman|female|guy|lady)\b"
)


def _sex_from_text(text: str) -> str | None:
    """Only explicit statements ("28M", "68세 남", "여자인데", "54 year old woman"), never a relative's sex."""
    m = _SEX.search(text)
    if not m:
        return None
    word = next(g for g in m.groups() if g)
    return "F" if word in ("f", "여", "woman", "female", "lady") else "M"


# A limit that was not reached is not a measured temperature: "no fever above 38 C", "below 37.5", "38도를 넘지 않았다".
_TEMP_LIMIT_BEFORE = re.compile(
    r"(?:\b(?:no|not|never|without|hasn't|has not|haven't|didn't|did not)\b[^.;!?\d]{0,30}"
    r"(?:above|over|higher than|more than|greater than|exceed\w*|reach\w*|hit|go(?:ne)? (?:above|over|past))|"
    r"\b(?:below|under|less than|lower than|up to|at most))\s*$"
)
_TEMP_LIMIT_AFTER = re.compile(
    r"^[^.;!?\d]{0,6}?(?:을|를|이|가|은|는|까지는|까지)?\s*(?:넘지|넘은\s*적|안\s*넘|넘어가지|오르지|올라가지|이하|미만|아래|밑)|"
    r"^[^.;!?\d]{0,4}(?:넘는|넘은|이상의?)\s*(?:열|발열|고열)(?:은|는|이)?\s*(?:없|나지\s*않|안\s*나)"
)


def _temperatures(text: str, patterns: tuple[re.Pattern[str], ...]) -> list[float]:
    values: list[float] = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            before, after = text[max(0, m.start(1) - 45) : m.start(1)], text[m.end() : m.end() + 20]
            if _TEMP_LIMIT_BEFORE.search(before) or _TEMP_LIMIT_AFTER.search(after):
                continue
            value = float(m.group(1) + "." + (m.group(2) or "0"))
            values.append((value - 32) * 5 / 9 if value > 50 else value)
    return [v for v in values if 33 <= v <= 43.5]


def _temperature(text: str) -> float | None:
    """The highest body temperature mentioned (°C); a low one counts only next to 체온/temp ("35도 폭염")."""
    values = _temperatures(text, (_TEMP_C, _TEMP_CONTEXT, _TEMP_DECIMAL, _TEMP_F))
    high = max(values, default=None)
    if high is not None and high >= 37:
        return high
    stated = _temperatures(text, (_TEMP_CONTEXT,))
    return min(stated) if stated else None


def _glucose_mg_dl(text: str) -> list[float]:
    values = []
    for m in _GLUCOSE.finditer(text):
        value = float(m.group(1))
        values.append(value * 18 if value <= 35 else value)  # mmol/L -> mg/dL
    return values


def build_context(
    text: str,
    age: float | None = None,
    sex: str | None = None,
    pregnant: bool | None = None,
    pregnancy_mentioned: bool = False,
) -> PatientContext:
    """Combine structured fields with what the text says; ``pregnancy_mentioned`` comes from the lexicon."""
    norm = normalise(text)
    age_years = age if age is not None else _age_from_text(norm)
    sex = sex.upper()[:1] if isinstance(sex, str) and sex.strip() else _sex_from_text(norm)
    is_pregnant = pregnant if pregnant is not None else (True if pregnancy_mentioned else None)
    facts: set[str] = set()
    if age_years is not None:
        facts |= {
            name
            for name, test in (
                ("infant_under_3m", age_years < 0.25),
                ("infant_3_to_6m", 0.25 <= age_years < 0.5),
                ("infant_under_1y", age_years < 1),
                ("child_under_5", age_years < 5),
                ("child", age_years < 16),
                ("adult_50plus", age_years >= 50),
                ("older_adult", age_years >= 65),
            )
            if test
        }
    if is_pregnant:
        facts |= {"pregnant", "female"}
    if sex in ("F", "M"):
        facts.add("female" if sex == "F" else "male")
    temperature = _temperature(norm)
    if temperature is not None:
        facts |= {
            n
            for n, t in (
                ("fever_measured", temperature >= 38),
                ("high_fever", temperature >= 39.5),
                ("low_temp", temperature < 35),
            )
            if t
        }
    glucose = _glucose_mg_dl(norm)
    if any(v >= 300 for v in glucose):
        facts.add("glucose_very_high")
    if any(20 <= v < 70 for v in glucose):
        facts.add("glucose_low")
    facts |= _vital_facts(norm, age_years)
    return PatientContext(age_years, sex if sex in ("F", "M") else None, is_pregnant, temperature, frozenset(facts))


def _numbers(pattern: re.Pattern[str], text: str) -> list[int]:
    return [int(next(g for g in m.groups() if g)) for m in pattern.finditer(text)]


def _vital_facts(norm: str, age_years: float | None) -> set[str]:
    """Facts from blood pressure, SpO2, respiratory rate, heart rate and GCS (age-adjusted rate limits)."""
    facts: set[str] = set()
    for m in _BP.finditer(norm):
        systolic, diastolic = int(m.group(1)), int(m.group(2))
        if systolic >= 180 or diastolic >= 120:
            facts.add("bp_crisis")
        if 40 <= systolic < 90:
            facts.add("bp_low")
    if any(40 <= v < 90 for v in _numbers(_SYSTOLIC, norm)):
        facts.add("bp_low")
    spo2 = [v for v in _numbers(_SPO2, norm) if 50 <= v <= 100]
    # A stated usual level (COPD: "my normal is 90", "평소 90%") moves the limit down to 2 points below it (not < 88).
    usual = min((v for v in _numbers(_SPO2_USUAL, norm) if 80 <= v <= 100), default=94)
    limit = min(92, max(88, usual - 2))
    if any(v < limit for v in spo2):
        facts.add("low_oxygen")
    elif any(v <= 94 for v in spo2):
        facts.add("oxygen_borderline")
    age = 30.0 if age_years is None else age_years
    fast_rr = 60 if age < 1 else 50 if age < 5 else 40 if age < 12 else 30
    if any(fast_rr <= v <= 150 for v in _numbers(_RESP_RATE, norm)):
        facts.add("fast_breathing")
    fast_hr = 160 if age < 1 else 150 if age < 5 else 140 if age < 12 else 130
    if any(fast_hr <= v <= 300 for v in _numbers(_HEART_RATE, norm)):
        facts.add("tachycardia_severe")
    if any(3 <= v < 15 for v in _numbers(_GCS, norm)):
        facts.add("gcs_reduced")
    return facts
