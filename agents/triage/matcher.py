"""Find clinical concepts (symptoms, risk factors) in Korean or English text, negation- and history-aware.

A concept is a set of regular expressions per language (``data/lexicon/*.yaml``). Pattern syntax on top of
Python regex:

- English patterns are wrapped in letter boundaries, so ``pain`` does not match inside "painting"; a space also
  accepts a Korean particle glued to the previous English word ("throat이 closing").
- In Korean patterns a space means "optional whitespace" (spacing varies: "숨이 안 쉬어져요" / "숨이안쉬어져요").
- ``{p}``: an optional Korean particle (이/가/은/는/을/를/도/에/...).
- ``{name}``: a macro from the lexicon's ``macros`` table for that language (e.g. ``{pain}`` -> 아프|아파|통증...).
- ``{gap}``: a short filler (up to 3 English words or 10 Korean characters). Negation cues inside a filler count
  ("가슴은 안 아파요" matches ``가슴{p} {gap}아파`` but is negated), cues in the literal pattern do not
  ("숨이 안 쉬어져요" is a symptom, not a negation).

A mention is *negated* when a cue governs it: English cues before it ("no", "denies", "without", "don't have")
within its clause, or after it ("chest pain: none"); Korean cues after it in the same clause ("통증은 없어요",
"차지는 않아요", "열 없이", and the written register: "호흡곤란은 부인한다", "동반하지 않는다", "관찰되지 않음",
"발열(-)", "케톤 음성") or just before it ("전혀", "안"). Lists of pertinent negatives stretch the window ("no
fever, chills, night sweats or shortness of breath", "두통, 복시, 말 어눌함은 없다"); a contrastive clause ends
it ("두통이 있으나 구토는 없다" negates only the vomiting). A mention is *historical* when the clause says it
happened long ago ("history of", "years ago", "예전에", "작년에", "~한 적이 있어요"); concepts marked
``acute`` ignore historical mentions.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HANGUL = re.compile(r"[\uac00-\ud7a3]")
KO_PARTICLE = r"(?:이|가|은|는|을|를|도|에|에서|의|이랑|랑|하고|과|와|만|까지|부터|께서|이가)?"
EN_GAP = r"(?:[\w'/-]+\s+){{0,3}}?"
EN_SPACE = r"[가-힣]{0,3}\s+"  # mixed text attaches Korean particles to English words ("throat이 closing")
KO_GAP = r"[^.!?\n]{{0,10}}?"

# ---- English scope ---------------------------------------------------------------------------------------------
EN_BOUNDARY = re.compile(r"[.;:!?\n]|\b(?:but|however|although|though|except|whereas|while)\b")
EN_NEG_CUE = re.compile(
    r"\b(?:no|not|nor|never|none|nowhere|denies|denied|deny|denying|without|negative for|free of|"
    r"absence of|absent|(?:do|does|did|have|has|had|is|are|was|were)(?:n't|nt| not))\b"
)
# Phrases that look like negations but report a problem ("not getting better", "can't stop bleeding").
EN_PSEUDO_NEG = re.compile(
    r"\b(?:not only|not sure|not certain|not able|unable|no longer|not improving|not getting better|no better|"
    r"not better|no improvement|no relief|not helping|not working|(?:do|does|did|will|wo|can|could)(?:n't|nt| not)"
    r" (?:stop|go away|help|work|improve|settle|ease|get better)|"
    r"(?:has|have)(?:n't|nt| not) (?:stopped|gone away|settled|eased|improved|got better|helped)|"
    r"(?:is|are)(?:n't|nt| not) (?:stopping|going away|settling|easing|improving|getting better))\b"
)
# Between the cue and the mention, these end the cue's scope ("no fever, now has crushing chest pain").
EN_SCOPE_END = re.compile(
    r"\b(?:which|who|now|then|since|also|still|plus|just|only|instead|rather|presents?|presented|reports?|reported|complains?|"
    r"complained|started|starts|began|begins|developed|noticed|woke|today|tonight|suddenly|yesterday)\b|"
    r"(?:\band\b|,)\s*(?:i|he|she|they|it)?\s*(?:is|are|was|were|has|have|had|having|got|gets|feels?|felt|"
    r"'s|'m)\b"
)
EN_SEVERE_WORDS = re.compile(
    r"\b(?:severe|sudden|suddenly|crushing|worst|bad|terrible|heavy|sharp|tearing|intense|extreme|new|very|"
    r"really|awful|excruciating|constant)\b"
)
EN_AUXILIARY_LEAD = re.compile(
    r"^(?:(?:been|had|have|having|got|experienced|experiencing|noticed|felt|feel|feeling|any|a|an|the|much|"
    r"significant|really|real|other|complain of|complained of|report|reported|show|showing|signs? of)\s+)+"
)
# "chest pain: none", "fever - no", "fever (-)": a cue right after the mention, never across a sentence end
EN_POST_NEG = re.compile(
    r"^\s*[:=\-\u2013\u2014]?\s*(?:none|no|absent|denied|negative|nil)\b|^\s*\(\s*[-\u2212]\s*\)|"
    r"^\s*(?:is|was|are|were|has been|have been)\s+(?:absent|denied|negative|not present)\b"
)
EN_HISTORY_PRE = re.compile(
    r"\b(?:history of|h/o|hx of|family history|previous|prior|past|years ago|as a child|used to|had an? .{0,20}"
    r"years ago)\b"
)
EN_HISTORY_POST = re.compile(r"^[^.;!?]{0,40}?\b(?:years? ago|as a (?:child|kid)|in the past|last year|in \d{4})\b")
EN_PRE_WORDS = 7  # words between a cue and its mention, not counting list separators ("no fever, chills or ...")
EN_LIST_WORD = re.compile(r"(?:,|;)$|^(?:or|and|nor|and/or)$")
EN_MAX_WORDS = 20
EN_WINDOW_CHARS = 200  # look-back limit: keeps long texts linear

# ---- Korean scope ----------------------------------------------------------------------------------------------
KO_BOUNDARY = re.compile(r"[.!?;\n]")
KO_NEG_CUE = re.compile(
    r"않|없|아니|아녜|아닌|괜찮|전혀|(?:^|\s)안(?:\s|$)|별로|하나도|못\s*느|못\s*봤|"
    # written register: "부인한다", "부정하였다", "케톤 음성", "발열(-)"
    r"(?:부인|부정)\s*(?:하|한|함|했|됨|되)|음성(?:이|으로|임|입|$)|\(\s*[-−]\s*\)"
)
KO_PRE_NEG = re.compile(r"(?:전혀|별로|하나도|안|한\s*번도|한번도)\s*$")
KO_GAP_NEG = re.compile(r"(?:^|\s)(?:안|전혀|별로|하나도)(?:\s|$)|않|없|아니")
# Phrases that contain a negation cue but report a problem ("열이 안 떨어져요", "숨을 쉴 수 없어요", "멈추지 않아요").
KO_PSEUDO_NEG = re.compile(
    r"(?:안|못)\s*(?:떨어|내려|멈|그치|나아|낫|없어지|가라앉|돌아오|돌아와|좋아|들어|돼|되|쉬어|쉬|움직|일어나|깨|먹|마시|"
    r"잡히|보여|보이|들려|참|서|걷|펴|구부|삼키|나와|나오)|"
    r"(?:좋아|나아|괜찮아|줄어|가라앉|낫|멎|멈추|그치|없어지|사라지|떨어지|내려가|풀리|돌아오)지(?:를|는|가|도)?\s*(?:않|못)|"
    r"(?:좋아|나아)질\s*(?:기미|생각)(?:이|가|도)?\s*없|(?:수|수가|수도)\s*(?:없|업)|참을\s*수|견딜\s*수|"
    r"효과(?:가|도|는)?\s*없|소용(?:이|도)?\s*없|차도(?:가|도)?\s*없|(?:정신|의식|기운|힘|감각|대답|반응)(?:이|도|은)?\s*없|"
    r"어쩔\s*줄|끊임없|쉴\s*새\s*없|정신없"
)
# A word ending like this closes its clause: the next word is outside the mention's scope.
KO_CLAUSE_END = re.compile(
    r"(?:고|며|서|지만|는데|은데|ㄴ데|니까|면서|다가|요|다|죠|네|음|함|고요|는데요|어서|아서|해서|더니|자|으나|하나)$"
)
# Words that continue a list of findings ("두통, 복시, 말 어눌함은 없다", "구토나 설사는"): not counted in the window.
KO_LIST_WORD = re.compile(r"(?:,|、|및|또는|혹은|(?<![하있없으])이나|거나|(?<![하있없으이])나)$")
KO_MAX_WORDS = 16
KO_HISTORY_PRE = re.compile(
    r"예전에|과거에|작년에|재작년|몇\s*년\s*전|\d+\s*년\s*전|어릴\s*때|어렸을\s*때|옛날에|가족력"
)
KO_HISTORY_POST = re.compile(r"^\S*\s*(?:\S+\s+)?적(?:이|은|도)?\s*있")
KO_POST_WORDS = 6


@dataclass(frozen=True)
class Mention:
    """One match of a concept pattern in the normalised text."""

    concept: str
    start: int
    end: int
    text: str
    negated: bool
    historical: bool


def normalise(text: str) -> str:
    """NFKC, lower case, straight apostrophes, single spaces (matching and the model see the same text)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def expand_pattern(pattern: str, language: str, macros: dict[str, str] | None = None) -> str:
    """Expand the pattern macros ({p}, {gap}, {name}, Korean optional spaces, English letter boundaries)."""
    for name, value in (macros or {}).items():
        pattern = pattern.replace("{" + name + "}", value)
    if language == "ko":
        pattern = _replace_spaces(pattern, r"\s*").replace("{p}", KO_PARTICLE)
        return re.sub(r"\{gap\}", lambda _: f"(?P<gap{next(_GAP_IDS)}>{KO_GAP.format()})", pattern)
    pattern = _replace_spaces(pattern, EN_SPACE)
    pattern = re.sub(r"\{gap\}", lambda _: f"(?P<gap{next(_GAP_IDS)}>{EN_GAP.format()})", pattern)
    return rf"(?<![a-z])(?:{pattern})(?![a-z])"


_GAP_IDS = itertools.count()  # {gap} group names must be unique within one alternation


def _replace_spaces(pattern: str, replacement: str) -> str:
    """Replace literal spaces outside character classes ("shoulder[- ]tip" keeps its class intact)."""
    out: list[str] = []
    in_class = escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == " " and not in_class:
            out.append(replacement)
            continue
        out.append(char)
    return "".join(out)


def compile_patterns(patterns: list[str], language: str, macros: dict[str, str] | None = None) -> re.Pattern[str]:
    """One alternation of all of a concept's patterns in one language (one regex scan per concept)."""
    return re.compile("|".join(f"(?:{expand_pattern(p, language, macros)})" for p in patterns))


def _gaps(match: re.Match[str]) -> list[str]:
    return [value for name, value in match.groupdict().items() if name.startswith("gap") and value]


def _english_window(text: str, start: int) -> str:
    """The clause before ``start``: up to ``EN_PRE_WORDS`` words, list separators ("fever, chills or") not counted."""
    before = text[max(0, start - EN_WINDOW_CHARS) : start]
    cut = max((m.end() for m in EN_BOUNDARY.finditer(before)), default=0)
    words = before[cut:].split()[-EN_MAX_WORDS:]
    kept: list[str] = []
    counted = 0
    for word in reversed(words):
        if not EN_LIST_WORD.search(word):
            counted += 1
            if counted > EN_PRE_WORDS:
                break
        kept.append(word)
    return " ".join(reversed(kept))


def _english_negated(text: str, match: re.Match[str]) -> bool:
    window = EN_PSEUDO_NEG.sub(" ", _english_window(text, match.start()))
    cues = list(EN_NEG_CUE.finditer(window))
    if cues:
        between = window[cues[-1].end() :].strip()
        between = EN_AUXILIARY_LEAD.sub("", between)
        scope_ended = bool(EN_SCOPE_END.search(between))
        if "," in between and EN_SEVERE_WORDS.search(between.rsplit(",", 1)[1]):
            scope_ended = True
        if not scope_ended:
            return True
    after = text[match.end() : match.end() + 40]
    if EN_POST_NEG.search(after[:40]):
        return True
    return any(EN_NEG_CUE.search(EN_PSEUDO_NEG.sub(" ", gap)) for gap in _gaps(match))


def _english_historical(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - EN_WINDOW_CHARS) : match.start()]
    cut = max((m.end() for m in EN_BOUNDARY.finditer(before)), default=0)
    window = " ".join(before[cut:].split()[-EN_PRE_WORDS:])
    return bool(
        EN_HISTORY_PRE.search(window) or EN_HISTORY_POST.search(text[match.end() : match.end() + EN_WINDOW_CHARS])
    )


def _korean_after(text: str, end: int) -> str:
    """The rest of the mention's word plus up to ``KO_POST_WORDS`` words, stopping where a clause ends."""
    rest = text[end : end + 80]
    stop = KO_BOUNDARY.search(rest)
    if stop:
        rest = rest[: stop.start()]
    words = [""] + rest.split() if rest[:1].isspace() else rest.split()
    kept: list[str] = []
    counted = 0
    for word in words[:KO_MAX_WORDS]:
        kept.append(word)
        if word and KO_CLAUSE_END.search(word) and not KO_NEG_CUE.search(word):
            break
        if not KO_LIST_WORD.search(word):
            counted += 1
            if counted > KO_POST_WORDS:
                break
    return " ".join(kept)


def _korean_negated(text: str, match: re.Match[str]) -> bool:
    if any(KO_GAP_NEG.search(KO_PSEUDO_NEG.sub(" ", gap)) for gap in _gaps(match)):
        return True
    return _korean_cue_before(text, match.start()) or _korean_cue_after(text, match.end())


def _korean_cue_before(text: str, start: int) -> bool:
    before = KO_BOUNDARY.split(text[max(0, start - 8) : start])[-1]
    return bool(KO_PRE_NEG.search(before))


def _korean_cue_after(text: str, end: int) -> bool:
    after = KO_PSEUDO_NEG.sub(" ", _korean_after(text, end))
    return bool(KO_NEG_CUE.search(after))


def _mixed_negated(text: str, match: re.Match[str]) -> bool:
    """An English term inside Korean text ("fever 없고", "chest pain은 없어요") takes Korean cues after it."""
    return _english_negated(text, match) or _korean_cue_after(text, match.end())


def _korean_historical(text: str, match: re.Match[str]) -> bool:
    before = KO_BOUNDARY.split(text[max(0, match.start() - 30) : match.start()])[-1]
    return bool(KO_HISTORY_PRE.search(before) or KO_HISTORY_POST.search(text[match.end() : match.end() + 20]))


def _historical(text: str, match: re.Match[str], has_hangul: bool) -> bool:
    return _english_historical(text, match) or (has_hangul and _korean_historical(text, match))


@dataclass(frozen=True)
class Concept:
    """A clinical concept: compiled patterns per language; ``acute`` concepts ignore historical mentions."""

    id: str
    patterns: dict[str, re.Pattern[str]]
    acute: bool = True


@dataclass(frozen=True)
class Findings:
    """The mentions of every concept found in one text."""

    mentions: dict[str, list[Mention]]
    acute: frozenset[str]

    def present(self, concept: str) -> bool:
        """Mentioned and affirmed (not negated; for acute concepts, not only in the past)."""
        return any(
            not m.negated and not (m.historical and concept in self.acute) for m in self.mentions.get(concept, [])
        )

    def denied(self, concept: str) -> bool:
        """Mentioned, and every mention is negated ("no chest pain", "숨은 안 차요")."""
        found = self.mentions.get(concept, [])
        return bool(found) and all(m.negated for m in found)

    def present_set(self) -> set[str]:
        return {c for c in self.mentions if self.present(c)}


class Lexicon:
    """A set of concepts, loaded from YAML files (``macros`` and ``concepts`` tables), matched on one text."""

    def __init__(self, concepts: Iterable[Concept]) -> None:
        self.concepts = {c.id: c for c in concepts}

    @classmethod
    def from_yaml(cls, paths: Iterable[Path]) -> Lexicon:
        import yaml

        tables = [yaml.safe_load(Path(p).read_text(encoding="utf-8")) or {} for p in sorted(paths)]
        macros: dict[str, dict[str, str]] = {"ko": {}, "en": {}}
        for table in tables:
            for language, values in (table.get("macros") or {}).items():
                macros[language].update(values)
        concepts: list[Concept] = []
        for table in tables:
            for cid, spec in (table.get("concepts") or {}).items():
                if any(c.id == cid for c in concepts):
                    raise ValueError(f"concept {cid!r} defined twice")
                compiled = {
                    lang: compile_patterns(spec[lang], lang, macros[lang]) for lang in ("en", "ko") if spec.get(lang)
                }
                concepts.append(Concept(cid, compiled, bool(spec.get("acute", True))))
        return cls(concepts)

    def find(self, text: str) -> Findings:
        """Mentions of every concept in ``text`` (normalised here), with negation and history status."""
        text = normalise(text)
        has_hangul = HANGUL.search(text) is not None
        found: dict[str, list[Mention]] = {}
        for concept in self.concepts.values():
            for language, pattern in concept.patterns.items():
                if language == "ko" and not has_hangul:
                    continue
                negated = _korean_negated if language == "ko" else _mixed_negated if has_hangul else _english_negated
                for match in pattern.finditer(text):
                    mention = Mention(
                        concept.id,
                        match.start(),
                        match.end(),
                        match.group(0),
                        negated(text, match),
                        _historical(text, match, has_hangul),
                    )
                    found.setdefault(concept.id, []).append(mention)
        return Findings(found, frozenset(c.id for c in self.concepts.values() if c.acute))
