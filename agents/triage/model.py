"""The triage classifier: multinomial logistic regression over [e5 embedding, rule/concept/fact features].

Weights are plain arrays in ``model.npz`` plus names and settings in ``model.json`` (a few hundred KB, no
pickles); inference is numpy only. Training uses scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.triage.features import EMBED_DIM
from agents.triage.levels import LEVELS

MODEL_DIR = Path(__file__).resolve().parent / "data" / "model"
# Block weights after standardising: the symbolic (rule/concept/fact) block generalises to unseen conditions better
# than the embedding, so it gets the larger share of the L2 budget (chosen by grouped cross-validation).
EMBED_WEIGHT = 5.0 / np.sqrt(EMBED_DIM)
SYMBOLIC_WEIGHT = 4.0
DEFAULT_C = 0.3


@dataclass
class TriageModel:
    """Weights and settings of one trained classifier."""

    symbolic_names: list[str]
    embed_mean: np.ndarray
    embed_scale: np.ndarray  # includes EMBED_WEIGHT
    coef: np.ndarray  # (len(LEVELS), EMBED_DIM + len(symbolic_names))
    intercept: np.ndarray
    emergency_threshold: float = 0.5
    info: dict[str, Any] = field(default_factory=dict)

    def design(self, embeddings: np.ndarray, symbolic: np.ndarray) -> np.ndarray:
        """The scaled design matrix the weights apply to."""
        return np.hstack([(embeddings - self.embed_mean) / self.embed_scale, symbolic * SYMBOLIC_WEIGHT])

    def probabilities(self, embeddings: np.ndarray, symbolic: np.ndarray) -> np.ndarray:
        """(n, 4) level probabilities, columns in ``LEVELS`` order."""
        logits = self.design(embeddings, symbolic) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, directory: Path = MODEL_DIR) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            directory / "model.npz",
            embed_mean=self.embed_mean.astype(np.float32),
            embed_scale=self.embed_scale.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
        )
        meta = {
            "levels": list(LEVELS),
            "symbolic_names": self.symbolic_names,
            "symbolic_weight": SYMBOLIC_WEIGHT,
            "emergency_threshold": self.emergency_threshold,
            "info": self.info,
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> TriageModel:
        meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        if tuple(meta["levels"]) != LEVELS or meta["symbolic_weight"] != SYMBOLIC_WEIGHT:
            raise ValueError(f"{directory}: model saved with other levels or feature weights; retrain it")
        with np.load(directory / "model.npz") as arrays:
            return cls(
                symbolic_names=list(meta["symbolic_names"]),
                embed_mean=arrays["embed_mean"],
                embed_scale=arrays["embed_scale"],
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
    embeddings: np.ndarray, symbolic: np.ndarray, labels: np.ndarray, names: list[str], c: float = DEFAULT_C
) -> TriageModel:
    """Fit the classifier (labels are indices into ``LEVELS``); the threshold is set by the caller.

    Rule dropout: every case is seen twice, with and without its ``rule:*`` features, so the classifier also
    learns to recognise emergencies from the concepts and the text when no rule fires (unseen conditions).
    Without it the classifier copies the rules and adds no safety net.
    """
    from sklearn.linear_model import LogisticRegression

    mean = embeddings.mean(axis=0)
    scale = (embeddings.std(axis=0) + 1e-6) / EMBED_WEIGHT
    model = TriageModel(names, mean, scale, np.zeros((len(LEVELS), 1)), np.zeros(len(LEVELS)))
    if sorted(set(labels.tolist())) != list(range(len(LEVELS))):
        raise ValueError("training data must contain every triage level")
    clf = LogisticRegression(C=c, max_iter=5000)
    design = model.design(embeddings, symbolic)
    blind = model.design(embeddings, without_rules(symbolic, names))
    clf.fit(np.vstack([design, blind]), np.concatenate([labels, labels]))
    model.coef, model.intercept = clf.coef_, clf.intercept_
    return model
