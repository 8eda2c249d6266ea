"""Retrieval evaluation on knowledge/eval/queries.jsonl, and calibration of the no-answer threshold.

    python -m knowledge.evaluate                  # metrics with the stored threshold -> knowledge/eval/report.{json,md}
    python -m knowledge.evaluate --calibrate      # choose the threshold first, write knowledge/calibration.json
    python -m knowledge.evaluate --baseline       # also score plain Chroma dense search, for comparison

Metrics are computed on the passages ``Retriever.search(query, k, language=target_language)`` returns:
recall@1 / recall@5 (an expected topic among the first 1 / 5 passages), MRR (over the first k passages),
section@1 for queries that ask for a kind of information (``sections``: the first passage is of an expected
topic and one of those sections), and no-answer precision / recall (``no_answer`` flags against queries
that have no relevant topic).
Queries whose expected topics are not in the collection (corpus still being written) are skipped and counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.report import markdown_table
from knowledge.corpus import CORPUS_DIR, corpus_files, corpus_fingerprint
from knowledge.embeddings import embed_queries
from knowledge.retrieval import (
    CALIBRATION_FILE,
    LEXICAL_WEIGHT,
    TOP_TOPIC_PASSAGES,
    Retriever,
    ensure_default_collection,
)
from knowledge.store import DEFAULT_COLLECTION, KnowledgeStore, StoreError

EVAL_DIR = Path(__file__).resolve().parent / "eval"
QUERIES_FILE = EVAL_DIR / "queries.jsonl"
MAX_FALSE_NO_ANSWER = 0.02  # at most this share of answerable queries may be flagged "no answer"


@dataclass(frozen=True)
class EvalQuery:
    id: str
    query: str
    lang: str  # ko | en | mixed
    expected: tuple[str, ...]  # empty: nothing in the corpus is relevant
    kind: str
    target_language: str | None = None  # search with this language filter (cross-lingual retrieval)
    sections: tuple[str, ...] = ()  # sections that answer the question ("what can I do at home": self_care)


@dataclass(frozen=True)
class Outcome:
    query: EvalQuery
    topics: tuple[str, ...]  # topic of each returned passage, in order
    sections: tuple[str, ...]  # section of each returned passage
    best_score: float
    latency_ms: float

    @property
    def rank(self) -> int | None:
        """1-based position of the first passage of an expected topic."""
        return next((i for i, t in enumerate(self.topics, start=1) if t in self.query.expected), None)

    @property
    def section_hit(self) -> bool:
        """The first passage is of an expected topic and of a section the query asks for."""
        return self.rank == 1 and self.sections[0] in self.query.sections


def load_queries(path: Path = QUERIES_FILE) -> list[EvalQuery]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [EvalQuery(r["id"], r["query"], r["lang"], tuple(r["expected"]), r["kind"], r.get("target_language"),
                      tuple(r.get("sections", ()))) for r in rows]


Search = Callable[[EvalQuery], tuple[list[tuple[str, str]], float]]


def run(search: Search, queries: Sequence[EvalQuery], progress: bool = True) -> list[Outcome]:
    """Search every query; ``search`` returns the (topic, section) of each passage and the best score."""
    outcomes = []
    for q in tqdm(queries, desc="queries", unit="q", disable=not progress):
        start = time.perf_counter()
        passages, best = search(q)
        outcomes.append(Outcome(q, tuple(t for t, _ in passages), tuple(s for _, s in passages), best,
                                (time.perf_counter() - start) * 1000))
    return outcomes


def retriever_search(retriever: Retriever, k: int) -> Search:
    def search(q: EvalQuery) -> tuple[list[tuple[str, str]], float]:
        result = retriever.search(q.query, k=k, language=q.target_language)
        return [(p.topic_id, p.section) for p in result.passages], result.best_score

    return search


def plain_dense_search(store: KnowledgeStore, k: int) -> Search:
    """Baseline: one Chroma nearest-neighbour query (with a ``where`` language filter), no lexical part, no
    topic aggregation."""

    def search(q: EvalQuery) -> tuple[list[tuple[str, str]], float]:
        hits = store.collection.query(query_embeddings=embed_queries([q.query]), n_results=k,
                                      where={"language": q.target_language} if q.target_language else None,
                                      include=["metadatas", "distances"])
        return ([(m["topic_id"], m["section"]) for m in hits["metadatas"][0]],
                1.0 - min(hits["distances"][0], default=1.0))

    return search


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def metrics(outcomes: Sequence[Outcome], threshold: float) -> dict[str, Any]:
    """Ranking metrics over answerable queries, section@1 over those asking for a section, and no-answer
    precision/recall over all of them."""
    answerable = [o for o in outcomes if o.query.expected]
    asking = [o for o in answerable if o.query.sections]
    ranks = [o.rank for o in answerable]
    flagged = [o.best_score < threshold for o in outcomes]
    truth = [not o.query.expected for o in outcomes]
    tp = sum(f and t for f, t in zip(flagged, truth, strict=True))
    return {
        "queries": len(outcomes),
        "answerable": len(answerable),
        "recall@1": _ratio(sum(r == 1 for r in ranks), len(answerable)),
        "recall@5": _ratio(sum(r is not None and r <= 5 for r in ranks), len(answerable)),
        "mrr": _ratio(sum(1 / r for r in ranks if r), len(answerable)),
        "section@1": _ratio(sum(o.section_hit for o in asking), len(asking)),
        "no_answer_queries": sum(truth),
        "no_answer_precision": _ratio(tp, sum(flagged)),
        "no_answer_recall": _ratio(tp, sum(truth)),
        "false_no_answer_rate": _ratio(sum(f and not t for f, t in zip(flagged, truth, strict=True)), len(answerable)),
    }


def choose_threshold(outcomes: Sequence[Outcome], max_false_no_answer: float = MAX_FALSE_NO_ANSWER) -> float:
    """The threshold with the best no-answer F1 among those that flag at most ``max_false_no_answer`` of the
    answerable queries; among equally good ones, the middle (the widest margin on both sides)."""
    scores = sorted({round(o.best_score, 5) for o in outcomes})
    candidates = [scores[0] - 1e-3] + [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)]
    feasible: list[tuple[float, float]] = []
    for t in candidates:
        m = metrics(outcomes, t)
        if (m["false_no_answer_rate"] or 0) <= max_false_no_answer:
            p, r = m["no_answer_precision"] or 0, m["no_answer_recall"] or 0
            feasible.append((2 * p * r / (p + r) if p + r else 0.0, t))
    best_f1 = max(f for f, _ in feasible)
    best = [t for f, t in feasible if f == best_f1]
    return round(best[len(best) // 2], 4)


def cross_validate(outcomes: Sequence[Outcome], folds: int = 5, seed: int = 0,
                   max_false_no_answer: float = MAX_FALSE_NO_ANSWER) -> dict[str, Any]:
    """Calibrate on k-1 folds, measure on the held-out fold: how well the threshold generalises."""
    order = np.random.default_rng(seed).permutation(len(outcomes))
    held: list[tuple[Outcome, float]] = []
    thresholds = []
    for fold in range(folds):
        test = {int(i) for i in order[fold::folds]}
        train = [o for i, o in enumerate(outcomes) if i not in test]
        t = choose_threshold(train, max_false_no_answer)
        thresholds.append(t)
        held += [(outcomes[i], t) for i in sorted(test)]
    flagged = [o.best_score < t for o, t in held]
    truth = [not o.query.expected for o, _ in held]
    tp = sum(f and t for f, t in zip(flagged, truth, strict=True))
    return {
        "folds": folds,
        "thresholds": thresholds,
        "no_answer_precision": _ratio(tp, sum(flagged)),
        "no_answer_recall": _ratio(tp, sum(truth)),
        "false_no_answer_rate": _ratio(sum(f and not t for f, t in zip(flagged, truth, strict=True)),
                                       sum(not t for t in truth)),
    }


SLICES: dict[str, Callable[[EvalQuery], bool]] = {
    "all": lambda q: True,
    "Korean queries": lambda q: q.lang == "ko",
    "English queries": lambda q: q.lang == "en",
    "mixed KO/EN queries": lambda q: q.lang == "mixed",
    "typos": lambda q: q.kind == "typo",
    "asking for a section (self-care, causes, ...)": lambda q: bool(q.sections),
    "cross-lingual (language filter = other language)": lambda q: q.target_language is not None,
    "no-answer: off-topic": lambda q: q.kind == "no_answer_offtopic",
    "no-answer: medical, not in corpus": lambda q: q.kind == "no_answer_medical",
}


def report(outcomes: Sequence[Outcome], threshold: float) -> dict[str, Any]:
    latencies = [o.latency_ms for o in outcomes]
    slices = {}
    for name, keep in SLICES.items():
        part = [o for o in outcomes if keep(o.query)]
        if part:
            slices[name] = metrics(part, threshold)
    misses = [{"id": o.query.id, "query": o.query.query, "expected": list(o.query.expected),
               "got": list(dict.fromkeys(o.topics))[:3], "best_score": round(o.best_score, 4)}
              for o in outcomes if o.query.expected and (o.rank is None or o.rank > 5)]
    wrong_no_answer = [{"id": o.query.id, "query": o.query.query, "best_score": round(o.best_score, 4),
                        "got": list(dict.fromkeys(o.topics))[:3]}
                       for o in outcomes if not o.query.expected and o.best_score >= threshold]
    return {
        "threshold": threshold,
        "slices": slices,
        "latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 1),
                       "p95": round(float(np.percentile(latencies, 95)), 1)},
        "misses_at_5": misses,
        "no_answer_missed": wrong_no_answer,
    }


def render_markdown(result: dict[str, Any]) -> str:
    columns = ["slice", "queries", "answerable", "recall@1", "recall@5", "mrr", "section@1", "no_answer_precision",
               "no_answer_recall", "false_no_answer_rate"]
    lines = ["# Retrieval evaluation", "", f"Queries: {result['queries_file']} ({result['evaluated']} evaluated, "
             f"{result['skipped']} skipped because their topics are not in the collection yet); collection "
             f"{result['collection_chunks']} chunks, {result['collection_topics']} topics.", ""]
    for label, run_result in result["runs"].items():
        lines += [f"## {label}", "", f"threshold {run_result['threshold']}, search latency p50 "
                  f"{run_result['latency_ms']['p50']} ms, p95 {run_result['latency_ms']['p95']} ms", ""]
        rows = [{"slice": name, **m} for name, m in run_result["slices"].items()]
        lines += [markdown_table(rows, columns), ""]
    if result.get("calibration"):
        c = result["calibration"]
        lines += ["## Threshold calibration", "", c["method"], "",
                  f"Chosen threshold: **{c['threshold']}**. Held-out check ({c['cross_validation']['folds']}-fold): "
                  f"no-answer precision {c['cross_validation']['no_answer_precision']}, recall "
                  f"{c['cross_validation']['no_answer_recall']}, false no-answer rate "
                  f"{c['cross_validation']['false_no_answer_rate']}.", ""]
    main = next(iter(result["runs"].values()))
    if main["misses_at_5"]:
        lines += ["## Misses (expected topic not in the first 5 passages)", "",
                  markdown_table(main["misses_at_5"], ["id", "query", "expected", "got", "best_score"]), ""]
    if main["no_answer_missed"]:
        lines += ["## No-answer queries that got an answer", "",
                  markdown_table(main["no_answer_missed"], ["id", "query", "best_score", "got"]), ""]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge.evaluate",
                                     description="Evaluate retrieval on the labelled queries; optionally "
                                     "calibrate the no-answer threshold.")
    parser.add_argument("--queries", type=Path, default=QUERIES_FILE, help="JSONL queries (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=EVAL_DIR,
                        help="folder for report.json and report.md (default: %(default)s)")
    parser.add_argument("--k", type=int, default=10, help="passages per query (MRR is over these; default 10)")
    parser.add_argument("--calibrate", action="store_true",
                        help="choose the no-answer threshold on these queries and write it to --calibration-file")
    parser.add_argument("--calibration-file", type=Path, default=CALIBRATION_FILE,
                        help="where --calibrate writes the threshold (default: %(default)s, read by the Retriever)")
    parser.add_argument("--max-false-no-answer", type=float, default=MAX_FALSE_NO_ANSWER,
                        help="calibration constraint: largest share of answerable queries that may be flagged "
                        "no-answer (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=None, help="evaluate with this threshold instead")
    parser.add_argument("--lexical-weight", type=float, default=LEXICAL_WEIGHT,
                        help="weight of the character n-gram score (0 = dense only; default: %(default)s)")
    parser.add_argument("--top-topic-passages", type=int, default=TOP_TOPIC_PASSAGES,
                        help="passages the best topic may contribute; other topics give one (default: %(default)s)")
    parser.add_argument("--baseline", action="store_true", help="also evaluate plain Chroma dense search")
    parser.add_argument("--chroma-path", type=Path, default=None, help="embedded store directory (default store)")
    parser.add_argument("--chroma-host", default=None, help="Chroma server host")
    parser.add_argument("--chroma-port", type=int, default=None, help="Chroma server port")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION, help="collection (default: %(default)s)")
    parser.add_argument("--as-is", action="store_true",
                        help="evaluate the collection as it is (default: first build/update the bundled corpus in it)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.as_is:
            store = KnowledgeStore.open(args.chroma_path, args.chroma_host, args.chroma_port, args.collection,
                                        create=False)
        else:
            store = ensure_default_collection(args.chroma_path, args.chroma_host, args.chroma_port,
                                              args.collection, progress=not args.quiet)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    retriever = Retriever(store, threshold=args.threshold, lexical_weight=args.lexical_weight,
                          top_topic_passages=args.top_topic_passages)
    present = retriever.topic_ids()
    queries = [q for q in load_queries(args.queries) if not q.expected or set(q.expected) & present]
    skipped = len(load_queries(args.queries)) - len(queries)
    outcomes = run(retriever_search(retriever, args.k), queries, progress=not args.quiet)
    calibration = None
    threshold = retriever.threshold
    if args.calibrate:
        threshold = choose_threshold(outcomes, args.max_false_no_answer)
        calibration = {
            "threshold": threshold,
            "score": "best chunk score = e5 cosine + lexical_weight x character n-gram TF-IDF cosine",
            "lexical_weight": args.lexical_weight,
            "method": f"Threshold on the best chunk score of each query: the best no-answer F1 among thresholds "
            f"that flag at most {args.max_false_no_answer:.0%} of answerable queries, the middle of the "
            f"best range. Calibrated on {len(outcomes)} queries of {args.queries.name} "
            f"({sum(not o.query.expected for o in outcomes)} without a relevant topic).",
            "cross_validation": cross_validate(outcomes, max_false_no_answer=args.max_false_no_answer),
            "corpus_fingerprint": corpus_fingerprint(corpus_files(CORPUS_DIR)),
            "date": time.strftime("%Y-%m-%d"),
        }
        args.calibration_file.write_text(json.dumps(calibration, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
        retriever.threshold = threshold
    label = f"hybrid retriever (lexical weight {args.lexical_weight}, top topic {args.top_topic_passages} passages)"
    runs = {label: report(outcomes, threshold)}
    if args.baseline:
        base = run(plain_dense_search(store, args.k), queries, progress=not args.quiet)
        runs["baseline: plain Chroma dense search (where-filter on language), calibrated separately"] = report(
            base, choose_threshold(base, args.max_false_no_answer))
    result = {
        "queries_file": str(args.queries.name), "evaluated": len(queries), "skipped": skipped,
        "collection_chunks": retriever.chunk_count(), "collection_topics": len(present),
        "settings": {"k": args.k, "lexical_weight": args.lexical_weight,
                     "top_topic_passages": args.top_topic_passages},
        "runs": runs, "calibration": calibration,
        "outcomes": [{**asdict(o.query), "topics": list(o.topics[:5]), "passage_sections": list(o.sections[:5]),
                      "best_score": round(o.best_score, 4)}
                     for o in outcomes],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown = render_markdown(result)
    (args.out / "report.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
