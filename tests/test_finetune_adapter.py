"""The committed default adapter: format, size, GGUF conversion and the answerer behaviour (real 270M model)."""

from __future__ import annotations

import json

import pytest

from finetune.adapters import DEFAULT_ADAPTER, default_adapter

pytestmark = pytest.mark.skipif(default_adapter() is None, reason="default adapter not trained yet")


def test_default_adapter_files_and_size() -> None:
    config = json.loads((DEFAULT_ADAPTER / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["base_model_name_or_path"]
    weights = DEFAULT_ADAPTER / "adapter_model.safetensors"
    assert weights.stat().st_size <= 10 * 2**20
    card = (DEFAULT_ADAPTER / "README.md").read_text()
    for name in ("KorMedMCQA", "MedQA", "PubMedQA", "CC BY-NC 2.0", "MIT"):
        assert name in card


@pytest.mark.slow
def test_default_adapter_converts_to_gguf() -> None:
    from finetune.embedded import gguf_path
    from finetune.lora_gguf import convert_lora_to_gguf
    from finetune.profiles import PROFILES

    target = convert_lora_to_gguf(DEFAULT_ADAPTER, gguf_path(), PROFILES["gemma3-270m"], "f16")
    assert target.is_file() and target.stat().st_size > 0


@pytest.mark.slow
def test_default_adapter_answers_in_chat_form_with_citations() -> None:
    """One Korean and one English grounded question: stops, answers in the user's language, cites [n]."""
    from finetune import behaviour

    cases = [c for c in behaviour.CASES if c.kind == "grounded" and c.topic == "stroke"]
    result = behaviour.run(behaviour.BehaviourConfig(adapter=str(DEFAULT_ADAPTER)), cases)
    assert len(result["rows"]) == 2
    for row in result["rows"]:
        assert row["stopped"] and row["same_language"] and row["citations"], row
