"""Condition prior from the knowledge corpus: how urgent are the corpus topics nearest to a message.

Every topic of the bundled corpus (``knowledge/corpus``, Korean and English) carries a general urgency
(emergency / urgent / routine / self_care), written independently of the triage vignettes. A message's e5 embedding
is compared with each topic's embedding (title + overview + symptoms, Korean and English averaged) and a sharp
softmax over the similarities gives a distribution over the four levels. It brings condition knowledge to conditions
the vignettes do not cover (e.g. migraine and cystitis are routine, tension headache and cold sores self-care); the
classifier weighs it against everything else. The topic vectors are computed when training and saved with the model,
so inference never reads the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agents.triage.levels import LEVELS

TEMPERATURE = 0.005  # softmax temperature over cosine similarities (chosen by grouped cross-validation)
SECTIONS = ("overview", "symptoms")


@dataclass(frozen=True)
class TopicPrior:
    """Topic vectors (L2-normalised) and each topic's urgency (index into ``LEVELS``)."""

    ids: tuple[str, ...]
    vectors: np.ndarray  # (n_topics, EMBED_DIM)
    levels: np.ndarray  # (n_topics,)
    temperature: float = TEMPERATURE

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 4) distribution over ``LEVELS``: similarity-weighted urgency of the nearest topics."""
        similarity = embeddings @ self.vectors.T.astype(np.float32)
        weights = np.exp((similarity - similarity.max(axis=1, keepdims=True)) / self.temperature)
        weights /= weights.sum(axis=1, keepdims=True)
        return weights @ np.eye(len(LEVELS), dtype=np.float32)[self.levels]


def topic_texts() -> list[tuple[str, str, str]]:
    """(topic id, urgency, text) per corpus file: the title and the overview and symptoms sections."""
    from knowledge.corpus import corpus_files, load_corpus_file

    rows = []
    for path in corpus_files():
        docs = {d.section: d for d in load_corpus_file(path)}
        parts = [d.text for section, d in docs.items() if section in SECTIONS]
        if parts:
            first = next(iter(docs.values()))
            rows.append((first.topic_id, first.urgency, "\n".join([first.title, *parts])))
    return rows


def build_topic_prior(embed: Callable[[Sequence[str]], np.ndarray]) -> TopicPrior:
    """Embed the corpus topics with ``embed(texts) -> (n, EMBED_DIM)`` (e.g. a cached embedder)."""
    rows = topic_texts()
    vectors = embed([text for _, _, text in rows])
    ids = sorted({topic for topic, _, _ in rows})
    urgency = {topic: level for topic, level, _ in rows}
    matrix = np.vstack([vectors[[i for i, row in enumerate(rows) if row[0] == topic]].mean(axis=0) for topic in ids])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return TopicPrior(tuple(ids), matrix.astype(np.float32), np.array([LEVELS.index(urgency[t]) for t in ids]))
