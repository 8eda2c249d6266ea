"""The batch tab's logic: check an uploaded file of self-reports, triage it with ``agents.batch.run_batch``,
and summarise the levels for the chart."""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ui.i18n import t

SUFFIXES = (".csv", ".jsonl")
LEVEL_ORDER = ("emergency", "urgent", "routine", "self_care")


class BatchInputError(ValueError):
    """The upload is unusable; the message is for the user."""


def check_upload(path: str | None, lang: str) -> Path:
    """The uploaded file if it looks like CSV or JSONL text; BatchInputError with a clear message otherwise."""
    if not path:
        raise BatchInputError(t("batch_no_file", lang))
    file = Path(path)
    if file.suffix.lower() not in SUFFIXES:
        raise BatchInputError(t("batch_bad_type", lang, name=file.name))
    try:
        with file.open(encoding="utf-8-sig") as handle:
            first = next((line for line in handle if line.strip()), "")
    except (OSError, UnicodeDecodeError):
        raise BatchInputError(t("batch_bad_type", lang, name=file.name)) from None
    if not first:
        raise BatchInputError(t("batch_empty", lang, name=file.name))
    if file.suffix.lower() == ".jsonl":
        try:
            json.loads(first)
        except ValueError:
            raise BatchInputError(t("batch_bad_type", lang, name=file.name)) from None
    return file


def read_levels(path: Path) -> list[str]:
    """The ``level`` of every row of a results file (CSV or JSONL)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() == ".csv":
            return [row.get("level") or "" for row in csv.DictReader(handle)]
        return [json.loads(line).get("level") or "" for line in handle if line.strip()]


def level_counts(levels: list[str]) -> pd.DataFrame:
    """Rows per level in triage order; rows that could not be triaged (empty level) come last."""
    counts = Counter(level or "not triaged" for level in levels)
    order = [lvl for lvl in LEVEL_ORDER if lvl in counts] + sorted(set(counts) - set(LEVEL_ORDER))
    return pd.DataFrame({"level": order, "rows": [counts[lvl] for lvl in order]})


def run(path: str | None, lang: str, run_batch: Callable[..., None],
        progress: Callable[..., None]) -> tuple[Path, pd.DataFrame, str]:
    """Triage the upload into a results file beside a copy; return (results, level counts, status message)."""
    source = check_upload(path, lang)
    output = Path(tempfile.mkdtemp(prefix="medtriage-batch-")) / f"{source.stem}.triage{source.suffix.lower()}"
    started = time.perf_counter()
    try:
        run_batch(source, output, progress)
        levels = read_levels(output)
    except Exception as exc:  # noqa: BLE001  (the user sees why; the app keeps working)
        raise BatchInputError(t("batch_failed", lang, error=f"{type(exc).__name__}: {exc}")) from None
    message = t("batch_done", lang, rows=len(levels), seconds=time.perf_counter() - started)
    return output, level_counts(levels), message
