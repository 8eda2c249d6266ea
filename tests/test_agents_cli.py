"""``python -m agents.ask``: arguments, settings and what it prints (with stand-ins for the servers)."""

from pathlib import Path

import pytest
from agents_fakes import FakeRetriever, FakeTriage, RecordingClient

import agents.ask as ask
from agents.assistant import AssistantSettings, TriageAssistant


@pytest.fixture
def fake_assistant(monkeypatch: pytest.MonkeyPatch) -> list[AssistantSettings]:
    seen: list[AssistantSettings] = []

    def factory(settings: AssistantSettings) -> TriageAssistant:
        seen.append(settings)
        return TriageAssistant(settings, retriever=FakeRetriever(), triage_fn=FakeTriage(),
                               client_factory=lambda: RecordingClient("Call 119 immediately [2]."))

    monkeypatch.setattr(ask, "TriageAssistant", factory)
    return seen


def test_one_question_prints_level_answer_red_flags_and_sources(
        fake_assistant: list[AssistantSettings], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = ask.main(["My face is drooping", "--base-url", "http://127.0.0.1:1/v1", "--no-cache", "--top-k", "2",
                     "--transcript-dir", str(tmp_path), "--trace", "--chroma-host", "chroma.local"])
    out = capsys.readouterr().out
    assert code == 0 and "Emergency (emergency)" in out and "Call 119 now" in out
    assert "Red flags:" in out and "[2] Stroke - When to seek care (stroke#en-care-0)" in out
    assert f"Transcript: {tmp_path}" in out and "Timings (ms): translator" in out
    settings = fake_assistant[0]
    assert (settings.base_url, settings.cache, settings.top_k, settings.transcript_dir) == (
        "http://127.0.0.1:1/v1", False, 2, tmp_path)
    assert (settings.chroma_host, settings.chroma_port) == ("chroma.local", 8000)


def test_interactive_keeps_one_conversation(fake_assistant: list[AssistantSettings], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    lines = iter(["My face is drooping", "I feel better now", "quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert ask.main(["--interactive", "--base-url", "http://x/v1", "--transcript-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("Emergency (emergency)") == 2 and len(list(tmp_path.glob("*.jsonl"))) == 1


def test_a_question_or_interactive_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ask.main([])
    assert "give a question" in capsys.readouterr().err
