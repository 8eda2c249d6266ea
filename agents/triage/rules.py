"""Deterministic red-flag rules: concepts found in the text plus patient facts force a minimum triage level.

Rules live in ``data/rules/*.yaml`` and concepts in ``data/lexicon/*.yaml``; every name a rule uses must be a
concept or a fact from :mod:`agents.triage.context`, checked when the rules load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from agents.triage.context import FACTS, PatientContext, build_context
from agents.triage.levels import DATA_DIR, LEVELS, RANK
from agents.triage.matcher import Findings, Lexicon


@dataclass(frozen=True)
class Rule:
    """One red flag: the level it forces and when it fires."""

    id: str
    level: str
    groups: tuple[frozenset[str], ...]  # every group needs one present name
    explain: dict[str, str]
    at_least: tuple[int, frozenset[str]] | None = None
    none: frozenset[str] = frozenset()
    unless_denied: frozenset[str] = frozenset()
    denied: frozenset[str] = frozenset()  # names that must be explicitly denied ("no plan")

    def names(self) -> set[str]:
        names = set().union(*self.groups, self.none, self.unless_denied, self.denied)
        return names | (set(self.at_least[1]) if self.at_least else set())

    def fires(self, present: set[str], findings: Findings) -> bool:
        if not all(group & present for group in self.groups):
            return False
        if self.at_least and len(self.at_least[1] & present) < self.at_least[0]:
            return False
        if self.none & present:
            return False
        if not all(findings.denied(name) for name in self.denied):
            return False
        return not any(findings.denied(name) for name in self.unless_denied)


@dataclass(frozen=True)
class RuleResult:
    """Everything the rules saw in one text."""

    hits: list[Rule]  # most urgent first
    findings: Findings
    context: PatientContext
    present: frozenset[str]  # present concepts and facts

    @property
    def level(self) -> str | None:
        """The most urgent level forced by a rule, or None when no rule fired."""
        return self.hits[0].level if self.hits else None


def _load_rule(spec: dict) -> Rule:
    at_least = spec.get("at_least")
    return Rule(
        id=spec["id"],
        level=spec["level"],
        groups=tuple(frozenset(group) for group in spec.get("all", [])),
        explain=dict(spec["explain"]),
        at_least=(int(at_least[0]), frozenset(at_least[1])) if at_least else None,
        none=frozenset(spec.get("none", [])),
        unless_denied=frozenset(spec.get("unless_denied", [])),
        denied=frozenset(spec.get("denied", [])),
    )


class RuleSet:
    """The lexicon and the red-flag rules, loaded and cross-checked once."""

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        self.lexicon = Lexicon.from_yaml((data_dir / "lexicon").glob("*.yaml"))
        self.rules: list[Rule] = []
        for path in sorted((data_dir / "rules").glob("*.yaml")):
            self.rules.extend(_load_rule(spec) for spec in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"])
        self._check()

    def _check(self) -> None:
        known = set(self.lexicon.concepts) | set(FACTS)
        ids = [rule.id for rule in self.rules]
        problems = [f"duplicate rule id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
        for rule in self.rules:
            if rule.level not in LEVELS:
                problems.append(f"{rule.id}: unknown level {rule.level}")
            if not rule.groups:
                problems.append(f"{rule.id}: no `all` groups")
            if set(rule.explain) != {"en", "ko"}:
                problems.append(f"{rule.id}: explain needs exactly en and ko")
            problems += [f"{rule.id}: unknown name {name}" for name in sorted(rule.names() - known)]
        if problems:
            raise ValueError("invalid triage rules: " + "; ".join(problems))

    def evaluate(
        self, text: str, age: float | None = None, sex: str | None = None, pregnant: bool | None = None
    ) -> RuleResult:
        """Find concepts, build the patient context and fire every matching rule."""
        findings = self.lexicon.find(text)
        context = build_context(text, age, sex, pregnant, pregnancy_mentioned=findings.present("pregnancy"))
        present = frozenset(findings.present_set() | context.facts)
        hits = [rule for rule in self.rules if rule.fires(set(present), findings)]
        hits.sort(key=lambda rule: -RANK[rule.level])
        return RuleResult(hits, findings, context, present)
