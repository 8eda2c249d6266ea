"""``python -m ui``: the MedTriage Gradio app on http://127.0.0.1:7860 (what ``make demo`` opens).

Without --base-url the app starts the embedded llama.cpp server (gemma3-270m + the committed default
adapter) through ``agents.assistant`` and stops it on exit. The knowledge base is built on first use;
the page opens at once and shows the progress under Settings → Status.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ui", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--username", help="require HTTP login with this user name (needs --password)")
    parser.add_argument("--password", help="password for --username (or set MEDTRIAGE_UI_PASSWORD)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    parser.add_argument("--base-url", help="use this running OpenAI-compatible server (…/v1) instead of the "
                                           "embedded llama.cpp server")
    parser.add_argument("--model", help="served model id to ask (default: the first one the server lists)")
    parser.add_argument("--top-k", type=int, default=5, help="passages to retrieve per question (default 5)")
    parser.add_argument("--no-cache", action="store_true", help="do not cache model answers")
    parser.add_argument("--max-tokens", type=int, help="longest answer in tokens (default: the assistant's, 200)")
    parser.add_argument("--chroma-host", help="use a Chroma server at this host instead of the embedded store")
    parser.add_argument("--chroma-port", type=int, default=8000, help="port of the Chroma server (default 8000)")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="answers generated at once (default 1: one llama.cpp server answers one request at "
                             "a time; raise it for a batching server such as vLLM)")
    args = parser.parse_args(argv)
    args.password = args.password or os.environ.get("MEDTRIAGE_UI_PASSWORD")
    if bool(args.username) != bool(args.password):
        parser.error("--username and --password go together")
    if args.concurrency < 1 or args.top_k < 1:
        parser.error("--concurrency and --top-k must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from ui.app import build_app, launch
    from ui.backend import Backend, Settings

    backend = Backend(Settings(args.base_url, args.model, args.top_k, not args.no_cache, args.max_tokens,
                               args.chroma_host, args.chroma_port if args.chroma_host else None))
    backend.start()
    print("medtriage: building the knowledge base (first use only) and starting the model server in the "
          "background; see Settings → Status", flush=True)
    auth = (args.username, args.password) if args.username else None
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops the embedded server
    try:
        launch(build_app(backend, args.concurrency), args.host, args.port, auth, args.share)
    except KeyboardInterrupt:
        pass
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
