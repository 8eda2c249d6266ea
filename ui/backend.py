"""What the UI needs from the rest of the project, behind one object: the agent team (``agents.assistant``),
the scripted triage batch (``agents.batch``), settings, and the status of the model server and knowledge base.

``Backend.start()`` works in a background thread so the page is up at once: it builds the knowledge base on
first use (``knowledge.retrieval.ensure_default_collection``, minutes on one core), then enters the
``TriageAssistant`` (which starts the embedded llama.cpp server when no base URL is given). ``phase`` says
where it is; ``close()`` stops everything that was started.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_TOP_K = 5
STATUS_TTL_S = 10.0  # how long a status check is reused (each check asks the model server and Chroma)


class NotReady(RuntimeError):
    """The assistant is still starting, or failed to start (the message says which)."""


@dataclass(frozen=True)
class Settings:
    """What the settings tab changes. ``base_url`` None: the embedded server; ``model`` None: the first served."""

    base_url: str | None = None
    model: str | None = None
    top_k: int = DEFAULT_TOP_K
    cache: bool = True
    max_tokens: int | None = None  # answer length limit; None: the assistant's default
    chroma_host: str | None = None  # a Chroma server instead of the embedded store
    chroma_port: int | None = None


def _make_assistant(settings: Settings) -> Any:
    from agents.assistant import AssistantSettings, TriageAssistant

    options = {"max_tokens": settings.max_tokens} if settings.max_tokens else {}
    return TriageAssistant(AssistantSettings(base_url=settings.base_url, model=settings.model, top_k=settings.top_k,
                                             cache=settings.cache, chroma_host=settings.chroma_host,
                                             chroma_port=settings.chroma_port, **options))


def _build_knowledge(host: str | None = None, port: int | None = None) -> int:
    from knowledge.retrieval import ensure_default_collection

    return ensure_default_collection(host=host, port=port).count()


class Backend:
    """The assistant for the current settings (shared by every session), started in the background.

    ``assistant_factory`` and ``knowledge_builder`` are the real ``agents.assistant`` and
    ``knowledge.retrieval`` by default; tests may pass stand-ins.
    """

    def __init__(self, settings: Settings, assistant_factory: Callable[[Settings], Any] = _make_assistant,
                 knowledge_builder: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self._factory = assistant_factory
        self._build_knowledge = knowledge_builder or functools.partial(
            _build_knowledge, settings.chroma_host, settings.chroma_port)
        self.phase = "waiting"  # waiting | knowledge | model | ready | failed
        self.error = ""
        self.documents = 0
        self._owner: Any = None  # the assistant started with the app's own settings (owns the embedded server)
        self._current: Any = None
        self._retired: list[Any] = []  # replaced by a settings change; closed on exit (conversations may use them)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._status: tuple[float, Any] | None = None  # (when, AssistantStatus) of the current assistant
        self.answering = 0  # answers being generated now (a busy llama.cpp server is slow to answer /models)

    # -- life cycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Build the knowledge base and start the assistant in a background thread (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._start, name="medtriage-start", daemon=True)
                self._thread.start()

    def _start(self) -> None:
        try:
            self.phase = "knowledge"
            self.documents = self._build_knowledge()
            self.phase = "model"
            assistant = self._factory(self.settings)
            assistant.__enter__()
            with self._lock:
                if not self._closed:
                    self._owner = self._current = assistant
                    self.phase = "ready"
            if self._closed:  # the app stopped while the server was starting
                assistant.__exit__(None, None, None)
        except Exception as exc:  # noqa: BLE001  (shown in the status panel; the page keeps working)
            self.error, self.phase = f"{type(exc).__name__}: {exc}", "failed"

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until start-up has finished; True when the assistant is ready."""
        self.start()
        assert self._thread is not None
        self._thread.join(timeout)
        return self.phase == "ready"

    def close(self) -> None:
        """Stop every assistant this backend started (and with the first, the embedded server)."""
        with self._lock:
            self._closed = True
            assistants = [*self._retired, self._current, self._owner]
            self._retired, self._current, self._owner = [], None, None
        for assistant in dict.fromkeys(a for a in assistants if a is not None):
            assistant.__exit__(None, None, None)

    # -- use -------------------------------------------------------------------------------------------------

    def assistant(self) -> Any:
        """The ready assistant; NotReady while starting or after a failed start."""
        current = self._current
        if current is None:
            raise NotReady(self.error or self.phase)
        return current

    def conversation(self) -> Any:
        return self.assistant().conversation()

    def status(self, refresh: bool = False) -> Any | None:
        """The assistant's ``AssistantStatus``, None before it is ready. A check is reused for STATUS_TTL_S, and
        while answers are being generated, unless ``refresh``."""
        current, cached = self._current, self._status
        if current is None:
            return None
        stale = cached is None or (time.monotonic() - cached[0] > STATUS_TTL_S and not self.answering)
        if refresh or stale:
            cached = self._status = (time.monotonic(), current.status())
        return cached[1]

    def served_models(self) -> list[str]:
        """Model ids the current server lists (for the settings tab); [] when it is down or not started."""
        status = self.status()
        if status is None or not status.base_url or self.answering:
            return []
        from agents.llm import served_models

        try:
            return served_models(status.base_url)
        except Exception:  # noqa: BLE001  (the status panel already says why the server is down)
            return []

    def apply(self, settings: Settings) -> None:
        """Use ``settings`` for new conversations (no base URL: the server the app started with)."""
        if settings.base_url is None and self._owner is not None:
            settings = replace(settings, base_url=self._owner.status().base_url)
        assistant = self._factory(settings)
        assistant.__enter__()
        with self._lock:
            if self._current is not None and self._current is not self._owner:
                self._retired.append(self._current)
            self._current, self.settings, self._status = assistant, settings, None

    @staticmethod
    def run_batch(input_path: Path, output_path: Path, progress: Callable[..., None]) -> None:
        """Triage every row of ``input_path`` into ``output_path`` in ``agents.batch``'s format."""
        from agents.batch import run_batch

        run_batch(input_path, output_path, resume=False, progress=progress)
