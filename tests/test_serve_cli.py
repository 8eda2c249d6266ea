"""``python -m finetune.serve`` as a user runs it: one-line errors, exit codes, nothing left running, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from finetune.server import free_port
from medtriage.paths import REPO_ROOT

Q_PROJ = "model.layers.0.self_attn.q_proj"


def serve(*args: str, env: dict[str, str] | None = None) -> tuple[int, int, str]:
    """Run the CLI on a fresh port until it exits; return (port, exit code, stderr)."""
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "finetune.serve", "--port", str(port), *args], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    return port, result.returncode, result.stderr


def assert_one_line_error(stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


@pytest.mark.parametrize(("args", "expected"), [
    (["--model", "no-such-model"], "unknown model profile 'no-such-model'"),
    (["--adapter", "/nonexistent/adapter"], "adapter directory not found: /nonexistent/adapter"),
])
def test_bad_model_or_adapter_path(args: list[str], expected: str,
                                   server_processes: Callable[[int], list[int]]) -> None:
    port, code, stderr = serve(*args)
    assert code == 2
    assert_one_line_error(stderr, expected)
    assert server_processes(port) == []


@pytest.mark.parametrize(("shape", "config", "expected"), [
    ((1024, 640), {"base_model_name_or_path": "google/medgemma-4b-it"}, "trained on 'google/medgemma-4b-it'"),
    ((2048, 2560), {}, "is 2048x2560 in the adapter but 1024x640 in gemma-3-270m-q4_k_m.gguf"),
], ids=["recorded-base", "shapes"])
def test_adapter_for_another_base_model(tmp_path: Path, write_adapter: Callable[..., Path], shape: tuple[int, int],
                                        config: dict[str, str], expected: str,
                                        server_processes: Callable[[int], list[int]]) -> None:
    adapter = write_adapter(tmp_path / "other", {Q_PROJ: shape}, **config)
    port, code, stderr = serve("--adapter", str(adapter))
    assert code == 2
    assert_one_line_error(stderr, "adapter for another base model: ")
    assert expected in stderr
    assert server_processes(port) == []


def test_port_in_use(server_processes: Callable[[int], list[int]]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "finetune.serve", "--port", str(port)], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert_one_line_error(result.stderr, f"port {port} on 127.0.0.1 is already in use")
    assert server_processes(port) == []


def test_engine_not_installed(tmp_path: Path, server_processes: Callable[[int], list[int]]) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is importable in this environment, so it is installed")
    port, code, stderr = serve("--engine", "vllm", env={"MEDTRIAGE_VLLM_VENV": str(tmp_path / "no-venv")})
    assert code == 2
    assert_one_line_error(stderr, "vLLM is not installed")
    assert server_processes(port) == []


@pytest.mark.slow
def test_serves_until_ctrl_c(server_processes: Callable[[int], list[int]], tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("w")  # a file, not a pipe: an unread full pipe would block the server
    cli = subprocess.Popen([sys.executable, "-m", "finetune.serve", "--port", str(port)], cwd=REPO_ROOT,
                           stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert cli.stdout is not None
        lines = [cli.stdout.readline().strip() for _ in range(3)]
        assert lines == [f"base_url: http://127.0.0.1:{port}/v1", "model_id: gemma3-270m",
                         "serving; press Ctrl-C to stop"], lines
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=60, json={
            "model": "gemma3-270m", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4})
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] > 0
        cli.send_signal(signal.SIGINT)
        try:
            code = cli.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("Ctrl-C did not stop finetune.serve in 60 s; its stderr:\n"
                        + (tmp_path / "serve.log").read_text()[-2000:])
        assert code == 0
    finally:
        cli.kill()
        cli.wait()
        log.close()
    assert server_processes(port) == []
