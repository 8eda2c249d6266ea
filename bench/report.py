"""Shared output for benchmarks: one JSON file with the numbers and one Markdown file for people."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """The context a reader needs to compare numbers across runs."""
    import os

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_report(name: str, results: dict[str, Any], markdown: str) -> Path:
    """Write bench/results/<name>.json (results + machine info) and <name>.md; return the JSON path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS_DIR / f"{name}.json"
    json_path.write_text(json.dumps({"machine": machine_info(), **results}, indent=2, ensure_ascii=False) + "\n")
    (RESULTS_DIR / f"{name}.md").write_text(markdown.rstrip() + "\n", encoding="utf-8")
    print(markdown)
    return json_path


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Render a list of dicts as a GitHub Markdown table (floats with 3 significant decimals)."""
    if not rows:
        return "_no rows_"
    columns = columns or list(rows[0])

    def fmt(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
