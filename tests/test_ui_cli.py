"""``python -m ui`` as a user runs it: no base URL, so the app starts the embedded llama.cpp server itself,
reports it in the status panel, asks for the login it was given, and stops the server when it is stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from ui_fixtures import free_port

from medtriage.paths import REPO_ROOT

pytestmark = pytest.mark.slow
STARTUP_S = 1800  # the first run builds the knowledge base


def test_cli_starts_and_stops_the_embedded_server() -> None:
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "MEDTRIAGE_UI_PASSWORD": "s3cret"}
    app = subprocess.Popen([sys.executable, "-m", "ui", "--port", str(port), "--username", "nurse"],
                           cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and app.poll() is None:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert app.poll() is None, app.stdout.read() if app.stdout else ""
        assert httpx.get(f"{url}config", timeout=5).status_code == 401  # the login is required

        client = Client(url, auth=("nurse", "s3cret"), verbose=False)
        deadline, status = time.monotonic() + STARTUP_S, ""
        while time.monotonic() < deadline:
            status = next(o for o in client.predict(api_name="/status") if "mt-status" in str(o))
            if 'data-phase="ready"' in status or 'data-phase="failed"' in status:
                break
            time.sleep(3)
        assert 'data-phase="ready"' in status and "mt-down" not in status, status
        server = re.search(r"up at (http://127\.0\.0\.1:\d+/v1)", status)
        assert server, status
        assert httpx.get(f"{server.group(1)}/models", timeout=5).status_code == 200
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            output, _ = app.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            app.kill()
            raise
    assert app.returncode == 0, output
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.group(1)}/models", timeout=2)
