"""python -m agents.batch through real subprocesses: JSONL/CSV, malformed rows, odd texts, duplicates, resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.batch import COLUMNS, read_rows

REPO = Path(__file__).resolve().parent.parent
LEVELS = {"emergency", "urgent", "routine", "self_care"}
ROWS = [
    {"id": "r1", "text": "가슴이 쥐어짜듯 아프고 식은땀이 나요", "age": 63},
    {"id": "r2", "text": "runny nose and sneezing for two days, no fever"},
    "{this is not json",
    {"id": "r3"},
    {"id": "r4", "text": ""},
    {"id": "r5", "text": 42},
    {"id": "r1", "text": "J'ai mal à la gorge depuis deux jours"},
    {"id": "r6", "text": "기침이 조금 나요. " * 2500},
    {"id": "r7", "text": "임신 8주인데 피가 조금 비쳐요", "pregnant": True, "sex": "F", "age": 31},
    {"id": "r8", "text": "cough", "age": "very old"},
    ["not", "an", "object"],
]


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "agents.batch", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _write_jsonl(path: Path, rows: list) -> None:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8"
    )


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def jsonl_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, list[dict]]:
    tmp = tmp_path_factory.mktemp("batch")
    _write_jsonl(tmp / "in.jsonl", ROWS)
    proc = _run(str(tmp / "in.jsonl"), "--out", str(tmp / "out.jsonl"), "--summary-json", str(tmp / "summary.json"))
    return proc, _read_jsonl(tmp / "out.jsonl")


def test_jsonl_one_row_per_input_row_in_order(jsonl_run) -> None:
    proc, out = jsonl_run
    assert proc.returncode == 0, proc.stderr
    assert len(out) == len(ROWS)
    assert [r["row"] for r in out] == list(range(1, len(ROWS) + 1))
    assert [r["id"] for r in out] == ["r1", "r2", None, "r3", "r4", "r5", "r1", "r6", "r7", "r8", None]
    assert all(set(r) == set(COLUMNS) for r in out)


def test_jsonl_statuses_and_levels(jsonl_run) -> None:
    _, out = jsonl_run
    by_row = {r["row"]: r for r in out}
    assert by_row[1]["level"] == "emergency" and by_row[1]["red_flags"] and by_row[1]["language"] == "ko"
    assert by_row[3]["status"].startswith("error: invalid JSON")
    assert by_row[4]["status"] == "error: missing text"
    assert by_row[5]["status"] == "error: empty text"
    assert by_row[6]["status"] == "error: text must be a string, got int"
    assert by_row[10]["status"].startswith("error: age must be a number")
    assert by_row[11]["status"].startswith("error: row must be an object")
    for row in (1, 2, 7, 8, 9):
        assert by_row[row]["status"] == "ok" and by_row[row]["level"] in LEVELS
        assert 0 <= by_row[row]["confidence"] <= 1 and by_row[row]["action"]
    assert by_row[7]["language"] == "fr" and "\n" in by_row[7]["action"]  # English + one Korean line
    assert by_row[9]["level"] in {"urgent", "emergency"}  # bleeding in pregnancy
    assert all(r["level"] is None for r in out if r["status"] != "ok")


def test_summary_reports_errors_and_duplicates(jsonl_run, tmp_path_factory) -> None:
    proc, out = jsonl_run
    assert "duplicate ids" in proc.stderr and "r1 x2" in proc.stderr
    assert "errors" in proc.stderr
    summary_path = next(Path(p) for p in tmp_path_factory.getbasetemp().rglob("summary.json"))
    summary = json.loads(summary_path.read_text())
    assert summary["duplicate_ids"] == {"r1": 2}
    assert len(summary["errors"]) == 6 and summary["ok"] == 5
    assert sum(summary["levels"].values()) == 5


def test_csv_with_bom_korean_and_malformed_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "age", "sex", "pregnant"])
        writer.writerow(["k1", "아이가 열이 나고 목이 뻣뻣해서 고개를 못 숙여요", "5", "", ""])
        writer.writerow(["k2", "", "", "", ""])
        writer.writerow(["k3", "모기 물린 데가 가려워요", "", "F", "no"])
        writer.writerow(["k4", "stye on my eyelid\nvision is fine", "abc", "", ""])
        writer.writerow(["k5", "콧물이 나요", "", "", "", "surplus"])
        writer.writerow(["k1", "숨이 안 쉬어져요", "", "", ""])
    proc = _run(str(src), "--out", str(tmp_path / "out.csv"))
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["id"] for r in rows] == ["k1", "k2", "k3", "k4", "k5", "k1"]
    assert [r["status"] for r in rows] == [
        "ok",
        "error: empty text",
        "ok",
        "error: age must be a number of years, got 'abc'",
        "error: 1 more field(s) than the header",
        "ok",
    ]
    assert rows[0]["level"] == "emergency" and rows[5]["level"] == "emergency"
    assert json.loads(rows[0]["red_flags"])[0]["explanation"]


def test_csv_to_jsonl_and_bad_header(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,text\nc1,chest pain and sweating\n", encoding="utf-8")
    assert _run(str(src), "--out", str(tmp_path / "out.jsonl")).returncode == 0
    assert _read_jsonl(tmp_path / "out.jsonl")[0]["level"] == "emergency"
    (tmp_path / "bad.csv").write_text("identifier,message\n1,hello\n", encoding="utf-8")
    proc = _run(str(tmp_path / "bad.csv"), "--out", str(tmp_path / "bad.jsonl"))
    assert proc.returncode == 2 and "id and text" in proc.stderr


def _many_rows(n: int) -> list[dict]:
    texts = [
        "가슴이 아프고 숨이 차요",
        "runny nose for two days",
        "발목을 삐었어요. 걸을 수는 있어요",
        "fever and a stiff neck",
        "모기 물린 데가 가려워요",
        "burning when I pee, no fever",
    ]
    return [{"id": f"m{i:04d}", "text": f"{texts[i % len(texts)]} ({i})"} for i in range(n)]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_after_partial_output(tmp_path: Path, suffix: str) -> None:
    rows = _many_rows(80)
    _write_jsonl(tmp_path / "in.jsonl", rows)
    full = tmp_path / f"full{suffix}"
    assert _run(str(tmp_path / "in.jsonl"), "--out", str(full)).returncode == 0
    data = full.read_bytes()
    partial = tmp_path / f"partial{suffix}"
    partial.write_bytes(data[: int(len(data) * 0.55)])  # cut in the middle of a row
    proc = _run(str(tmp_path / "in.jsonl"), "--out", str(partial), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "resumed after" in proc.stderr
    assert partial.read_bytes() == data


def test_resume_after_killed_run(tmp_path: Path) -> None:
    rows = _many_rows(400)
    _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.batch", str(tmp_path / "in.jsonl"), "--out", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.stat().st_size > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(out.read_text(encoding="utf-8").splitlines()) if out.exists() else 0
    assert before < len(rows), "the run finished before it could be interrupted"
    done = _run(str(tmp_path / "in.jsonl"), "--out", str(out), "--resume", timeout=600)
    assert done.returncode == 0, done.stderr
    result = _read_jsonl(out)
    assert [r["id"] for r in result] == [r["id"] for r in rows]
    assert [r["row"] for r in result] == list(range(1, len(rows) + 1))
    assert all(r["status"] == "ok" for r in result)


def test_resume_refuses_output_of_another_input(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "a.jsonl", _many_rows(3))
    _write_jsonl(tmp_path / "b.jsonl", [{"id": "other", "text": "cough"}])
    assert _run(str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "out.jsonl")).returncode == 0
    proc = _run(str(tmp_path / "b.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--resume")
    assert proc.returncode == 2 and "another input" in proc.stderr


def test_read_rows_keeps_blank_id_as_error(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "in.jsonl", [{"id": "", "text": "cough"}, {"id": True, "text": "cough"}])
    assert [r.error for r in read_rows(tmp_path / "in.jsonl")] == [
        "error: missing id",
        "error: id must be a string or integer, got bool",
    ]


def test_two_workers_give_the_same_rows(jsonl_run, tmp_path: Path) -> None:
    _, single = jsonl_run
    _write_jsonl(tmp_path / "in.jsonl", ROWS)
    proc = _run(str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert _read_jsonl(tmp_path / "out.jsonl") == single


def test_auto_workers_uses_two_cores_only_for_large_batches() -> None:
    from agents.batch import AUTO_WORKERS_MIN_ROWS, auto_workers

    assert auto_workers(10) == 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    assert auto_workers(AUTO_WORKERS_MIN_ROWS) == min(2, cores)
