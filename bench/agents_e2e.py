"""The agent team end to end on the embedded default (llama.cpp + default adapter when present).

    python -m bench agents_e2e
    python -m bench.agents_e2e --chroma-path DIR --base-url URL   # another store / an already running server

20 questions (10 Korean, 10 English, all four triage levels) each in a new conversation, three times: the first
pass with an empty LLM cache (model answers from the best topic's passages, the default), the second with the
same questions (cache hits), the third with the model reading all top-k passages (``prompt_passages="all"``, the
baseline). Reports p50/p95 per agent and in total, time to first token, the cache-hit pass and the baseline as
ratios to the first, and what the answers were (levels, fallbacks, language, citations, and whether every cited
passage is of the best-ranked topic). Targets on a 2-core machine: total p50 <= 6 s, triage <= 100 ms.
Figures are measured in this run only; they are not compared with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.assistant import AssistantSettings, Conversation, TriageAssistant
from agents.events import FinalEvent, RetrievalEvent
from agents.messages import FinalAnswer
from agents.support import citations
from agents.team import STAGES
from agents.translator import matches_language
from bench.report import markdown_table, write_report

QUESTIONS: list[tuple[str, str]] = [  # (question, expected level)
    ("갑자기 한쪽 얼굴이 처지고 팔에 힘이 빠지면서 말이 어눌해졌어요", "emergency"),
    ("가슴을 쥐어짜는 통증이 왼쪽 팔로 퍼지고 식은땀이 나요", "emergency"),
    ("벌에 쏘인 뒤 입술이 붓고 숨쉬기가 힘들어요", "emergency"),
    ("3일째 39도 열이 나고 소변볼 때 옆구리가 아파요", "urgent"),
    ("넘어진 뒤 발목이 많이 붓고 체중을 실을 수가 없어요", "urgent"),
    ("두 달째 속이 쓰리고 신물이 올라와요", "routine"),
    ("요즘 잠들기가 힘들고 밤에 자주 깨요", "routine"),
    ("콧물이 나고 목이 살짝 아파요. 열은 없어요", "self_care"),
    ("종이에 손가락을 살짝 베였어요", "self_care"),
    ("임상시험 약을 먹고 나서 가벼운 두통이 생겼어요", "routine"),
    ("My face suddenly drooped on one side and my speech is slurred", "emergency"),
    ("Crushing chest pain spreading to my jaw and I am sweating", "emergency"),
    ("I have the worst headache of my life, it came on suddenly like a thunderclap", "emergency"),
    ("High fever and a stiff neck, and light hurts my eyes", "emergency"),
    ("Burning when I pee and pain in my lower belly since yesterday", "urgent"),
    ("I have had heartburn after meals for a few weeks", "routine"),
    ("My knee aches when I climb stairs, for a couple of months now", "routine"),
    ("I have a mild sore throat and a runny nose, no fever", "self_care"),
    ("I got a small sunburn on my shoulders yesterday", "self_care"),
    ("Mild redness and soreness where I got my vaccine this morning", "self_care"),
]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {"p50_ms": round(float(np.percentile(array, 50)), 1), "p95_ms": round(float(np.percentile(array, 95)), 1)}


Result = tuple[FinalAnswer, dict[str, float], bool]  # (answer, timings in ms, cites only the best topic)


async def final_event(conversation: Conversation, text: str) -> tuple[FinalEvent, bool]:
    """The turn's final event (answer and per-agent timings), and whether every passage the answer cites is of
    the best-ranked retrieved topic."""
    final, best_topic = None, None
    async for event in conversation.ask_stream(text):
        if isinstance(event, RetrievalEvent) and event.sources:
            best_topic = event.sources[0].topic_id
        if isinstance(event, FinalEvent):
            final = event
    assert final is not None
    cited = set(citations(final.answer.body))
    on_topic = bool(cited) and all(s.topic_id == best_topic for s in final.answer.sources if s.n in cited)
    return final, on_topic


def run_pass(assistant: TriageAssistant) -> list[Result]:
    """Every question in its own conversation."""
    results = []
    for question, _ in QUESTIONS:
        event, on_topic = asyncio.run(final_event(assistant.conversation(), question))
        results.append((event.answer, event.timings, on_topic))
        print(f"  {event.timings['total']:8.0f} ms  {event.answer.level:9}  fallback={event.answer.fallback!s:5}  "
              f"on_topic={on_topic!s:5}  {question[:50]}", flush=True)
    return results


def summarise(results: list[Result]) -> dict[str, Any]:
    stages = {stage: percentiles([t[stage] for _, t, _ in results]) for stage in (*STAGES, "total")}
    first = [t["first_token"] for _, t, _ in results if "first_token" in t]
    if first:
        stages["first_token"] = percentiles(first)
    answers = [a for a, _, _ in results]
    expected = [level for _, level in QUESTIONS]
    return {
        "cites_best_topic_only": sum(on_topic for _, _, on_topic in results),
        "model_drafts_kept": sum(not a.fallback for a in answers),
        "stages": stages,
        "level_matches": sum(a.level == e for a, e in zip(answers, expected, strict=True)),
        "fallbacks": sum(a.fallback for a in answers),
        "in_user_language": sum(all(matches_language(line, a.language) for line in a.body.splitlines())
                                for a in answers),
        "with_citations": sum(bool(citations(a.body)) for a in answers),
        "emergency_starts_with_119": all(a.text.splitlines()[0].count("119") for a in answers
                                         if a.level == "emergency"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agents_e2e", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="use this OpenAI-compatible server instead of starting the embedded one")
    parser.add_argument("--model", help="model id on --base-url (default: the first listed)")
    parser.add_argument("--chroma-path", type=Path, help="knowledge store (default: the app's, built on first use)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        settings = AssistantSettings(base_url=args.base_url, model=args.model, cache=True,
                                     cache_dir=Path(tmp) / "cache", transcript_dir=Path(tmp) / "transcripts",
                                     chroma_path=args.chroma_path)
        started = time.perf_counter()
        with TriageAssistant(settings) as assistant:
            startup_s = time.perf_counter() - started
            status = assistant.status()
            if not status.model_ready or not status.knowledge_ready:
                print(f"not ready: {status.model_error or status.knowledge_error}", file=sys.stderr)
                return 1
            warm = time.perf_counter()
            assistant.conversation().ask("warm-up: I have a cold")  # loads e5 and the triage models (not counted)
            warmup_s = time.perf_counter() - warm
            print("pass 1 (empty LLM cache)")
            first = summarise(run_pass(assistant))
            print("pass 2 (same questions: LLM cache hits)")
            second = summarise(run_pass(assistant))
            print("pass 3 (baseline: the model reads all top-k passages)")
            assistant.parts.prompt_passages = "all"
            baseline = summarise(run_pass(assistant))
    ratio = second["stages"]["total"]["p50_ms"] / first["stages"]["total"]["p50_ms"]
    answerer_ratio = second["stages"]["answerer"]["p50_ms"] / max(first["stages"]["answerer"]["p50_ms"], 1e-9)
    baseline_ratio = first["stages"]["total"]["p50_ms"] / baseline["stages"]["total"]["p50_ms"]
    results = {
        "model": {"base_url": status.base_url, "model_id": status.model_id, "adapter": status.adapter},
        "documents": status.documents, "questions": len(QUESTIONS), "startup_s": round(startup_s, 2),
        "warmup_s": round(warmup_s, 2), "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "first_pass": first, "cache_pass": second, "all_passages_pass": baseline,
        "cache_total_p50_ratio": round(ratio, 3), "cache_answerer_p50_ratio": round(answerer_ratio, 3),
        "topic_vs_all_total_p50_ratio": round(baseline_ratio, 3),
        "targets": {"total_p50_le_6s": first["stages"]["total"]["p50_ms"] <= 6000,
                    "triage_p50_le_100ms": first["stages"]["triage"]["p50_ms"] <= 100},
    }
    rows = [{"stage": stage, "p50 ms": first["stages"][stage]["p50_ms"], "p95 ms": first["stages"][stage]["p95_ms"],
             "cached p50 ms": second["stages"].get(stage, {}).get("p50_ms", ""),
             "cached p95 ms": second["stages"].get(stage, {}).get("p95_ms", ""),
             "all-passages p50 ms": baseline["stages"].get(stage, {}).get("p50_ms", "")}
            for stage in first["stages"]]
    quality = [{"pass": name, "model drafts kept": s["model_drafts_kept"], "cites best topic only":
                s["cites_best_topic_only"], "level matched": s["level_matches"], "with citations": s["with_citations"]}
               for name, s in (("best topic's passages (default)", first), ("all top-k passages", baseline))]
    markdown = "\n".join([
        "# agents_e2e: the five-agent team end to end",
        "",
        f"Model: `{status.model_id}` (adapter: {status.adapter or 'none: base model'}) at {status.base_url}; "
        f"{status.documents} knowledge chunks; {len(QUESTIONS)} questions (10 KO, 10 EN), one conversation each.",
        f"Start-up {startup_s:.1f} s (model server, cache, knowledge base, triage model), warm-up question "
        f"{warmup_s:.1f} s (not counted). Machine load average (1 min) {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs.",
        "",
        markdown_table(rows),
        "",
        f"- Cache-hit pass / first pass, total p50: **{ratio:.3f}** (answerer stage: {answerer_ratio:.3f}).",
        f"- Best topic's passages / all passages, total p50: **{baseline_ratio:.3f}**.",
        f"- Targets: total p50 <= 6 s: **{results['targets']['total_p50_le_6s']}**; "
        f"triage p50 <= 100 ms: **{results['targets']['triage_p50_le_100ms']}**.",
        f"- Expected triage level matched: {first['level_matches']}/{len(QUESTIONS)}; templated fallbacks: "
        f"{first['fallbacks']}/{len(QUESTIONS)}; answers in the user's language: {first['in_user_language']}; "
        f"with citations: {first['with_citations']}; every emergency answer starts with 119: "
        f"{first['emergency_starts_with_119']}.",
        "",
        f"Answers out of {len(QUESTIONS)} (a model draft is kept when the verifier finds most of it supported):",
        "",
        markdown_table(quality),
    ])
    write_report("agents_e2e", results, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
