"""Train and evaluate the triage classifier on the labelled vignettes.

Two models are saved, both small and committed:
- ``data/model_dev/``: trained on the train split only; ``eval`` scores it on the dev split (honest numbers);
- ``data/model/``: the same recipe on every vignette (train + dev); the app uses it and ``eval`` scores it on
  the held-out challenge set.
Each model's emergency threshold is chosen on out-of-fold predictions of its own training data (5-fold,
grouped by condition), never on the data it is scored on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.triage.dataset import Vignette, load_challenge, load_vignettes, split_vignettes, write_split
from agents.triage.decision import Triager
from agents.triage.evaluate import by_group, markdown_section, metrics, plot_confusion
from agents.triage.features import EmbeddingCache, symbolic_names, symbolic_vector
from agents.triage.levels import LEVELS
from agents.triage.model import DEFAULT_C, MODEL_DIR, TriageModel, fit, without_rules
from agents.triage.policy import choose_emergency_threshold, combine
from agents.triage.rules import RuleSet
from agents.triage.topics import TopicPrior, build_topic_prior
from medtriage.paths import data_dir

DEV_MODEL_DIR = MODEL_DIR.parent / "model_dev"
REPORT_DIR = Path(__file__).resolve().parent / "reports"
FOLDS = 5
TARGET_RECALL = 0.6  # rule-blind emergency recall the threshold must reach on out-of-fold predictions
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Features:
    """Everything the classifier and policy need for a list of vignettes."""

    vignettes: list[Vignette]
    embeddings: np.ndarray
    symbolic: np.ndarray
    rule_levels: list[str | None]

    @property
    def labels(self) -> np.ndarray:
        return np.array([LEVELS.index(v.level) for v in self.vignettes])

    def subset(self, idx: np.ndarray) -> Features:
        return Features(
            [self.vignettes[i] for i in idx],
            self.embeddings[idx],
            self.symbolic[idx],
            [self.rule_levels[i] for i in idx],
        )


def _embedding_cache() -> EmbeddingCache:
    return EmbeddingCache(data_dir("triage") / "embeddings.npz")


def build_features(
    vignettes: list[Vignette], rules: RuleSet, names: list[str], progress: Progress | None = None
) -> Features:
    """Rules and cached embeddings for every vignette."""
    cache = _embedding_cache()
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embed", done, len(vignettes))

    embeddings = cache.embed([v.text for v in vignettes], progress=step)
    results = [rules.evaluate(v.text, v.age, v.sex, v.pregnant) for v in vignettes]
    symbolic = np.vstack([symbolic_vector(r, names) for r in results])
    return Features(vignettes, embeddings, symbolic, [r.level for r in results])


def out_of_fold(
    features: Features, names: list[str], topics: TopicPrior, c: float = DEFAULT_C
) -> tuple[np.ndarray, np.ndarray]:
    """Grouped k-fold out-of-fold probabilities (no condition group in its own training folds): as is, and
    rule-blind (``rule:*`` features cleared, i.e. what the classifier says when no rule fires)."""
    from sklearn.model_selection import GroupKFold

    labels = features.labels
    groups = np.array([v.group for v in features.vignettes])
    probs = np.zeros((len(labels), len(LEVELS)))
    blind = np.zeros_like(probs)
    for train_idx, test_idx in GroupKFold(n_splits=FOLDS).split(features.embeddings, labels, groups):
        part = features.subset(train_idx)
        model = fit(part.embeddings, part.symbolic, part.labels, names, topics, c)
        embeddings, symbolic = features.embeddings[test_idx], features.symbolic[test_idx]
        probs[test_idx] = model.probabilities(embeddings, symbolic)
        blind[test_idx] = model.probabilities(embeddings, without_rules(symbolic, names))
    return probs, blind


def policy_levels(probs: np.ndarray, rule_levels: list[str | None], threshold: float) -> list[str]:
    return [combine(row, rule, threshold).level for row, rule in zip(probs, rule_levels, strict=True)]


def train_model(
    features: Features, names: list[str], topics: TopicPrior, target_recall: float, label: str
) -> tuple[TriageModel, dict]:
    """Fit on all of ``features``; threshold and cross-validated metrics from its own grouped folds."""
    oof, blind = out_of_fold(features, names, topics)
    truth = [v.level for v in features.vignettes]
    threshold = choose_emergency_threshold(blind, truth, target_recall)
    model = fit(features.embeddings, features.symbolic, features.labels, names, topics)
    model.emergency_threshold = threshold
    cv = {
        "policy": metrics(truth, policy_levels(oof, features.rule_levels, threshold)),
        "classifier_only": metrics(truth, [LEVELS[i] for i in oof.argmax(axis=1)]),
        "rule_blind_emergency_recall_at_threshold": round(
            float(np.mean([row[0] >= threshold for row, t in zip(blind, truth, strict=True) if t == "emergency"])), 4
        ),
        "rules_emergency_recall": round(
            float(
                np.mean(
                    [r == "emergency" for r, t in zip(features.rule_levels, truth, strict=True) if t == "emergency"]
                )
            ),
            4,
        ),
    }
    model.info = {
        "trained_on": label,
        "n": len(truth),
        "counts": {level: truth.count(level) for level in LEVELS},
        "model": "ordinal logistic regression (Frank & Hall), rule dropout",
        "c": DEFAULT_C,
        "topic_prior": {"topics": len(topics.ids), "temperature": topics.temperature},
        "emergency_threshold": threshold,
        "emergency_threshold_target_recall": target_recall,
        "cross_validation": {"folds": FOLDS, "grouped_by": "condition group", **cv},
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    return model, model.info


def train(target_recall: float = TARGET_RECALL, progress: Progress | None = None) -> dict[str, Any]:
    """Update the split, then train and save the dev model (train split) and the app model (all vignettes)."""
    rules = RuleSet()
    names = symbolic_names(rules)
    vignettes = load_vignettes()
    folds = write_split(vignettes)
    features = build_features(vignettes, rules, names, progress)
    if progress:
        progress("corpus topics", 0, 1)
    topics = build_topic_prior(_embedding_cache().embed)
    train_idx = np.array([i for i, v in enumerate(vignettes) if folds[v.group] == "train"])
    summary = {}
    for label, idx, directory in (("train split", train_idx, DEV_MODEL_DIR), ("all vignettes", None, MODEL_DIR)):
        part = features if idx is None else features.subset(idx)
        if progress:
            progress(f"fit {label}", 0, 1)
        model, info = train_model(part, names, topics, target_recall, label)
        model.save(directory)
        summary[label] = info
    return summary


def _score(triager: Triager, cases: list[Vignette]) -> dict[str, Any]:
    decisions = triager.decide_many(
        [{"text": v.text, "age": v.age, "sex": v.sex, "pregnant": v.pregnant} for v in cases]
    )
    truth = [v.level for v in cases]
    predicted = [d.level for d in decisions]
    rules_only = [d.red_flags[0].level if d.red_flags else None for d in decisions]
    features = build_features(cases, triager.rules, triager.model.symbolic_names)
    classifier = triager.model.probabilities(features.embeddings, features.symbolic).argmax(axis=1)
    return {
        "policy": metrics(truth, predicted),
        "classifier_only": metrics(truth, [LEVELS[i] for i in classifier]),
        "rules_emergency_recall": round(
            float(np.mean([r == "emergency" for r, t in zip(rules_only, truth, strict=True) if t == "emergency"]))
            if "emergency" in truth
            else float("nan"),
            4,
        ),
        "by_language": by_group(truth, predicted, [v.language for v in cases]),
        "emergency_threshold": triager.model.emergency_threshold,
    }


def evaluate(out_dir: Path = REPORT_DIR) -> dict[str, Any]:
    """Score the dev model on the dev split and the app model on the challenge set; write JSON, Markdown, PNGs."""
    from bench.report import machine_info

    rules = RuleSet()
    _, dev = split_vignettes(load_vignettes())
    challenge = load_challenge()
    report: dict[str, Any] = {"machine": machine_info()}
    report["dev"] = _score(Triager(DEV_MODEL_DIR, rules), dev)
    report["dev"]["training"] = TriageModel.load(DEV_MODEL_DIR).info
    app = Triager(MODEL_DIR, rules)
    report["challenge"] = _score(app, challenge) if challenge else {"policy": {"n": 0}}
    report["app_model_training"] = app.model.info
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion(report["dev"]["policy"]["confusion"], "dev split (model_dev)", out_dir / "confusion_dev.png")
    if challenge:
        plot_confusion(
            report["challenge"]["policy"]["confusion"], "challenge set (app model)", out_dir / "confusion_challenge.png"
        )
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "eval.md").write_text(report_markdown(report), encoding="utf-8")
    return report


def report_markdown(report: dict[str, Any]) -> str:
    """Human-readable summary of ``evaluate``'s report."""
    dev, challenge = report["dev"], report["challenge"]
    cv = dev["training"]["cross_validation"]
    parts = [
        "# Triage evaluation",
        "",
        f"Emergency threshold (dev model): {dev['emergency_threshold']}; rules alone catch "
        f"{dev['rules_emergency_recall']} of dev emergencies; classifier alone: accuracy "
        f"{dev['classifier_only']['accuracy']}, emergency recall {dev['classifier_only']['emergency_recall']}.",
        "",
        markdown_section("Dev split (model trained on the train split)", dev["policy"]),
    ]
    parts += [markdown_section(f"Dev split, language {lang}", m) for lang, m in dev["by_language"].items()]
    parts += [
        markdown_section("Train split, grouped 5-fold out-of-fold (threshold chosen here)", cv["policy"]),
        markdown_section("Challenge set (held out; app model, trained on all vignettes)", challenge["policy"]),
    ]
    return "\n".join(parts)
