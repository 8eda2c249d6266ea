"""llama.cpp serving through the real server: chat format, LoRA effect and agreement with transformers + peft."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from finetune.profiles import PROFILES, load_chat_template
from finetune.server import ModelServer, ServeError, port_in_use

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What should I do for a mild headache?"}]
GREEDY_TOKENS = 6  # a few tokens: Q4_K_M (llama.cpp) and bf16 (transformers) drift apart on long greedy runs


def chat(server: ModelServer, max_tokens: int = 16, **extra: Any) -> dict[str, Any]:
    """One greedy chat completion of MESSAGES against ``server`` (``extra``: more request fields)."""
    response = httpx.post(f"{server.base_url}/chat/completions", timeout=120, json={
        "model": server.model_id, "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, **extra})
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """The embedded model's tokenizer with our serving chat template."""
    from transformers import AutoTokenizer

    from finetune.embedded import prepare_embedded_model

    tok = AutoTokenizer.from_pretrained(prepare_embedded_model())
    tok.chat_template = load_chat_template(PROFILES["gemma3-270m"], serving=True)
    return tok


def transformers_greedy(tokenizer: Any, adapter: Path | None, n_tokens: int) -> str:
    """Greedy continuation of MESSAGES by transformers (+ peft adapter) on the bf16 checkpoint."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from finetune.embedded import prepare_embedded_model

    model = AutoModelForCausalLM.from_pretrained(prepare_embedded_model(), dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter)
    ids = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=n_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_base_model_answers_chat(llamacpp_base_server: ModelServer) -> None:
    models = httpx.get(f"{llamacpp_base_server.base_url}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["gemma3-270m"]
    reply = chat(llamacpp_base_server)
    assert reply["usage"]["completion_tokens"] > 0
    assert reply["choices"][0]["message"]["content"].strip()


def test_prompt_is_our_chat_template(llamacpp_base_server: ModelServer, tokenizer: Any) -> None:
    # The system text is folded into the user turn: llama-cpp-python's own "gemma" format would drop it.
    expected = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True)
    reply = chat(llamacpp_base_server, max_tokens=1)
    assert reply["usage"]["prompt_tokens"] == len(expected["input_ids"])


def test_stops_at_end_of_turn(llamacpp_base_server: ModelServer) -> None:
    # The untuned base model never ends its turn by itself; forcing <end_of_turn> (id 106) must end the reply.
    assert chat(llamacpp_base_server, max_tokens=8)["choices"][0]["finish_reason"] == "length"
    forced = chat(llamacpp_base_server, max_tokens=8, logit_bias={"106": 100})
    assert forced["choices"][0]["finish_reason"] == "stop"
    assert forced["choices"][0]["message"]["content"] == ""


def test_adapter_changes_the_output(llamacpp_base_server: ModelServer, llamacpp_lora_server: ModelServer) -> None:
    assert llamacpp_lora_server.model_id == "random-lora"
    base = chat(llamacpp_base_server)["choices"][0]["message"]["content"]
    adapted = chat(llamacpp_lora_server)["choices"][0]["message"]["content"]
    assert adapted.strip() and adapted != base


@pytest.mark.parametrize("with_adapter", [False, True], ids=["base", "lora"])
def test_greedy_output_matches_transformers_peft(request: pytest.FixtureRequest, tokenizer: Any,
                                                 random_lora_adapter: Path, with_adapter: bool) -> None:
    server = request.getfixturevalue("llamacpp_lora_server" if with_adapter else "llamacpp_base_server")
    served = chat(server, max_tokens=GREEDY_TOKENS)["choices"][0]["message"]["content"]
    expected = transformers_greedy(tokenizer, random_lora_adapter if with_adapter else None, GREEDY_TOKENS)
    assert served == expected


def test_stop_leaves_nothing_running(server_processes: Callable[[int], list[int]]) -> None:
    server = ModelServer("llamacpp").start()
    port = server.port
    assert port is not None and server_processes(port) == [server.pid]
    server.stop()
    assert server_processes(port) == []
    assert not port_in_use(server.host, port)


def test_start_failure_raises_one_line_and_cleans_up(tmp_path: Path,
                                                     server_processes: Callable[[int], list[int]]) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_text("not a gguf file")
    server = ModelServer("llamacpp", gguf=bogus)
    with pytest.raises(ServeError, match="exited during start-up") as info:
        server.start()
    assert "\n" not in str(info.value)
    assert server.port is not None and server_processes(server.port) == []
    assert not port_in_use(server.host, server.port)
