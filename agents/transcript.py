"""One JSONL transcript per conversation, redacted, readable by its owner only.

Each line is one JSON object with ``ts`` (UTC ISO time), ``conversation_id``, ``event`` and the event's
fields (see docs/agents.md). Every string passes ``agents.redaction.redact_data`` before it is written.
The directory is made ``0700`` and each file ``0600``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.redaction import redact_data
from medtriage.paths import data_dir

SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def default_transcript_dir() -> Path:
    """``medtriage.paths.data_dir("transcripts")``."""
    return data_dir("transcripts")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


class TranscriptWriter:
    """Appends redacted JSON lines to ``<directory>/<conversation_id>.jsonl`` (created 0600)."""

    def __init__(self, directory: Path | str, conversation_id: str) -> None:
        if not SAFE_ID.match(conversation_id):
            raise ValueError(f"conversation id must match {SAFE_ID.pattern}: {conversation_id!r}")
        self.conversation_id = conversation_id
        self.path = private_dir(Path(directory).expanduser()) / f"{conversation_id}.jsonl"
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        """Append one record: ``{"ts", "conversation_id", "event", **fields}`` (redacted)."""
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "conversation_id": self.conversation_id, "event": event, **redact_data(fields)}
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)


def read_transcript(path: Path | str) -> list[dict[str, Any]]:
    """All records of a transcript file, in order."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
