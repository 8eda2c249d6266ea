"""Precomputed e5 vectors of the bundled corpus, shipped with it so a first build takes seconds, not minutes.

Vectors are keyed by chunk id; a chunk id hashes the exact text that was embedded (title, section heading,
chunk text) with its topic, language and section, so a stored vector is used only for the very same input.
Chunks that changed since the file was written are embedded as usual. Refresh the file with
``python -m knowledge.ingest --save-vectors`` after editing the corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from knowledge.embeddings import DIMENSION, E5EmbeddingFunction

BUNDLED_VECTORS = Path(__file__).resolve().parent / "corpus_vectors.npz"
_MODEL = E5EmbeddingFunction().get_config()["model"]


def save_vectors(path: Path, ids: Sequence[str], vectors: np.ndarray) -> None:
    """Write ids and vectors (float16, ~0.8 KB per chunk) with the name of the model that made them."""
    order = np.argsort(np.asarray(ids))
    np.savez_compressed(path, ids=np.asarray(ids)[order], vectors=np.asarray(vectors, dtype=np.float16)[order],
                        model=np.asarray(_MODEL))


def load_vectors(path: Path = BUNDLED_VECTORS) -> Mapping[str, np.ndarray]:
    """id -> L2-normalised float32 vector; empty when the file is missing or from another model."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return {}
    if str(data["model"]) != _MODEL or data["vectors"].shape[1:] != (DIMENSION,):
        return {}
    vectors = data["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return dict(zip(data["ids"].tolist(), vectors, strict=True))
