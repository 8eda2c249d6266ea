"""Turn the assistant's events into the HTML the chat tab shows: triage badge, emergency banner, sources and
the per-agent trace. Events are read by attribute (``agents.assistant``'s pydantic events or stand-ins)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from agents.messages import level_label
from ui.i18n import t

LEVEL_COLOURS = {"emergency": "#c62828", "urgent": "#ef6c00", "routine": "#1565c0", "self_care": "#2e7d32"}

CSS = "".join(f".mt-level-{level} {{ background: {colour}; }}\n" for level, colour in LEVEL_COLOURS.items()) + """
.mt-badge { display: inline-block; padding: 0.35em 0.9em; border-radius: 999px; color: #fff; font-weight: 700; }
.mt-flags { margin: 0.4em 0 0 1.1em; padding: 0; }
.mt-banner { background: #c62828; color: #fff; padding: 0.8em 1em; border-radius: 8px; font-weight: 700; }
.mt-banner p { margin: 0.2em 0; }
.mt-muted { color: #777; font-style: italic; }
.mt-source { border: 1px solid #ddd; border-radius: 6px; padding: 0.3em 0.6em; margin-bottom: 0.4em; }
.mt-source summary { cursor: pointer; }
.mt-cite { font-family: monospace; font-size: 0.85em; background: #eee; color: #333; padding: 0 0.3em; }
.mt-trace { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.mt-trace td, .mt-trace th { border-bottom: 1px solid #ddd; padding: 0.2em 0.4em; text-align: left; }
.mt-notice { padding: 0.5em 0.8em; border-radius: 6px; background: #fff3e0; color: #8a4b00; }
.mt-ok { color: #2e7d32; } .mt-down { color: #c62828; } .mt-wait { color: #ef6c00; }
"""


@dataclass(frozen=True)
class Stage:
    """One row of the agent trace."""

    agent: str
    summary: str
    seconds: float


def muted(text: str) -> str:
    return f'<p class="mt-muted">{escape(text)}</p>'


def notice(text: str) -> str:
    """A message about the user's input (empty, too long, bad file) or the app's state; "" shows nothing."""
    return f'<div class="mt-notice" role="alert">{escape(text)}</div>' if text else ""


def ok(text: str) -> str:
    """A success message (e.g. batch done, settings applied)."""
    return f'<p class="mt-ok" role="status">{escape(text)}</p>'


def badge(triage: Any | None, lang: str) -> str:
    """The triage level as a pill coloured by level, the recommended action and the matched red flags."""
    if triage is None:
        return muted(t("no_triage", lang))
    level, label = escape(triage.level), getattr(triage, "level_label", None) or level_label(triage.level, lang)
    parts = [f'<span class="mt-badge mt-level-{level}" data-level="{level}">{escape(label)}</span>']
    if triage.action:
        parts.append(f'<p class="mt-action">{escape(triage.action)}</p>')
    if triage.red_flags:
        items = "".join(f'<li data-flag="{escape(f.id)}">{escape(f.explanation or f.id)}</li>'
                        for f in triage.red_flags)
        parts.append(f"<strong>{escape(t('red_flags', lang))}</strong><ul class=\"mt-flags\">{items}</ul>")
    return "".join(parts)


def banner(triage: Any | None, lang: str, crisis: bool = False) -> str:
    """The emergency banner (call 119; with ``crisis``, i.e. self-harm, also the crisis line 109); empty unless
    the level is emergency or ``crisis``."""
    if triage is None:
        return ""
    if triage.level != "emergency" and not crisis:
        return ""
    lines = [t("banner_emergency", lang)] + ([t("banner_crisis", lang)] if crisis else [])
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    return f'<div class="mt-banner" role="alert" data-level="{escape(triage.level)}">{body}</div>'


def sources(retrieval: Any | None, lang: str) -> str:
    """Each passage as an expandable <details> headed by its citation number, id, title and section."""
    if retrieval is None:
        return muted(t("no_sources", lang))
    if retrieval.error:
        return muted(t("sources_error", lang, error=retrieval.error))
    if not retrieval.sources:
        return muted(t("sources_none_relevant", lang))
    items = []
    for s in retrieval.sources:
        head = f'[{s.n}] <span class="mt-cite">{escape(s.citation_id)}</span> {escape(s.title)}'
        section = getattr(s, "heading", "") or s.section
        head += f" · {escape(section)}" if section else ""
        items.append(f'<details class="mt-source" data-citation="{escape(s.citation_id)}"><summary>{head}</summary>'
                     f'<div class="mt-source-text">{escape(s.text)}</div></details>')
    return "".join(items)


def trace(stages: list[Stage], lang: str, done: bool = False) -> str:
    """A table of the agents in the order they reported: what each did and how long it took.
    ``done``: the turn has its final answer (``data-done`` on the table)."""
    if not stages:
        return muted(t("no_trace", lang))
    head = "".join(f"<th>{escape(t(key, lang))}</th>" for key in ("agent", "did", "seconds"))
    rows = "".join(f'<tr data-agent="{escape(s.agent)}"><td>{escape(s.agent)}</td><td>{escape(s.summary)}</td>'
                   f"<td>{s.seconds:.2f}</td></tr>" for s in stages)
    marker = ' data-done="1"' if done else ""
    return f'<table class="mt-trace"{marker}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _line(css: str, name: str, text: str) -> str:
    return f'<li class="{css}"><strong>{escape(name)}</strong>: {escape(text)}</li>'


def status(phase: str, error: str, documents: int, assistant_status: Any | None, lang: str) -> str:
    """The model server and knowledge base, each as ok / waiting / down with a message that says what to do."""
    model, kb = t("model_server", lang), t("knowledge_base", lang)
    if assistant_status is not None:
        s = assistant_status
        down = s.model_error or f"no answer from {s.base_url}"
        if s.model_ready:
            model_line = _line("mt-ok", model, t("server_up", lang, url=s.base_url, model=s.model_id or "?"))
        elif "ReadTimeout" in down:  # it accepted the connection but is slow to answer: busy generating
            model_line = _line("mt-wait", model, t("server_busy", lang, url=s.base_url))
        else:
            model_line = _line("mt-down", model, t("server_down", lang, error=down))
        kb_line = (_line("mt-ok", kb, t("kb_ready", lang, count=s.documents)) if s.knowledge_ready else
                   _line("mt-down", kb, t("kb_failed", lang, error=s.knowledge_error or "?")))
    elif phase == "failed":
        model_line = _line("mt-down", model, t("start_failed", lang, error=error))
        kb_line = (_line("mt-ok", kb, t("kb_ready", lang, count=documents)) if documents else
                   _line("mt-down", kb, t("kb_failed", lang, error=error)))
    else:
        building = phase in ("waiting", "knowledge")
        model_line = _line("mt-wait", model, t("waiting" if building else "server_starting", lang))
        kb_line = (_line("mt-wait", kb, t("kb_building", lang)) if building else
                   _line("mt-ok", kb, t("kb_ready", lang, count=documents)))
    return f'<ul class="mt-status" data-phase="{escape(phase)}">{model_line}{kb_line}</ul>'
