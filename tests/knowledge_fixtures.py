"""Shared pieces of the knowledge tests: fixture paths, a small bilingual corpus, a real `chroma run` server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "knowledge"
CORPUS = FIXTURES / "corpus"  # 4 topics x en/ko, 3 sections each
FILES = FIXTURES / "files"  # one of each user-file format
BAD = FIXTURES / "bad"  # corrupt, empty, unknown extension, unknown layout
CHROMA = Path(sys.executable).with_name("chroma")


def copy_corpus(target: Path) -> Path:
    """A writable copy of the fixture corpus (tests that edit it must not touch the original)."""
    return Path(shutil.copytree(CORPUS, target))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[tuple[int, subprocess.Popen]]:
    """A real ``chroma run`` on 127.0.0.1 storing in ``path``; yields (port, process) once it answers."""
    port = port or free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    process = subprocess.Popen(
        [str(CHROMA), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not start on port {port}") from None
                time.sleep(0.2)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
