"""Load on the Gradio app: N concurrent chat sessions through gradio_client against the real app (agent team,
embedded llama.cpp server, knowledge base), each asking one question through the UI's own endpoints
(``/accept`` then the streamed ``/answer``).

    python -m bench ui_load     # 20 sessions, 64-token answers; MEDTRIAGE_UI_LOAD_SESSIONS / _MAX_TOKENS change them

Reported: errors, end-to-end latency p50/p95 (send -> verified answer, queueing included), time to the triage
badge, and the same figures for one session alone measured first in the same run (the baseline). The LLM
cache is off so every answer is generated. Chat answers run one at a time (``concurrency_limit=1``, one
llama.cpp server), so under load latency grows with the queue; the point is that nothing fails.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.report import markdown_table, write_report

QUESTIONS = [
    "I have had a sore throat and a mild fever since yesterday.",
    "어제부터 목이 아프고 열이 조금 나요.",
    "My ankle is swollen after I twisted it playing football.",
    "두통이 사흘째 계속돼요. 진통제를 먹어도 될까요?",
    "I get heartburn after dinner most nights.",
    "아이가 밤새 기침을 해요. 열은 없어요.",
    "I have a red itchy rash on my arms after gardening.",
    "변비가 일주일째예요.",
    "My husband suddenly has slurred speech and his face droops on one side.",
    "갑자기 가슴이 조이고 식은땀이 나요.",
]


@dataclass
class Session:
    seconds: float = 0.0
    early_seconds: float | None = None  # send -> triage badge from the message alone (before the queue)
    triage_seconds: float | None = None  # send -> the team's triage (its row in the agent trace)
    banner_seconds: float | None = None  # emergencies: send -> banner
    error: str = ""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def chat_once(url: str, question: str) -> Session:
    """One browser-like session: accept the message, stream the answer, check it ended with a verified answer."""
    from gradio_client import Client

    result = Session()
    started = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        accepted = client.predict(question, "auto", api_name="/accept")
        if accepted[2]:  # the notice: the message was refused
            raise RuntimeError(f"message refused: {accepted[2]}")
        accepted_at = time.perf_counter() - started
        result.banner_seconds = accepted_at if "mt-banner" in str(accepted[3] or "") else None
        result.early_seconds = accepted_at if "mt-badge" in str(accepted[4] or "") else None
        job = client.submit(api_name="/answer")
        final: Any = None
        for outputs in job:
            if result.banner_seconds is None and "mt-banner" in str(outputs[1] or ""):
                result.banner_seconds = time.perf_counter() - started
            if result.triage_seconds is None and 'data-agent="triage"' in str(outputs[4] or ""):
                result.triage_seconds = time.perf_counter() - started
            final = outputs
        final = job.outputs()[-1] if job.outputs() else final
        if final is None or "data-done" not in str(final[4] or "") or not final[0][-1]["content"]:
            raise RuntimeError("the stream ended without a verified answer")
    except Exception as exc:  # noqa: BLE001  (counted and reported)
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    result.seconds = time.perf_counter() - started
    return result


def run_sessions(url: str, count: int) -> tuple[list[Session], float]:
    """``count`` sessions started together; (results, wall seconds)."""
    results = [Session() for _ in range(count)]

    def work(i: int) -> None:
        results[i] = chat_once(url, f"{QUESTIONS[i % len(QUESTIONS)]} (session {i + 1})")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def summarise(name: str, results: list[Session], wall: float) -> dict[str, Any]:
    ok = [r for r in results if not r.error]
    latency = [r.seconds for r in ok]
    triage = [r.triage_seconds for r in ok if r.triage_seconds is not None]
    early = [r.early_seconds for r in ok if r.early_seconds is not None]
    banner = [r.banner_seconds for r in ok if r.banner_seconds is not None]
    return {
        "run": name, "sessions": len(results), "errors": len(results) - len(ok),
        "p50_s": round(percentile(latency, 50), 2), "p95_s": round(percentile(latency, 95), 2),
        "max_s": round(max(latency, default=float("nan")), 2),
        "early_p50_s": round(percentile(early, 50), 2), "early_p95_s": round(percentile(early, 95), 2),
        "triage_p50_s": round(percentile(triage, 50), 2), "triage_p95_s": round(percentile(triage, 95), 2),
        "banners": len(banner), "banner_max_s": round(max(banner, default=float("nan")), 2),
        "wall_s": round(wall, 1), "answers_per_min": round(60 * len(ok) / wall, 1) if wall else 0.0,
    }


def main() -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from finetune.server import free_port
    from ui.app import build_app, launch
    from ui.backend import Backend, Settings

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so `finally` stops the embedded server
    sessions = int(os.environ.get("MEDTRIAGE_UI_LOAD_SESSIONS", "20"))
    max_tokens = int(os.environ.get("MEDTRIAGE_UI_LOAD_MAX_TOKENS", "64"))
    # the embedded llama.cpp server + default adapter, no answer cache, short answers (the queue is the subject)
    backend = Backend(Settings(cache=False, max_tokens=max_tokens))
    demo = build_app(backend)
    try:
        if not backend.wait_ready(1800):
            print(f"the app did not start: {backend.phase} {backend.error}", file=sys.stderr)
            return 1
        port = free_port()
        launch(demo, port=port, block=False)
        url = f"http://127.0.0.1:{port}/"
        baseline = [chat_once(url, f"{q} (baseline)") for q in (QUESTIONS[0], QUESTIONS[1], QUESTIONS[8])]
        rows = [summarise("1 session (baseline, sequential)", baseline, sum(r.seconds for r in baseline))]
        loaded, wall = run_sessions(url, sessions)
        rows.append(summarise(f"{sessions} concurrent sessions", loaded, wall))
        status = backend.status()
    finally:
        demo.close()
        backend.close()
    base_p50 = rows[0]["p50_s"]
    ratio = round(rows[1]["p50_s"] / base_p50, 2) if base_p50 else None
    errors = [r.error for r in baseline + loaded if r.error]
    results = {"sessions": sessions, "rows": rows, "p50_ratio_to_baseline": ratio, "errors": errors[:10],
               "chat_concurrency": 1, "max_tokens": max_tokens, "model": status.model_id if status else None,
               "adapter": status.adapter if status else None}
    markdown = "\n".join([
        "# UI load: concurrent chat sessions through gradio_client", "",
        f"Real app (agent team, embedded llama.cpp `{results['model']}`, adapter `{results['adapter']}`), "
        f"LLM cache off, answers of at most {max_tokens} tokens generated one at a time (concurrency_limit=1). "
        "Latency is send -> verified "
        "answer, queueing included; `early` is send -> the triage badge from the message alone (agents.triage, "
        "before the question queues for the model); `triage` is send -> the team's triage; `banner` is send -> "
        "emergency banner, for the emergency questions.", "",
        markdown_table(rows), "",
        f"p50 under load / p50 alone: {ratio}. Errors: {len(errors)}.",
        *(f"- {e}" for e in errors[:10]),
    ])
    write_report("ui_load", results, markdown)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
