"""Ask the triage assistant from the terminal: one question, or a multi-turn conversation.

    python -m agents.ask "갑자기 한쪽 팔에 힘이 빠지고 말이 어눌해요"
    python -m agents.ask --interactive
    python -m agents.ask "I have a sore throat" --base-url http://127.0.0.1:8080/v1 --no-cache --top-k 3

Without --base-url the embedded llama.cpp server (gemma3-270m + the default adapter) is started and stopped
on exit. Prints the verified answer, the triage level, red flags, sources and where the transcript is.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agents.assistant import AssistantSettings, Conversation, TriageAssistant
from agents.events import FinalEvent, TriageEvent
from agents.messages import FinalAnswer

BANNER = {"emergency": "!!!", "urgent": "!!", "routine": "-", "self_care": "-"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agents.ask", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", nargs="?", help="the patient's message (Korean or English); omit with --interactive")
    p.add_argument("--interactive", "-i", action="store_true",
                   help="a multi-turn conversation in the terminal (empty line, 'quit' or Ctrl-D ends it)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (llama.cpp or vLLM); "
                                      "default: start the embedded llama.cpp server")
    p.add_argument("--model", help="model id on that server (default: the first one it lists)")
    p.add_argument("--top-k", type=int, default=5, help="passages to retrieve (default: 5)")
    p.add_argument("--no-cache", action="store_true", help="do not use or fill the LLM answer cache")
    p.add_argument("--cache-dir", type=Path, help="LLM cache directory (default: $MEDTRIAGE_HOME/llm_cache)")
    p.add_argument("--transcript-dir", type=Path,
                   help="where conversation transcripts go (default: $MEDTRIAGE_HOME/transcripts)")
    p.add_argument("--no-transcript", action="store_true", help="do not write a transcript")
    p.add_argument("--max-tokens", type=int, default=200, help="longest model answer in tokens (default: 200)")
    p.add_argument("--timeout", type=float, default=45.0, help="seconds the model may take per answer (default: 45)")
    p.add_argument("--chroma-path", type=Path, help="knowledge store directory (default: $MEDTRIAGE_HOME/chroma)")
    p.add_argument("--prompt-passages", choices=["topic", "all"], default="topic",
                   help="passages the model reads: the best topic's (up to 3; best for small models) or all top-k "
                        "(default: topic)")
    p.add_argument("--chroma-host", help="use a Chroma server at this host instead of the embedded store")
    p.add_argument("--chroma-port", type=int, default=8000, help="port of the Chroma server (default: 8000)")
    p.add_argument("--age", type=int, help="patient's age in years (helps triage)")
    p.add_argument("--sex", choices=["female", "male"], help="patient's sex (helps triage)")
    p.add_argument("--pregnant", action="store_true", help="the patient is pregnant (helps triage)")
    p.add_argument("--trace", action="store_true", help="also print each agent's time")
    return p


def render(answer: FinalAnswer) -> str:
    """The answer, level, red flags and sources as terminal text."""
    lines = [f"{BANNER[answer.level]} {answer.level_label} ({answer.level})", "", answer.text]
    if answer.red_flags:
        lines += ["", "Red flags:"] + [f"  - {f.explanation} ({f.id}, {f.level})" for f in answer.red_flags]
    if answer.sources:
        lines += ["", "Sources:"] + [f"  [{s.n}] {s.title} - {s.heading} ({s.citation_id})" for s in answer.sources]
    if answer.transcript_path:
        lines += ["", f"Transcript: {answer.transcript_path}"]
    return "\n".join(lines)


async def ask_once(conversation: Conversation, text: str, args: argparse.Namespace) -> None:
    """One turn: print the triage level as soon as it is known, then the verified answer."""
    patient = {"age": args.age, "sex": args.sex, "pregnant": True if args.pregnant else None}
    async for event in conversation.ask_stream(text, **patient):
        if isinstance(event, TriageEvent) and event.level == "emergency":
            print(f"{BANNER['emergency']} {event.level_label}: {event.action}", flush=True)
        elif isinstance(event, FinalEvent):
            print(render(event.answer), flush=True)
            if args.trace:
                print("Timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in event.timings.items()))


def settings_from(args: argparse.Namespace) -> AssistantSettings:
    return AssistantSettings(base_url=args.base_url, model=args.model, top_k=args.top_k, cache=not args.no_cache,
                             cache_dir=args.cache_dir, transcripts=not args.no_transcript,
                             transcript_dir=args.transcript_dir, max_tokens=args.max_tokens, timeout_s=args.timeout,
                             prompt_passages=args.prompt_passages, chroma_path=args.chroma_path,
                             chroma_host=args.chroma_host,
                             chroma_port=args.chroma_port if args.chroma_host else None)


def interactive(conversation: Conversation, args: argparse.Namespace) -> None:
    print("Describe your symptoms or ask a question (Korean or English). Empty line or 'quit' ends.\n"
          "증상을 설명하거나 질문하세요. 빈 줄이나 'quit'을 입력하면 끝납니다.")
    while True:
        try:
            text = input("\n> ").strip()
        except EOFError:
            break
        if text.lower() in ("", "quit", "exit", "q"):
            break
        asyncio.run(ask_once(conversation, text, args))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.interactive and args.question is None:
        parser().error("give a question, or --interactive")
    if args.top_k < 1:
        parser().error("--top-k must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.base_url is None:
        print("Starting the embedded model server...", file=sys.stderr, flush=True)
    try:
        with TriageAssistant(settings_from(args)) as assistant:
            if assistant.model_error:
                print(f"Note: {assistant.model_error}; answers come from the knowledge base only.", file=sys.stderr)
            conversation = assistant.conversation()
            if args.interactive:
                interactive(conversation, args)
            else:
                asyncio.run(ask_once(conversation, args.question, args))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
