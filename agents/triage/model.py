"""The triage classifier: ordinal logistic regression over [e5 embedding, rule/concept/fact features, topic prior].

The levels are ordered (emergency > urgent > routine > self_care), so the model is ordinal (Frank & Hall): three
binary logistic regressions estimate P(at least as urgent as emergency / urgent / routine) and the level
probabilities are their differences. Sharing the order generalises better to unseen conditions than a 4-way
multinomial model (grouped cross-validation). Weights are plain arrays in ``model.npz`` plus names and settings in
``model.json`` (a few hundred KB, no pickles); inference is numpy only. Training uses scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.triage.features import EMBED_DIM
from agents.triage.levels import LEVELS
from agents.triage.topics import TopicPrior

MODEL_DIR = Path(__file__).resolve().parent / "data" / "model"
# Block weights after standardising: the symbolic (rule/concept/fact) block and the topic prior generalise to unseen
# conditions better than the raw embedding, so they get the larger share of the L2 budget (grouped cross-validation).
EMBED_WEIGHT = 5.0 / np.sqrt(EMBED_DIM)
SYMBOLIC_WEIGHT = 3.0
DEFAULT_C = 0.05
FORMAT = "ordinal-topic-v1"


@dataclass
class TriageModel:
    """Weights and settings of one trained classifier."""

    symbolic_names: list[str]
    embed_mean: np.ndarray
    embed_scale: np.ndarray  # includes EMBED_WEIGHT
    topics: TopicPrior
    coef: np.ndarray  # (len(LEVELS) - 1, EMBED_DIM + len(symbolic_names) + len(LEVELS)): one row per cut
    intercept: np.ndarray
    emergency_threshold: float = 0.5
    info: dict[str, Any] = field(default_factory=dict)

    def design(self, embeddings: np.ndarray, symbolic: np.ndarray) -> np.ndarray:
        """The scaled design matrix the weights apply to: embedding, symbolic features, topic prior."""
        scaled = (embeddings - self.embed_mean) / self.embed_scale
        return np.hstack([scaled, symbolic * SYMBOLIC_WEIGHT, self.topics(embeddings) * SYMBOLIC_WEIGHT])

    def probabilities(self, embeddings: np.ndarray, symbolic: np.ndarray) -> np.ndarray:
        """(n, 4) level probabilities, columns in ``LEVELS`` order."""
        logits = self.design(embeddings, symbolic) @ self.coef.T + self.intercept
        at_least = np.maximum.accumulate(1.0 / (1.0 + np.exp(-logits)), axis=1)  # P(level <= cut), monotone
        return np.hstack([at_least[:, :1], np.diff(at_least, axis=1), 1.0 - at_least[:, -1:]])

    def save(self, directory: Path = MODEL_DIR) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            directory / "model.npz",
            embed_mean=self.embed_mean.astype(np.float32),
            embed_scale=self.embed_scale.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            topic_vectors=self.topics.vectors.astype(np.float16),
            topic_levels=self.topics.levels.astype(np.int8),
        )
        meta = {
            "format": FORMAT,
            "levels": list(LEVELS),
            "symbolic_names": self.symbolic_names,
            "symbolic_weight": SYMBOLIC_WEIGHT,
            "topic_ids": list(self.topics.ids),
            "topic_temperature": self.topics.temperature,
            "emergency_threshold": self.emergency_threshold,
            "info": self.info,
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> TriageModel:
        meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        if (
            meta.get("format") != FORMAT
            or tuple(meta["levels"]) != LEVELS
            or meta["symbolic_weight"] != SYMBOLIC_WEIGHT
        ):
            raise ValueError(f"{directory}: model saved in another format or with other feature weights; retrain it")
        with np.load(directory / "model.npz") as arrays:
            topics = TopicPrior(
                tuple(meta["topic_ids"]),
                arrays["topic_vectors"].astype(np.float32),
                arrays["topic_levels"].astype(int),
                float(meta["topic_temperature"]),
            )
            return cls(
                symbolic_names=list(meta["symbolic_names"]),
                embed_mean=arrays["embed_mean"],
                embed_scale=arrays["embed_scale"],
                topics=topics,
                coef=arrays["coef"],
                intercept=arrays["intercept"],
                emergency_threshold=float(meta["emergency_threshold"]),
                info=meta.get("info", {}),
            )


def without_rules(symbolic: np.ndarray, names: list[str]) -> np.ndarray:
    """A copy of the symbolic block with the ``rule:*`` features cleared (as if no red-flag rule had fired)."""
    blind = symbolic.copy()
    blind[:, [i for i, name in enumerate(names) if name.startswith("rule:")]] = 0.0
    return blind


def fit(
    embeddings: np.ndarray,
    symbolic: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    topics: TopicPrior,
    c: float = DEFAULT_C,
) -> TriageModel:
    """Fit the classifier (labels are indices into ``LEVELS``); the threshold is set by the caller.

    Rule dropout: every case is seen twice, with and without its ``rule:*`` features, so the classifier also
    learns to recognise emergencies from the concepts and the text when no rule fires (unseen conditions).
    Without it the classifier copies the rules and adds no safety net.
    """
    from sklearn.linear_model import LogisticRegression

    if sorted(set(labels.tolist())) != list(range(len(LEVELS))):
        raise ValueError("training data must contain every triage level")
    mean = embeddings.mean(axis=0)
    scale = (embeddings.std(axis=0) + 1e-6) / EMBED_WEIGHT
    model = TriageModel(names, mean, scale, topics, np.zeros((len(LEVELS) - 1, 1)), np.zeros(len(LEVELS) - 1))
    design = np.vstack([model.design(embeddings, symbolic), model.design(embeddings, without_rules(symbolic, names))])
    doubled = np.concatenate([labels, labels])
    cuts = [LogisticRegression(C=c, max_iter=5000).fit(design, (doubled <= cut).astype(int)) for cut in range(3)]
    model.coef = np.vstack([clf.coef_[0] for clf in cuts])
    model.intercept = np.array([clf.intercept_[0] for clf in cuts])
    return model
