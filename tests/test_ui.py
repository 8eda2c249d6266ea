"""Unit tests of the Gradio app's parts (no model server, no browser): i18n, rendering, the chat turn, the batch
tab, the backend's life cycle, the CLI, and the app's API wiring through gradio_client with a stand-in assistant."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from ui_fixtures import FakeAssistant, FakeConversation, free_port

from ui import batch, chat, render
from ui.__main__ import parse_args
from ui.backend import Backend, NotReady, Settings
from ui.i18n import STRINGS, t, ui_language


def ready_backend(**kwargs: object) -> Backend:
    backend = Backend(Settings(), assistant_factory=lambda s: FakeAssistant(s, **kwargs), knowledge_builder=lambda: 42)
    assert backend.wait_ready(10)
    return backend


async def collect(backend: Backend, session: chat.ChatSession) -> list[tuple[bool, str]]:
    """(triage shown, answer text) after every streamed view."""
    return [(view.triage is not None, view.answer_text()) async for view in chat.stream(backend, session)]


# -- i18n and rendering ---------------------------------------------------------------------------------------

def test_every_string_has_korean_and_english() -> None:
    assert all(set(entry) == {"en", "ko"} and all(entry.values()) for entry in STRINGS.values())
    assert t("too_long", "ko", n=20000, limit=4000) == STRINGS["too_long"]["ko"].format(n=20000, limit=4000)
    assert t("send", "fr") == "Send"


@pytest.mark.parametrize(("choice", "detected", "current", "expected"), [
    ("auto", "ko", "en", "ko"), ("auto", "fr", "ko", "ko"), ("en", "ko", "ko", "en"), ("auto", None, "en", "en"),
])
def test_ui_language_follows_the_user(choice: str, detected: str | None, current: str, expected: str) -> None:
    assert ui_language(choice, detected, current) == expected


def triage(level: str, *flag_ids: str) -> SimpleNamespace:
    flags = [SimpleNamespace(id=f, level=level, explanation=f"<b>{f}</b>") for f in flag_ids]
    return SimpleNamespace(level=level, level_label=level, action="act", red_flags=flags)


@pytest.mark.parametrize("level", list(render.LEVEL_COLOURS))
def test_badge_is_coloured_by_level_and_lists_red_flags(level: str) -> None:
    html = render.badge(triage(level, "flag-a"), "en")
    assert f"mt-level-{level}" in html
    assert f".mt-level-{level} {{ background: {render.LEVEL_COLOURS[level]}" in render.CSS
    assert 'data-flag="flag-a"' in html and "&lt;b&gt;flag-a" in html  # explanations are escaped


def test_banner_only_for_emergencies_and_adds_the_crisis_line_for_self_harm() -> None:
    assert render.banner(None, "en") == "" and render.banner(triage("urgent"), "en") == ""
    emergency = render.banner(triage("emergency", "stroke"), "ko")
    assert "119" in emergency and "109" not in emergency
    crisis = render.banner(triage("urgent", "suicidal_thoughts"), "en", crisis=True)
    assert "119" in crisis and "109" in crisis


@pytest.mark.parametrize(("text", "banner", "level"), [
    ("My husband suddenly has slurred speech and his face droops on one side.", "119", "emergency"),
    ("I want to kill myself tonight, I have the pills ready.", "109", "emergency"),
    ("I have a mild headache.", None, None),
])
def test_early_triage_from_the_message_alone(text: str, banner: str | None, level: str | None) -> None:
    session = chat.ChatSession()
    chat.accept(session, text, "auto")
    early_banner, early_badge = chat.early_triage(session)
    assert early_banner is None if banner is None else banner in early_banner
    assert 'class="mt-badge' in early_badge and (level is None or f'data-level="{level}"' in early_badge)
    session.pending = None
    chat.accept(session, "what now?", "auto")  # follow-ups: the level depends on the history, no early badge
    assert chat.early_triage(session)[1] is None


def test_sources_expand_with_citation_ids_and_trace_lists_agents() -> None:
    source = SimpleNamespace(n=2, citation_id="en/stroke#symptoms", title="Stroke", section="Symptoms", score=0.9,
                             text="Face <drooping>")
    html = render.sources(SimpleNamespace(sources=[source], no_answer=False, error=None), "en")
    assert '<details class="mt-source" data-citation="en/stroke#symptoms">' in html and "Face &lt;drooping&gt;" in html
    none = render.sources(SimpleNamespace(sources=[], no_answer=True, error=None), "en")
    assert t("sources_none_relevant", "en") in none
    table = render.trace([render.Stage("retriever", "3 passages", 0.25)], "en")
    assert 'data-agent="retriever"' in table and "0.25" in table


# -- the chat turn --------------------------------------------------------------------------------------------

def test_accept_rejects_empty_and_oversized_messages_in_the_users_language() -> None:
    session = chat.ChatSession()
    assert chat.accept(session, "   ", "auto") == t("empty_message", "en") and session.pending is None
    problem = chat.accept(session, "가" * 20_000, "auto")
    assert session.lang == "ko" and problem == t("too_long", "ko", n=20_000, limit=chat.MAX_MESSAGE_CHARS)
    assert session.pending is None and session.messages == []
    assert chat.accept(session, "I have a headache", "auto") == "" and session.lang == "en"
    assert session.pending == "I have a headache" and session.messages[-1]["role"] == "user"
    assert chat.accept(session, "and a fever", "auto") == t("busy", "en")  # one question at a time
    assert len(session.messages) == 1


def test_stream_shows_no_answer_text_before_the_triage_and_ends_verified(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("{}\n")
    backend = ready_backend(transcript_path=str(transcript))
    session = chat.ChatSession()
    chat.accept(session, "sudden slurred speech, face drooping", "auto")
    views = asyncio.run(collect(backend, session))
    assert all(shown for shown, text in views if text), "answer text appeared before the triage"
    assert views[-1][1].startswith("This is the answer [1].")
    assert session.transcript_path == str(transcript) and session.messages[-1]["role"] == "assistant"


def test_trace_names_every_agent_and_a_follow_up_reuses_the_conversation() -> None:
    backend = ready_backend()
    session = chat.ChatSession()
    chat.accept(session, "stroke symptoms", "auto")

    async def last_view() -> chat.TurnView:
        views = [view async for view in chat.stream(backend, session)]
        return views[-1]

    view = asyncio.run(last_view())
    assert [s.agent for s in view.stages] == ["translator", "retriever", "triage", "answerer", "verifier", "Total"]
    assert view.triage.level == "emergency" and "119" in view.html()[0]
    conversation = session.conversation
    chat.accept(session, "what should I do while waiting?", "auto")
    asyncio.run(last_view())
    assert session.conversation is conversation and len(conversation.questions) == 2
    assert [m["role"] for m in session.messages] == ["user", "assistant", "user", "assistant"]


def test_failures_become_messages_not_exceptions() -> None:
    class Broken(FakeConversation):
        async def ask_stream(self, text: str, **_: object):  # type: ignore[override]
            raise RuntimeError("server exploded")
            yield  # pragma: no cover

    backend = ready_backend()
    session = chat.ChatSession(conversation=Broken())
    chat.accept(session, "hello there", "en")
    assert "server exploded" in asyncio.run(collect(backend, session))[-1][1]

    starting = Backend(Settings(), assistant_factory=FakeAssistant, knowledge_builder=lambda: 1)  # not started
    session = chat.ChatSession()
    chat.accept(session, "hello there", "en")
    assert asyncio.run(collect(starting, session))[-1][1] == t("not_ready", "en", state="waiting")


# -- backend life cycle ---------------------------------------------------------------------------------------

def test_backend_starts_applies_settings_and_closes_every_assistant() -> None:
    made: list[FakeAssistant] = []

    def factory(settings: Settings) -> FakeAssistant:
        made.append(FakeAssistant(settings))
        return made[-1]

    backend = Backend(Settings(top_k=3), assistant_factory=factory, knowledge_builder=lambda: 9)
    assert backend.wait_ready(10) and backend.documents == 9 and backend.status().model_ready
    backend.apply(Settings(None, "other", 2, False))
    assert made[1].settings == Settings("http://127.0.0.1:1/v1", "other", 2, False)  # empty URL: the app's server
    backend.apply(Settings("http://127.0.0.1:2/v1"))
    backend.close()
    assert [(a.entered, a.exited) for a in made] == [(1, 1)] * 3


def test_backend_reports_a_failed_start() -> None:
    def no_knowledge() -> int:
        raise OSError("disk full")

    backend = Backend(Settings(), assistant_factory=FakeAssistant, knowledge_builder=no_knowledge)
    assert not backend.wait_ready(10) and backend.phase == "failed" and "disk full" in backend.error
    with pytest.raises(NotReady):
        backend.conversation()
    assert backend.served_models() == []
    assert "disk full" in render.status(backend.phase, backend.error, 0, None, "en")


@pytest.mark.parametrize(("error", "css"), [("not reachable (ReadTimeout)", "mt-wait"),
                                             ("not reachable (ConnectError)", "mt-down")])
def test_a_slow_model_server_is_busy_not_down(error: str, css: str) -> None:
    status = SimpleNamespace(model_ready=False, base_url="http://127.0.0.1:1/v1", model_id="m", model_error=error,
                             knowledge_ready=True, documents=3)
    assert f'<li class="{css}"><strong>Model server' in render.status("ready", "", 3, status, "en")


# -- batch ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "key"), [
    ("notes.pdf", "%PDF-1.4", "batch_bad_type"), ("reports.jsonl", "not json\n", "batch_bad_type"),
    ("empty.csv", "\n\n", "batch_empty"),
])
def test_check_upload_explains_unusable_files(tmp_path: Path, name: str, content: str, key: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(batch.BatchInputError) as error:
        batch.check_upload(str(path), "en")
    assert str(error.value) == t(key, "en", name=name)
    with pytest.raises(batch.BatchInputError, match=t("batch_no_file", "ko")):
        batch.check_upload(None, "ko")


def test_run_counts_levels_of_the_results_file(tmp_path: Path) -> None:
    source = tmp_path / "reports.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": "x"}) + "\n" for i in range(5)))
    calls: list[tuple[int, int]] = []

    def fake_run_batch(input_path: Path, output_path: Path, progress) -> None:
        levels = ["routine", "emergency", "routine", "self_care", ""]
        output_path.write_text("".join(json.dumps({"level": lvl}) + "\n" for lvl in levels))
        progress(5, 5)

    output, counts, message = batch.run(str(source), "en", fake_run_batch, lambda d, n: calls.append((d, n)))
    assert output.suffix == ".jsonl" and calls == [(5, 5)] and "5 rows" in message
    assert counts.to_dict("list") == {"level": ["emergency", "routine", "self_care", "not triaged"],
                                      "rows": [1, 2, 1, 1]}


# -- CLI and the app through gradio_client -------------------------------------------------------------------

def test_cli_flags() -> None:
    args = parse_args(["--port", "7999", "--base-url", "http://127.0.0.1:8080/v1", "--top-k", "3"])
    assert (args.host, args.port, args.base_url, args.top_k, args.share, args.concurrency) == \
        ("127.0.0.1", 7999, "http://127.0.0.1:8080/v1", 3, False, 1)
    with pytest.raises(SystemExit):
        parse_args(["--username", "nurse"])


def test_app_endpoints_answer_through_gradio_client() -> None:
    from gradio_client import Client

    from ui.app import build_app, launch

    demo = build_app(ready_backend())
    port = free_port()
    launch(demo, port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        accepted = client.predict("", "auto", api_name="/accept")
        assert t("empty_message", "en") in accepted[2]
        client.predict("말이 어눌해졌어요", "auto", api_name="/accept")
        outputs = client.predict(api_name="/answer")
        messages, banner = outputs[0], outputs[1]
        assert "119" in banner and messages[-1]["role"] == "assistant"
    finally:
        demo.close()


def test_status_is_not_rechecked_while_answers_are_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.backend

    backend = ready_backend()
    first = backend.status()
    monkeypatch.setattr(ui.backend, "STATUS_TTL_S", 0.0)
    backend.answering = 1  # a busy llama.cpp server answers /models late: keep the last check
    assert backend.status() is first
    assert backend.status(refresh=True) is not first
    backend.answering = 0
    assert backend.status() is not backend.status()
