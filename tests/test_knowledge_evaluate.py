"""Evaluation metrics and threshold calibration (pure), and the CLI on the fixture corpus (real Chroma)."""

import json
from pathlib import Path

import pytest
from knowledge_fixtures import CORPUS

from knowledge.corpus import load_topics
from knowledge.documents import SECTION_HEADINGS
from knowledge.evaluate import EvalQuery, Outcome, choose_threshold, cross_validate, load_queries, main, metrics
from knowledge.ingest import Ingestor
from knowledge.store import KnowledgeStore


def _outcome(expected: tuple[str, ...], topics: tuple[str, ...], best: float, asked: tuple[str, ...] = (),
             sections: tuple[str, ...] = ()) -> Outcome:
    query = EvalQuery("q", "text", "en", expected, "colloquial" if expected else "no_answer_offtopic", None, asked)
    return Outcome(query, topics, sections or ("overview",) * len(topics), best, 1.0)


def test_metrics_rank_and_no_answer_counts() -> None:
    outcomes = [
        _outcome(("a",), ("a", "a", "b"), 0.95),  # rank 1
        _outcome(("b",), ("a", "a", "c", "d", "b"), 0.93),  # rank 5
        _outcome(("z",), ("a", "b", "c", "d", "e", "z"), 0.91),  # rank 6: a miss at 5
        _outcome((), ("a",), 0.85),  # no answer, flagged at 0.9
        _outcome((), ("b",), 0.92),  # no answer, not flagged
    ]
    m = metrics(outcomes, threshold=0.9)
    assert (m["recall@1"], m["recall@5"]) == (round(1 / 3, 4), round(2 / 3, 4))
    assert m["mrr"] == round((1 + 1 / 5 + 1 / 6) / 3, 4)
    assert (m["no_answer_precision"], m["no_answer_recall"], m["false_no_answer_rate"]) == (1.0, 0.5, 0.0)
    assert m["section@1"] is None  # no query asks for a section


def test_section_at_1_needs_the_right_topic_and_section_first() -> None:
    outcomes = [
        _outcome(("a",), ("a", "b"), 0.95, ("self_care",), ("self_care", "overview")),  # hit
        _outcome(("a",), ("a", "a"), 0.95, ("self_care",), ("overview", "self_care")),  # wrong section first
        _outcome(("a",), ("b", "a"), 0.95, ("self_care",), ("self_care", "self_care")),  # wrong topic first
        _outcome(("a",), ("a",), 0.95),  # asks for no section: not counted
    ]
    assert metrics(outcomes, threshold=0.9)["section@1"] == round(1 / 3, 4)


def test_threshold_is_the_middle_of_the_best_gap_within_the_false_no_answer_limit() -> None:
    answerable = [_outcome(("a",), ("a",), s) for s in (0.90, 0.92, 0.94, 0.96)]
    unanswerable = [_outcome((), ("a",), s) for s in (0.80, 0.84)]
    assert choose_threshold(answerable + unanswerable, max_false_no_answer=0.0) == 0.87
    noisy = [*answerable, _outcome(("a",), ("a",), 0.83), *unanswerable]
    assert choose_threshold(noisy, max_false_no_answer=0.0) < 0.83  # no answerable query may be lost
    assert choose_threshold(noisy, max_false_no_answer=0.25) == 0.87
    held_out = cross_validate(answerable * 3 + unanswerable * 3, folds=3, max_false_no_answer=0.0)
    assert held_out["no_answer_recall"] == 1.0 and held_out["false_no_answer_rate"] == 0.0


def test_the_eval_set_covers_the_brief() -> None:
    queries = load_queries()
    topics = {t for q in queries for t in q.expected}
    assert len(queries) >= 150 and sum(not q.expected for q in queries) >= 20
    assert {q.lang for q in queries} == {"ko", "en", "mixed"}
    assert sum(q.kind == "typo" for q in queries) >= 10 and sum(q.target_language is not None for q in queries) >= 30
    assert sum(bool(q.sections) for q in queries) >= 10 and {q.lang for q in queries if q.sections} == {"ko", "en"}
    assert {s for q in queries for s in q.sections} <= set(SECTION_HEADINGS)
    assert topics == set(load_topics())  # every topic has queries


@pytest.mark.timeout(600)
def test_cli_writes_reports_and_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = tmp_path / "chroma"
    Ingestor(KnowledgeStore.open(store_path), progress=False).ingest_bundled(CORPUS)
    queries = tmp_path / "queries.jsonl"
    rows = [
        {"id": "q1", "query": "가슴이 꽉 조이고 식은땀이 나요", "lang": "ko", "expected": ["heart-attack"],
         "kind": "colloquial", "target_language": "en"},
        {"id": "q2", "query": "my kid has a barking cough at night", "lang": "en",
         "expected": ["epiglottitis-and-croup"], "kind": "colloquial"},
        {"id": "q3", "query": "red painful skin after the beach", "lang": "en", "expected": ["sunburn"],
         "kind": "colloquial"},
        {"id": "q4", "query": "how do I change the oil in my car", "lang": "en", "expected": [],
         "kind": "no_answer_offtopic"},
        {"id": "q5", "query": "a topic the corpus lacks", "lang": "en", "expected": ["gout"], "kind": "colloquial"},
    ]
    queries.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    calibration = tmp_path / "calibration.json"
    out = tmp_path / "report"
    assert main(["--queries", str(queries), "--chroma-path", str(store_path), "--out", str(out), "--as-is",
                 "--calibrate", "--calibration-file", str(calibration), "--baseline", "--quiet",
                 "--max-false-no-answer", "0"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["evaluated"] == 4 and report["skipped"] == 1
    hybrid = next(iter(report["runs"].values()))["slices"]["all"]
    assert hybrid["recall@1"] == 1.0 and hybrid["no_answer_recall"] == 1.0 and hybrid["false_no_answer_rate"] == 0
    assert json.loads(calibration.read_text())["threshold"] == report["runs"][next(iter(report["runs"]))]["threshold"]
    assert "baseline: plain Chroma dense search" in (out / "report.md").read_text()
    assert "# Retrieval evaluation" in capsys.readouterr().out
