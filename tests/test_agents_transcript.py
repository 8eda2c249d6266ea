"""Transcripts: one redacted JSONL file per conversation, owner-only permissions."""

import stat
from pathlib import Path

import pytest

from agents.transcript import TranscriptWriter, read_transcript


def test_records_are_redacted_and_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "transcripts"
    writer = TranscriptWriter(directory, "conv-1")
    writer.write("turn_start", turn=1, text="전화 010-1234-5678, 메일 a@b.kr, 주민번호 900101-1234567")
    writer.write("turn_end", turn=1, timings={"total": 12.5})
    records = read_transcript(writer.path)
    assert [r["event"] for r in records] == ["turn_start", "turn_end"]
    assert records[0]["conversation_id"] == "conv-1" and "ts" in records[0]
    assert records[0]["text"] == "전화 [PHONE], 메일 [EMAIL], 주민번호 [RRN]"
    assert "1234" not in writer.path.read_text(encoding="utf-8")
    assert stat.S_IMODE(writer.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_existing_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    TranscriptWriter(directory, "abc").write("x")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_conversation_id_cannot_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TranscriptWriter(tmp_path, "../escape")
