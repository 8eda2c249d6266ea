"""llama-cpp-python's OpenAI-compatible server, speaking exactly our chat template.

llama-cpp-python's default chat format (llama-2) makes the Gemma base model answer with nothing, and its built-in
"gemma" format drops system messages, while our adapters are trained on ``finetune/templates/<name>.jinja``
(system text folded into the first user turn). This launcher registers that template (serving variant) as the
chat format and stops on the profile's end-of-turn token. It also avoids llama.cpp's AMX kernels, which crash on
some Sapphire Rapids machines (see ``avoid_amx_kernels``). ``finetune.server.ModelServer`` runs it as a
subprocess; run it by hand only to debug:

    python -m finetune.llamacpp_app --gguf MODEL.gguf --profile gemma3-270m --port 8000
"""

from __future__ import annotations

import argparse
from typing import Any

CHAT_FORMAT = "medtriage"


def avoid_amx_kernels() -> bool:
    """Load models without llama.cpp's extra buffer types when this build contains the AMX backend.

    With AMX compiled in (a -march=native build on a Sapphire Rapids CPU), the first decode of a Q4_K_M model
    segfaults in ggml_backend_amx_mul_mat on some machines, ours included (ggml-org/llama.cpp#20824). Turning off
    the extra buffer types (AMX and weight repacking) for models loaded in this process avoids it; a build without
    AMX keeps repacking. Returns whether the switch was needed.
    """
    import llama_cpp
    import llama_cpp.llama_cpp as lib

    if b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info():
        return False
    defaults = lib.llama_model_default_params

    def model_params() -> lib.llama_model_params:
        params = defaults()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = model_params  # llama_cpp.Llama reads its defaults through this function
    return True


def register_chat_format(profile_spec: str) -> None:
    """Register the profile's serving chat template under the chat format name ``CHAT_FORMAT``."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter, LlamaChatCompletionHandlerRegistry

    from finetune.profiles import load_chat_template, resolve_profile

    profile = resolve_profile(profile_spec)
    template = load_chat_template(profile, serving=True)
    handlers: dict[int, Any] = {}

    def handler(llama: Llama, **kwargs: Any) -> Any:
        # Special-token texts come from the loaded model's vocabulary, so the formatter is built on first use.
        if id(llama) not in handlers:
            bos = llama.detokenize([llama.token_bos()], special=True).decode("utf-8")
            stop_ids = [ids[0] for ids in (llama.tokenize(s.encode(), add_bos=False, special=True)
                                           for s in profile.stop) if len(ids) == 1]
            formatter = Jinja2ChatFormatter(template, eos_token=profile.stop[0], bos_token=bos,
                                            stop_token_ids=stop_ids + [llama.token_eos()])
            handlers[id(llama)] = formatter.to_chat_handler()
        return handlers[id(llama)](llama=llama, **kwargs)

    LlamaChatCompletionHandlerRegistry().register_chat_completion_handler(CHAT_FORMAT, handler, overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", required=True, help="base model GGUF file")
    parser.add_argument("--profile", required=True, help="model profile (name or local dir) whose template to serve")
    parser.add_argument("--lora", help="GGUF LoRA adapter (see finetune.lora_gguf); applied to every request")
    parser.add_argument("--alias", required=True, help="model name reported by /v1/models")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads for decoding and prompt batches")
    parser.add_argument("--ctx", type=int, default=2048, help="context length in tokens")
    args = parser.parse_args()

    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    if avoid_amx_kernels():
        print("llama.cpp build has AMX kernels: loading without extra buffer types (AMX, repacking)", flush=True)
    register_chat_format(args.profile)
    model = ModelSettings(model=args.gguf, model_alias=args.alias, chat_format=CHAT_FORMAT, lora_path=args.lora,
                          n_threads=args.threads, n_threads_batch=args.threads, n_ctx=args.ctx, verbose=False)
    # Queue concurrent requests instead of cutting off the one being streamed (the library's default).
    server = ServerSettings(host=args.host, port=args.port, interrupt_requests=False)
    uvicorn.run(create_app(server_settings=server, model_settings=[model]), host=args.host, port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
