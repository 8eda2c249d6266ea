"""Scripted triage of many reports: ``python -m agents.batch INPUT --out OUTPUT [--resume]``.

INPUT is ``.jsonl`` (one object per line) or ``.csv`` (header row) with ``id`` and ``text`` and optional
``age``, ``sex``, ``pregnant``. OUTPUT (``.jsonl`` or ``.csv``, by extension) has one row per input row, in
input order: ``row`` (input line / data-row number), ``id``, ``level``, ``confidence``, ``red_flags``,
``action``, ``language``, ``status`` (``ok``, or why the row could not be triaged; such rows keep an empty
level and are never dropped). No model server is needed: the rules and the saved classifier run in-process.

Output is written and flushed chunk by chunk, so ``--resume`` continues an interrupted run: it keeps the
complete rows already written (checking that they match the input), drops a half-written last row, and
triages the rest.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

COLUMNS = ("row", "id", "level", "confidence", "red_flags", "action", "language", "status")
CHUNK = 32  # rows triaged together (one embedding batch) and flushed together
AUTO_WORKERS_MIN_ROWS = 400  # below this, starting a worker process (~2 s to load the model) costs more than it saves
_TRUE = {"true", "yes", "y", "1", "t", "예", "네", "임신"}
_FALSE = {"false", "no", "n", "0", "f", "아니오", "아니요"}
_SEX = {
    "f": "F",
    "female": "F",
    "woman": "F",
    "여": "F",
    "여자": "F",
    "여성": "F",
    "m": "M",
    "male": "M",
    "man": "M",
    "남": "M",
    "남자": "M",
    "남성": "M",
}


class BatchError(Exception):
    """A problem with the files themselves (not with one row): unsupported format, output/input mismatch."""


@dataclass
class InputRow:
    """One input row: the case to triage, or the reason it cannot be triaged."""

    row: int
    id: str | None
    case: dict[str, Any] | None
    error: str | None = None


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise BatchError(f"{path}: use a .jsonl or .csv file (got {suffix or 'no extension'!r})")
    return suffix[1:]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_age(value: Any) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("age must be a number of years")
    try:
        age = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"age must be a number of years, got {value!r}") from None
    if not math.isfinite(age) or not 0 <= age <= 130:
        raise ValueError(f"age out of range: {value!r}")
    return age


def _parse_sex(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, str) and value.strip().lower() in _SEX:
        return _SEX[value.strip().lower()]
    raise ValueError(f"sex must be F or M, got {value!r}")


def _parse_pregnant(value: Any) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"pregnant must be true or false, got {value!r}")


def parse_record(row: int, record: Any) -> InputRow:
    """Validate one decoded record (a dict from JSONL or CSV)."""
    if not isinstance(record, dict):
        return InputRow(row, None, None, f"error: row must be an object, got {type(record).__name__}")
    raw_id = record.get("id")
    row_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    if None in record:  # csv.DictReader puts surplus cells under the key None
        return InputRow(row, row_id, None, f"error: {len(record[None])} more field(s) than the header")
    if _blank(raw_id):
        return InputRow(row, None, None, "error: missing id")
    if row_id is None:
        return InputRow(row, None, None, f"error: id must be a string or integer, got {type(raw_id).__name__}")
    text = record.get("text")
    if text is None:
        return InputRow(row, row_id, None, "error: missing text")
    if not isinstance(text, str):
        return InputRow(row, row_id, None, f"error: text must be a string, got {type(text).__name__}")
    if not text.strip():
        return InputRow(row, row_id, None, "error: empty text")
    try:
        case = {
            "text": text,
            "age": _parse_age(record.get("age")),
            "sex": _parse_sex(record.get("sex")),
            "pregnant": _parse_pregnant(record.get("pregnant")),
        }
    except ValueError as exc:
        return InputRow(row, row_id, None, f"error: {exc}")
    return InputRow(row, row_id, case)


def read_rows(path: Path) -> list[InputRow]:
    """Every row of INPUT, malformed ones included (as error rows), in order; blank JSONL lines are skipped."""
    rows: list[InputRow] = []
    if _format(path) == "jsonl":
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    rows.append(InputRow(number, None, None, f"error: invalid JSON ({exc.msg} at column {exc.colno})"))
                    continue
                rows.append(parse_record(number, record))
        return rows
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "text" not in reader.fieldnames or "id" not in reader.fieldnames:
            found = ", ".join(reader.fieldnames or []) or "nothing"
            raise BatchError(f"{path}: the CSV header must name the columns id and text (found {found})")
        for number, record in enumerate(reader, 1):
            rows.append(parse_record(number, record))
    return rows


def _result_row(item: InputRow, decision: Any | None) -> dict[str, Any]:
    if decision is None:
        return {
            "row": item.row,
            "id": item.id,
            "level": None,
            "confidence": None,
            "red_flags": [],
            "action": None,
            "language": None,
            "status": item.error,
        }
    return {
        "row": item.row,
        "id": item.id,
        "level": decision.level,
        "confidence": decision.confidence,
        "red_flags": [{"id": f.id, "level": f.level, "explanation": f.explanation} for f in decision.red_flags],
        "action": decision.action,
        "language": decision.language,
        "status": "ok",
    }


class _Writer:
    """Appends result rows to OUTPUT in its format and flushes after every chunk."""

    def __init__(self, path: Path, append: bool) -> None:
        self.format = _format(path)
        self.handle = path.open("a" if append else "w", encoding="utf-8", newline="")
        self.csv = csv.DictWriter(self.handle, COLUMNS, quoting=csv.QUOTE_ALL) if self.format == "csv" else None
        if self.csv and not append:
            self.csv.writeheader()

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if self.csv:
                flat = {k: ("" if row[k] is None else row[k]) for k in COLUMNS}
                flat["red_flags"] = json.dumps(row["red_flags"], ensure_ascii=False)
                self.csv.writerow(flat)
            else:
                self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _existing_rows(path: Path) -> list[dict[str, Any]]:
    """Complete rows of a previous (possibly interrupted) output; a half-written last row is left out."""
    text = path.read_text(encoding="utf-8", errors="replace")
    rows: list[dict[str, Any]] = []
    if _format(path) == "jsonl":
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # cut off mid-line
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break
            if not isinstance(row, dict) or not row.get("status"):
                break
            rows.append(row)
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if None in row or any(row.get(c) is None for c in COLUMNS) or not row["status"]:
                break
            rows.append(row)
    except csv.Error:
        pass
    if rows and not text.endswith("\n"):
        rows.pop()  # the last row may have been cut inside its final field
    return rows


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace OUTPUT by its first complete rows (drops any half-written tail)."""
    tmp = path.with_name(path.name + ".tmp")
    if _format(path) == "csv":
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS, quoting=csv.QUOTE_ALL)
            writer.writeheader()
            writer.writerows(rows)
    else:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def _resume_point(output: Path, items: list[InputRow]) -> int:
    """How many input rows the existing OUTPUT already covers (after checking they match the input)."""
    if not output.exists():
        return 0
    done = _existing_rows(output)
    if len(done) > len(items):
        raise BatchError(f"{output} has more rows than the input; it belongs to another input")
    for old, item in zip(done, items, strict=False):
        if str(old["row"]) != str(item.row) or (old["id"] or None) != item.id:
            raise BatchError(
                f"{output} row {old['row']} (id {old['id']!r}) does not match input row {item.row} (id {item.id!r}); "
                "it belongs to another input: remove it or run without --resume"
            )
    _rewrite(output, done)
    return len(done)


def _chunks(items: list[InputRow], size: int) -> Iterator[list[InputRow]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def auto_workers(rows: int) -> int:
    """Worker processes for a batch of ``rows`` rows: 2 when this process may use at least two cores and the batch
    is large enough to repay the workers' start-up, else 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2, cores) if rows >= AUTO_WORKERS_MIN_ROWS else 1


def _decide_chunk(cases: list[dict[str, Any]]) -> list[Any]:
    """Worker-process entry: triage one chunk with the process's own triager."""
    from agents.triage import get_triager

    return get_triager().decide_many(cases)


def _decisions(chunks: list[list[InputRow]], triager: Any | None, workers: int) -> Iterator[list[Any]]:
    """Decisions for the valid rows of each chunk, in chunk order (in this process or in worker processes)."""
    cases = [[item.case for item in chunk if item.case is not None] for chunk in chunks]
    if workers <= 1:
        if triager is None:
            from agents.triage import get_triager

            triager = get_triager()
        yield from (triager.decide_many(c) for c in cases)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(_decide_chunk, cases)


def run_batch(
    input_path: str | Path,
    output_path: str | Path,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    triager: Any | None = None,
    workers: int | None = 1,
) -> dict[str, Any]:
    """Triage every row of INPUT into OUTPUT; returns a summary (counts per level and status, duplicates, speed).

    ``progress(done, total)`` is called after each chunk (rows already in OUTPUT count as done when resuming).
    ``workers`` > 1 triages chunks in that many worker processes (one CPU core each; rows stay in order); ``None``
    chooses with :func:`auto_workers` (2 for large batches on a machine with 2+ cores).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    _format(output_path)
    if input_path.resolve() == output_path.resolve():
        raise BatchError("INPUT and OUTPUT must be different files")
    items = read_rows(input_path)
    start = _resume_point(output_path, items) if resume else 0
    chunks = list(_chunks(items[start:], CHUNK))
    if workers is None:
        workers = auto_workers(len(items) - start)
    began = time.perf_counter()
    writer = _Writer(output_path, append=start > 0)
    try:
        if progress:
            progress(start, len(items))
        done = start
        for chunk, decided in zip(chunks, _decisions(chunks, triager, workers), strict=True):
            decisions = iter(decided)
            writer.write([_result_row(item, next(decisions) if item.case is not None else None) for item in chunk])
            done += len(chunk)
            if progress:
                progress(done, len(items))
    finally:
        writer.close()
    elapsed = time.perf_counter() - began
    return summarize(output_path, items, start, elapsed)


def summarize(output_path: Path, items: list[InputRow], resumed_from: int, elapsed: float) -> dict[str, Any]:
    """Counts over the whole OUTPUT (previous and new rows)."""
    rows = _existing_rows(output_path)
    levels = Counter(r["level"] for r in rows if r["status"] == "ok")
    ids = Counter(item.id for item in items if item.id is not None)
    triaged = len(items) - resumed_from
    return {
        "input_rows": len(items),
        "output_rows": len(rows),
        "ok": sum(r["status"] == "ok" for r in rows),
        "errors": [
            {"row": r["row"], "id": r["id"] or None, "status": r["status"]} for r in rows if r["status"] != "ok"
        ],
        "levels": {level: levels.get(level, 0) for level in ("emergency", "urgent", "routine", "self_care")},
        "languages": dict(Counter(r["language"] for r in rows if r["status"] == "ok")),
        "duplicate_ids": {i: n for i, n in ids.items() if n > 1},
        "resumed_from": resumed_from,
        "seconds": round(elapsed, 2),
        "rows_per_second": round(triaged / elapsed, 1) if elapsed > 0 and triaged else None,
    }


def print_summary(summary: dict[str, Any], output: Path) -> None:
    """The end-of-run table: rows per level, errors and duplicate ids."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title=f"triage batch -> {output}")
    table.add_column("")
    table.add_column("rows", justify="right")
    for level, count in summary["levels"].items():
        table.add_row(level, str(count))
    table.add_row("errors", str(len(summary["errors"])))
    table.add_row("total", str(summary["output_rows"]))
    console.print(table)
    for error in summary["errors"][:20]:
        console.print(f"  row {error['row']} (id {error['id']}): {error['status']}")
    if len(summary["errors"]) > 20:
        console.print(f"  ... and {len(summary['errors']) - 20} more error rows (status column)")
    if summary["duplicate_ids"]:
        dupes = ", ".join(f"{i} x{n}" for i, n in list(summary["duplicate_ids"].items())[:10])
        console.print(f"  duplicate ids (all rows kept): {dupes}")
    if summary["resumed_from"]:
        console.print(f"  resumed after {summary['resumed_from']} rows already in the output")
    if summary["rows_per_second"]:
        console.print(f"  {summary['rows_per_second']} rows/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agents.batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("input", help="reports to triage: .jsonl or .csv with id, text [, age, sex, pregnant]")
    parser.add_argument("--out", required=True, help="where to write results: .jsonl or .csv (chosen by extension)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: keep the complete rows already in --out, triage the rest",
    )
    parser.add_argument("--summary-json", default=None, help="also write the run summary to this JSON file")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"worker processes, one CPU core each (default: 2 when {AUTO_WORKERS_MIN_ROWS}+ rows are left and the "
        "machine has 2+ cores, else 1)",
    )
    args = parser.parse_args(argv)
    from tqdm import tqdm

    bar = tqdm(unit="row", desc="triage", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        summary = run_batch(args.input, args.out, resume=args.resume, progress=progress, workers=args.workers)
    except (BatchError, OSError) as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar.close()
    print_summary(summary, Path(args.out))
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
