"""Retrieval benchmark helpers (pure logic; the benchmark itself runs with `python -m bench retrieval`)."""

import random

import numpy as np

from bench.retrieval import percentiles, synthesize


def test_synthetic_chunks_recombine_one_topic_and_language() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    source = {
        "documents": [f"Topic {t} sentence {i}. Another {t} line {i}." for t in "ab" for i in range(3)],
        "metadatas": [{"topic_id": t, "language": "en", "section": "symptoms", "citation_id": f"{t}#{i}"}
                      for t in "ab" for i in range(3)],
        "embeddings": vectors,
    }
    ids, documents, mixed, metadatas = synthesize(source, 20, random.Random(1), embed=False)
    assert len(set(ids)) == 20 and mixed.shape == (20, 384)
    assert np.allclose(np.linalg.norm(mixed, axis=1), 1.0, atol=1e-5)
    for text, meta in zip(documents, metadatas, strict=True):
        assert {w for w in text.split() if w in "ab"} == {meta["topic_id"]}  # sentences of the chunk's own topic
        assert meta["origin"] == "synthetic" and meta["citation_id"].startswith("synthetic#")


def test_percentiles() -> None:
    assert percentiles([1.0, 2.0, 3.0, 4.0, 100.0]) == {"p50_ms": 3.0, "p95_ms": 80.8, "n": 5}
