"""The Gradio app: a chat tab, a batch tab and a settings tab around one ``Backend``.

Element ids (``elem_id``) are stable and used by the browser tests: message, send, chatbot, chat-notice,
emergency-banner, triage-badge, sources, agent-trace, new-chat, download-transcript, ui-language,
batch-upload, batch-run, batch-status, batch-results, batch-chart, setting-url, setting-model,
setting-top-k, setting-cache, apply-settings, settings-notice, status-panel, refresh-status, chat-status.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from ui import batch, chat, render
from ui.backend import Backend
from ui.i18n import t

LANGUAGE_CHOICES = [("Auto", "auto"), ("English", "en"), ("한국어", "ko")]


class Labels:
    """Components whose text follows the UI language: (component, {property: i18n key}); a key written
    "#key" becomes a Markdown heading ("### text")."""

    def __init__(self) -> None:
        self.items: list[tuple[gr.components.Component | gr.blocks.BlockContext, dict[str, str]]] = []

    def add(self, component: Any, **keys: str) -> Any:
        self.items.append((component, keys))
        return component

    @property
    def components(self) -> list[Any]:
        return [component for component, _ in self.items]

    def updates(self, lang: str) -> list[dict[str, Any]]:
        return [gr.update(**{prop: _text(key, lang) for prop, key in keys.items()}) for _, keys in self.items]


def _text(key: str, lang: str) -> str:
    return f"### {t(key[1:], lang)}" if key.startswith("#") else t(key, lang)


def _download(session: chat.ChatSession) -> dict[str, Any]:
    """The download button pointing at a copy of the conversation's transcript (Gradio serves temp files)."""
    source = Path(session.transcript_path) if session.transcript_path else None
    if source is None or not source.is_file():
        return gr.update(value=None, interactive=False)
    copy = Path(tempfile.mkdtemp(prefix="medtriage-transcript-")) / f"medtriage-{source.stem}.jsonl"
    shutil.copyfile(source, copy)
    return gr.update(value=str(copy), interactive=True)


def build_app(backend: Backend, chat_concurrency: int = 1) -> gr.Blocks:
    """The Blocks app. ``chat_concurrency``: answers generated at once (1 for a single llama.cpp server)."""
    lang = "en"
    labels = Labels()
    with gr.Blocks(title="MedTriage") as demo:
        session = gr.State(chat.ChatSession())
        with gr.Row(equal_height=True):
            labels.add(gr.Markdown(f"## {t('title', lang)}", elem_id="title"), value="#title")
            language = gr.Radio(LANGUAGE_CHOICES, value="auto", label=t("ui_language", lang), elem_id="ui-language",
                                scale=0, min_width=380)
            labels.add(language, label="ui_language")
        labels.add(gr.Markdown(t("disclaimer", lang), elem_id="disclaimer"), value="disclaimer")
        chat_status = gr.HTML(render.status(backend.phase, backend.error, 0, None, lang), elem_id="chat-status")

        with gr.Tabs():
            with labels.add(gr.Tab(t("tab_chat", lang), id="chat", elem_id="tab-chat"), label="tab_chat"):
                banner = gr.HTML("", elem_id="emergency-banner")
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = labels.add(gr.Chatbot(label=t("chatbot", lang), elem_id="chatbot", height=440,
                                                        feedback_options=None), label="chatbot")
                        notice = gr.HTML("", elem_id="chat-notice")
                        with gr.Row(equal_height=True):
                            message = labels.add(
                                gr.Textbox(label=t("message", lang), placeholder=t("placeholder", lang),
                                           elem_id="message", lines=2, max_lines=8, scale=5),
                                label="message", placeholder="placeholder")
                            send = labels.add(gr.Button(t("send", lang), variant="primary", elem_id="send",
                                                        scale=1), value="send")
                        with gr.Row():
                            new_chat = labels.add(gr.Button(t("new_chat", lang), elem_id="new-chat"),
                                                  value="new_chat")
                            download = labels.add(gr.DownloadButton(t("download", lang), interactive=False,
                                                                    elem_id="download-transcript"),
                                                  label="download")
                    with gr.Column(scale=2):
                        labels.add(gr.Markdown(f"### {t('triage', lang)}"), value="#triage")
                        badge = gr.HTML(render.badge(None, lang), elem_id="triage-badge")
                        labels.add(gr.Markdown(f"### {t('sources', lang)}"), value="#sources")
                        sources = gr.HTML(render.sources(None, lang), elem_id="sources")
                        labels.add(gr.Markdown(f"### {t('trace', lang)}"), value="#trace")
                        trace = gr.HTML(render.trace([], lang), elem_id="agent-trace")

            with labels.add(gr.Tab(t("tab_batch", lang), id="batch", elem_id="tab-batch"), label="tab_batch"):
                labels.add(gr.Markdown(t("batch_intro", lang)), value="batch_intro")
                with gr.Row():
                    upload = labels.add(gr.File(label=t("batch_file", lang), elem_id="batch-upload"),
                                        label="batch_file")
                    results = labels.add(gr.File(label=t("batch_results", lang), interactive=False,
                                                 elem_id="batch-results"), label="batch_results")
                run = labels.add(gr.Button(t("batch_run", lang), variant="primary", elem_id="batch-run"),
                                 value="batch_run")
                batch_status = gr.HTML("", elem_id="batch-status")
                chart = labels.add(gr.BarPlot(x="level", y="rows", color="level", color_map=render.LEVEL_COLOURS,
                                              sort=list(batch.LEVEL_ORDER), y_lim=[0, None], y_axis_format="d",
                                              label=t("batch_chart", lang), elem_id="batch-chart"),
                                   label="batch_chart")

            with labels.add(gr.Tab(t("tab_settings", lang), id="settings", elem_id="tab-settings"),
                            label="tab_settings"):
                labels.add(gr.Markdown(t("settings_intro", lang)), value="settings_intro")
                settings = backend.settings
                with gr.Row():
                    url = labels.add(gr.Textbox(settings.base_url or "", label=t("server_url", lang),
                                                placeholder="http://127.0.0.1:8080/v1", elem_id="setting-url"),
                                     label="server_url")
                    model = labels.add(gr.Dropdown([settings.model] if settings.model else [],
                                                   value=settings.model or "", allow_custom_value=True,
                                                   label=t("profile", lang), elem_id="setting-model"),
                                       label="profile")
                with gr.Row():
                    top_k = labels.add(gr.Slider(1, 10, value=settings.top_k, step=1, label=t("top_k", lang),
                                                 elem_id="setting-top-k"), label="top_k")
                    cache = labels.add(gr.Checkbox(settings.cache, label=t("cache", lang), elem_id="setting-cache"),
                                       label="cache")
                apply = labels.add(gr.Button(t("apply", lang), variant="primary", elem_id="apply-settings"),
                                   value="apply")
                settings_notice = gr.HTML("", elem_id="settings-notice")
                labels.add(gr.Markdown(f"### {t('status', lang)}"), value="#status")
                status_panel = gr.HTML(render.status(backend.phase, backend.error, 0, None, lang),
                                       elem_id="status-panel")
                refresh = labels.add(gr.Button(t("refresh", lang), elem_id="refresh-status"), value="refresh")
        timer = gr.Timer(2.0)

        # -- settings and status ---------------------------------------------------------------------------
        def status_html(state: chat.ChatSession, refresh: bool = False) -> str:
            return render.status(backend.phase, backend.error, backend.documents, backend.status(refresh), state.lang)

        # -- chat ------------------------------------------------------------------------------------------
        def accept(text: str, state: chat.ChatSession, choice: str) -> list[Any]:
            problem = chat.accept(state, text, choice)
            early_banner, early_badge = (None, None) if problem else chat.early_triage(state)
            status = status_html(state)
            return [list(state.messages), text if problem else "", render.notice(problem),
                    early_banner or gr.skip(), early_badge or gr.skip(), state, status, status,
                    *labels.updates(state.lang)]

        async def answer(state: chat.ChatSession) -> Any:
            async for view in chat.stream(backend, state):
                banner_html, badge_html, sources_html, trace_html, notice_html = view.html()
                shown = view.triage is not None  # keep the previous turn's triage until this one's arrives
                yield [[dict(m) for m in state.messages], banner_html if shown else gr.skip(),
                       badge_html if shown else gr.skip(), sources_html, trace_html, notice_html, state,
                       _download(state) if view.final is not None else gr.skip()]

        accepted = [message.submit, send.click]
        step = gr.on(accepted, accept, [message, session, language],
                     [chatbot, message, notice, banner, badge, session, chat_status, status_panel,
                      *labels.components],
                     api_name="accept")
        step.then(answer, session, [chatbot, banner, badge, sources, trace, notice, session, download],
                  api_name="answer", concurrency_limit=chat_concurrency, concurrency_id="model")

        def new_conversation(state: chat.ChatSession) -> list[Any]:
            return [[], chat.ChatSession(lang=state.lang), "", render.badge(None, state.lang),
                    render.sources(None, state.lang), render.trace([], state.lang), "",
                    gr.update(value=None, interactive=False)]

        new_chat.click(new_conversation, session, [chatbot, session, banner, badge, sources, trace, notice, download],
                       api_name="new_conversation")

        def switch_language(choice: str, state: chat.ChatSession) -> list[Any]:
            state.lang = choice if choice in ("en", "ko") else state.lang
            status = status_html(state)
            return [state, status, status, *labels.updates(state.lang)]

        language.change(switch_language, [language, session], [session, chat_status, status_panel,
                                                                *labels.components], api_name=False)

        # -- batch -----------------------------------------------------------------------------------------
        def run_batch(path: str | None, state: chat.ChatSession,
                      progress: gr.Progress = gr.Progress()) -> list[Any]:  # noqa: B008  (Gradio's progress idiom)
            def report(done: int, total: int | None = None) -> None:
                progress((done, total) if total else None, desc=t("batch_progress", state.lang))

            try:
                output, counts, text = batch.run(path, state.lang, backend.run_batch, report)
            except batch.BatchInputError as exc:
                return [render.notice(str(exc)), None, None]
            return [render.ok(text), str(output), counts]

        run.click(run_batch, [upload, session], [batch_status, results, chart], api_name="batch",
                  concurrency_limit=1, concurrency_id="batch")

        def tick(state: chat.ChatSession) -> list[Any]:
            html = status_html(state, refresh=True)
            served = backend.served_models()
            return [html, html, gr.update(choices=served) if served else gr.skip(),
                    gr.Timer(active=backend.phase not in ("ready", "failed"))]

        status_outputs = [chat_status, status_panel, model, timer]
        timer.tick(tick, session, status_outputs, api_name=False, show_progress="hidden")
        refresh.click(tick, session, status_outputs, api_name="status")

        def apply_settings(base_url: str, model_id: str | None, k: float, use_cache: bool,
                           state: chat.ChatSession) -> list[str]:
            base_url = base_url.strip()
            if base_url and not base_url.startswith(("http://", "https://")):
                message = render.notice(t("bad_url", state.lang, url=base_url))
            else:
                try:
                    backend.apply(replace(backend.settings, base_url=base_url or None,
                                          model=(model_id or "").strip() or None, top_k=int(k), cache=bool(use_cache)))
                    message = render.ok(t("applied", state.lang))
                except Exception as exc:  # noqa: BLE001  (shown to the user; the old settings stay)
                    message = render.notice(t("settings_failed", state.lang, error=str(exc)))
            status = status_html(state, refresh=True)
            return [message, status, status]

        apply.click(apply_settings, [url, model, top_k, cache, session], [settings_notice, status_panel, chat_status],
                    api_name="apply_settings")
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           share: bool = False, block: bool = True) -> None:
    """Queue and serve ``demo``; ``block=False`` returns once the server is up (tests, benchmarks)."""
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(server_name=host, server_port=port, auth=auth, share=share, prevent_thread_lock=not block,
                css=render.CSS, theme=gr.themes.Soft(), footer_links=["api"], quiet=not block)
