"""Language of a patient message: ``"ko"``, ``"en"``, another ISO 639-1 code, or ``"unknown"``.

Order of evidence: scripts first (Hangul -> ko, kana -> ja, Han only -> zh), then an English word list for
Latin text (langdetect misreads short English: "chest pain" -> fr, "fever" -> no), then seeded langdetect.
Mixed Korean/English text counts as Korean when Hangul carries a meaningful share of it.
"""

from __future__ import annotations

import re
import threading
import unicodedata

from langdetect import DetectorFactory, LangDetectException, detect_langs

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
KANA = re.compile(r"[\u3040-\u30ff]")
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

# One Hangul syllable carries about as much as 2.5 Latin letters; above this weighted share, the text is Korean.
HANGUL_WEIGHT = 2.5
KOREAN_SHARE = 0.3
ENGLISH_SHARE = 0.5  # share of Latin words found in ENGLISH_WORDS that makes a text English without langdetect
MIN_LANGDETECT_PROB = 0.6

_ENGLISH_WORD_LIST = """
    a about after again ago all also am an and any are arm arms as at ate baby back bad be been before behind
    belly bite bitten bleeding blood blurry body bone bowel brain breath breathe breathing burn burning but by can
    cannot cant can't chest child chills cold confused constipation cough coughing cramps cut daughter day days
    diarrhea did dizzy do does doesn't don't dont ear ears eat eating eye eyes face faint fainted fall fast fell
    feel feeling feels felt fever few finger fingers flu foot for from had has have having he head headache
    heart heavy help her hers high him his hour hours how hurt hurts i i'm im in infant is it itch itching itchy
    its it's jaw just knee last left leg legs lip lips little lost lot low lump major man me mild minor month
    months more morning mouth much my nausea neck night no nose not now numb of off on one or our pain painful
    pains passed period pills pregnant pressure rash red right runny scratch severe she short shortness sick
    side since skin sleep slurred small sneezing so some son sore speak spots stiff stomach stool stuck sudden
    suddenly sweating swelling swollen symptoms than that the them then there they this three throat tired to
    today toe tongue too two up urine vomit vomited vomiting was water weak week weeks were what when wheezing
    which while who whole why with without woman worse worst wound year years yellow yesterday you your hi hello
    hey thanks please ok okay yes pee poo tummy temp bp mg ml dizziness dizzy diarrhoea nauseous headaches
    throwing puking coughed sneeze lump rashes swollen itchy aches aching sore sores spot blister blisters
    bruise bruised sprain sprained twisted stung sting bump bumped chills sweats wheeze wheezy fainting
    breathless tight tightness pressure weakness numbness tingling slurring drooping droop seizure fit
    unconscious unresponsive bleed bled blood bloody period pregnant weeks old kid kids toddler newborn"""
ENGLISH_WORDS = frozenset(_ENGLISH_WORD_LIST.split())

_detector_lock = threading.Lock()
DetectorFactory.seed = 0  # langdetect is random without a seed


def _langdetect(text: str) -> str:
    with _detector_lock:
        try:
            candidates = detect_langs(text)
        except LangDetectException:
            return "unknown"
    best = candidates[0]
    if best.prob < MIN_LANGDETECT_PROB:
        return "unknown"
    return best.lang.split("-")[0]  # zh-cn / zh-tw -> zh


def detect_language(text: str | None) -> str:
    """ISO 639-1 code of ``text`` ("ko", "en", ...) or "unknown" for empty or undecidable text."""
    if not text:
        return "unknown"
    text = unicodedata.normalize("NFKC", text)
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "unknown"
    hangul = len(HANGUL.findall(text))
    if hangul:
        weighted = hangul * HANGUL_WEIGHT
        if weighted / (weighted + len(letters) - hangul) >= KOREAN_SHARE:
            return "ko"
    if KANA.search(text):
        return "ja"
    if HAN.search(text) and not re.search(r"[A-Za-z]{3,}", text):
        return "zh"
    words = LATIN_WORD.findall(text.lower())
    ascii_letters = sum(c.isascii() for c in letters)
    if words and ascii_letters / len(letters) > 0.9:
        known = sum(w in ENGLISH_WORDS for w in words)
        if known / len(words) >= ENGLISH_SHARE:
            return "en"
    return _langdetect(text)
