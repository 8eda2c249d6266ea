"""Knowledge-base benchmark: ingestion throughput and query latency at 10,000 chunks.

    python -m bench retrieval                       # defaults below
    python -m bench.retrieval --chunks 20000 --queries 300

1. Ingestion: the real pipeline (load, chunk, e5-embed, add to Chroma) on a few bundled corpus files in a
   temporary store: chunks/s, and the share of the time spent embedding.
2. A temporary store of ``--chunks`` chunks: the bundled corpus (vectors from the default collection, built on
   first use) plus synthetic chunks made by recombining sentences of two or three chunks of one topic and
   language. Their vectors are the normalised mean of the source chunks' vectors plus a little noise, so the
   store does not take an hour of e5 time to build; ``--embed-synthetic`` embeds them for real instead.
3. Query latency (p50/p95) over the labelled queries: e5 query embedding alone; a bare Chroma top-10 query with
   and without ``where`` metadata filters; ``Retriever.search`` end to end (embedding included) and with the
   query embedding cached (retrieval work only), each without filters, with a language filter and with
   language + section.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench.report import markdown_table, write_report  # noqa: E402
from knowledge.chunking import split_units  # noqa: E402
from knowledge.corpus import CORPUS_DIR, corpus_files  # noqa: E402
from knowledge.embeddings import embed_passages, embed_queries  # noqa: E402
from knowledge.evaluate import load_queries  # noqa: E402
from knowledge.ingest import Ingestor  # noqa: E402
from knowledge.retrieval import Retriever, ensure_default_collection  # noqa: E402
from knowledge.store import KnowledgeStore  # noqa: E402


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(samples_ms, 50)), 2),
            "p95_ms": round(float(np.percentile(samples_ms, 95)), 2), "n": len(samples_ms)}


def timed(calls: dict[str, Callable[[Any], Any]], items: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Latency percentiles of each call over ``items``, interleaved (item by item) so that changing machine
    load affects all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for item in items:
        for name, call in calls.items():
            start = time.perf_counter()
            call(item)
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: percentiles(values) for name, values in samples.items()}


def ingest_throughput(files: int, tmp: Path) -> dict[str, Any]:
    """Ingest ``files`` bundled files (both languages of files/2 topics) with the real pipeline: once with e5,
    once from the shipped precomputed vectors (what a first build does)."""
    corpus = tmp / "corpus"
    (corpus / "en").mkdir(parents=True)
    (corpus / "ko").mkdir()
    shutil.copy(CORPUS_DIR / "topics.yaml", corpus / "topics.yaml")
    topics = sorted({p.stem for p in corpus_files()})[: max(1, files // 2)]
    for topic in topics:
        for language in ("en", "ko"):
            shutil.copy(CORPUS_DIR / language / f"{topic}.md", corpus / language / f"{topic}.md")
    store = KnowledgeStore.open(tmp / "ingest-store")
    start = time.perf_counter()
    summary = Ingestor(store, progress=False).ingest_bundled(corpus, vectors_file=None)
    total = time.perf_counter() - start
    texts = store.collection.get(include=["documents"])["documents"]
    start = time.perf_counter()
    embed_passages(texts)
    embedding = time.perf_counter() - start
    shipped = KnowledgeStore.open(tmp / "ingest-store-shipped")
    start = time.perf_counter()
    reused = Ingestor(shipped, progress=False).ingest_bundled(corpus)
    reused_total = time.perf_counter() - start
    return {"files": 2 * len(topics), "chunks": summary.chunks_added, "seconds": round(total, 2),
            "chunks_per_s": round(summary.chunks_added / total, 2),
            "embedding_share": round(min(1.0, embedding / total), 3),
            "shipped_vectors_chunks_per_s": round(reused.chunks_added / reused_total, 1),
            "shipped_vectors_used": reused.chunks_precomputed}


def synthesize(source: dict[str, Any], count: int, rng: random.Random, embed: bool
               ) -> tuple[list[str], list[str], np.ndarray, list[dict[str, Any]]]:
    """``count`` chunks recombined from sentences of 2-3 source chunks of one topic and language."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, meta in enumerate(source["metadatas"]):
        groups[(meta["topic_id"], meta["language"])].append(i)
    keys = sorted(groups)
    vectors = np.asarray(source["embeddings"], dtype=np.float32)
    ids, documents, metadatas, mixed = [], [], [], []
    for n in range(count):
        group = groups[rng.choice(keys)]
        members = rng.sample(group, k=min(len(group), 3 if n % 2 else 2))
        sentences = [s for i in members for s in split_units(source["documents"][i])]
        documents.append(" ".join(rng.sample(sentences, k=min(len(sentences), 3))))
        meta = dict(source["metadatas"][members[0]], citation_id=f"synthetic#{n}", origin="synthetic")
        metadatas.append(meta)
        ids.append(f"synthetic-{n:06d}")
        vector = vectors[members].mean(axis=0) + np.random.default_rng(n).normal(0, 0.01, vectors.shape[1])
        mixed.append(vector / np.linalg.norm(vector))
    if embed:
        return ids, documents, embed_passages(documents), metadatas
    return ids, documents, np.asarray(mixed, dtype=np.float32), metadatas


def build_store(path: Path, chunks: int, embed: bool, seed: int, source_path: Path | None
                ) -> tuple[KnowledgeStore, dict[str, Any]]:
    """A store of ``chunks`` chunks: the bundled corpus (from the default collection, or the one under
    ``source_path``) plus synthetic ones. Returns (store, build info)."""
    default = ensure_default_collection(source_path, progress=True)
    source = default.collection.get(include=["documents", "metadatas", "embeddings"])
    store = KnowledgeStore.open(path)
    step = store.client.get_max_batch_size()
    real = len(source["ids"])
    ids, documents, vectors, metadatas = synthesize(source, max(0, chunks - real), random.Random(seed), embed)
    ids, documents = source["ids"] + ids, source["documents"] + documents
    vectors = np.concatenate([np.asarray(source["embeddings"], dtype=np.float32), vectors])
    metadatas = source["metadatas"] + metadatas
    start = time.perf_counter()
    for offset in tqdm(range(0, len(ids), step), desc="chroma add", unit="batch"):
        end = offset + step
        store.collection.add(ids=ids[offset:end], documents=documents[offset:end], embeddings=vectors[offset:end],
                             metadatas=metadatas[offset:end])
    add_seconds = time.perf_counter() - start
    return store, {"chunks": store.count(), "real_chunks": real, "synthetic_chunks": store.count() - real,
                   "synthetic_vectors": "e5" if embed else "mean of source vectors + noise",
                   "chroma_add_chunks_per_s": round(store.count() / add_seconds, 1)}


def query_latency(store: KnowledgeStore, queries: list[str], rounds: int) -> dict[str, Any]:
    uncached = Retriever(store, query_cache_size=0)
    start = time.perf_counter()
    uncached.refresh()
    catalog_seconds = time.perf_counter() - start
    vectors = embed_queries(queries)
    repeated = queries * rounds
    where_language = {"language": "en"}
    where_both = {"$and": [{"language": "en"}, {"section": "when_to_seek_care"}]}

    def chroma(where: dict | None) -> Callable[[int], Any]:
        return lambda i: store.collection.query(query_embeddings=vectors[i : i + 1], n_results=10, where=where,
                                                include=["metadatas", "distances"])

    indices = list(range(len(queries))) * rounds
    results: dict[str, Any] = {"catalog_load_s": round(catalog_seconds, 2)}
    results.update(timed({"chroma_top10": chroma(None), "chroma_top10_where_language": chroma(where_language),
                          "chroma_top10_where_language_section": chroma(where_both)}, indices))
    results.update(timed({"e5_query_embedding": lambda q: embed_queries([q]),
                          "search_end_to_end": lambda q: uncached.search(q),
                          "search_end_to_end_language": lambda q: uncached.search(q, language="en")}, queries))
    retriever = Retriever(store)
    for q in queries:  # warm the query-embedding cache: what follows is retrieval work only
        retriever.search(q)
    results.update(timed({
        "search_cached_embedding": lambda q: retriever.search(q),
        "search_cached_embedding_language": lambda q: retriever.search(q, language="en"),
        "search_cached_embedding_language_section": lambda q: retriever.search(q, language="en",
                                                                              section="when_to_seek_care"),
    }, repeated))
    return results


def render(results: dict[str, Any]) -> str:
    ingest, build, latency = results["ingest"], results["store"], results["latency"]
    rows = [{"operation": name, **value} for name, value in latency.items() if isinstance(value, dict)]
    ratios = results["ratios"]
    return "\n".join([
        "# Retrieval benchmark", "",
        f"Machine load (1-minute load average, start/end): {results['load_average_1m']} on "
        f"{os.cpu_count()} CPUs; e5 timings grow with contention (about 15 ms per short query on an idle core).",
        "",
        f"Ingestion (real pipeline: load, chunk, e5, Chroma add): {ingest['chunks']} chunks from {ingest['files']} "
        f"corpus files in {ingest['seconds']} s = **{ingest['chunks_per_s']} chunks/s**; e5 embedding is "
        f"{ingest['embedding_share']:.0%} of the time. From the shipped precomputed vectors (a first build): "
        f"{ingest['shipped_vectors_chunks_per_s']} chunks/s ({ingest['shipped_vectors_used']} vectors reused).", "",
        f"Store: {build['chunks']} chunks ({build['real_chunks']} bundled corpus, {build['synthetic_chunks']} "
        f"synthetic; synthetic vectors: {build['synthetic_vectors']}); Chroma add with precomputed vectors "
        f"{build['chroma_add_chunks_per_s']} chunks/s; Retriever catalog load {latency['catalog_load_s']} s.", "",
        markdown_table(rows, ["operation", "p50_ms", "p95_ms", "n"]), "",
        "Ratios (same run): " + ", ".join(f"{k} {v}" for k, v in ratios.items()), "",
        f"Target query p50 <= 20 ms: retrieval work (cached embedding) "
        f"{latency['search_cached_embedding']['p50_ms']} ms; end to end with e5 query embedding "
        f"{latency['search_end_to_end']['p50_ms']} ms, of which the embedding alone is "
        f"{latency['e5_query_embedding']['p50_ms']} ms.",
    ])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the query-latency store (default 10000)")
    parser.add_argument("--ingest-files", type=int, default=12,
                        help="bundled corpus files ingested for the throughput figure (default 12)")
    parser.add_argument("--queries", type=int, default=200, help="labelled queries used for latency (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries for cheap operations (3)")
    parser.add_argument("--embed-synthetic", action="store_true",
                        help="embed the synthetic chunks with e5 (about 0.1 s each on one core) instead of "
                        "mixing source vectors")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the synthetic chunks")
    parser.add_argument("--chroma-path", type=Path, default=None,
                        help="embedded store holding the bundled corpus to start from (default: the default "
                        "store; built or updated first when needed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rng = random.Random(args.seed)
    queries = [q.query for q in load_queries()]
    queries = rng.sample(queries, k=min(args.queries, len(queries)))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        ingest = ingest_throughput(args.ingest_files, Path(tmp))
        store, build = build_store(Path(tmp) / "store", args.chunks, args.embed_synthetic, args.seed,
                                   args.chroma_path)
        latency = query_latency(store, queries, args.rounds)
    p50 = {k: v["p50_ms"] for k, v in latency.items() if isinstance(v, dict)}
    ratios = {
        "chroma where(language)/plain": round(p50["chroma_top10_where_language"] / p50["chroma_top10"], 2),
        "search language filter/plain (cached embedding)": round(
            p50["search_cached_embedding_language"] / p50["search_cached_embedding"], 2),
        "search end to end/e5 embedding alone": round(p50["search_end_to_end"] / p50["e5_query_embedding"], 2),
    }
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    results = {"settings": settings, "load_average_1m": load, "ingest": ingest, "store": build, "latency": latency,
               "ratios": ratios,
               "median_query_chars": statistics.median(len(q) for q in queries)}
    write_report("retrieval", results, render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
