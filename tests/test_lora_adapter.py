"""Adapter validation and the peft -> GGUF scale folding: pure logic on small synthetic adapter files."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from finetune.lora_adapter import AdapterError, check_base, load_peft_lora
from finetune.profiles import PROFILES

GEMMA = PROFILES["gemma3-270m"]
Q_PROJ = "model.layers.0.self_attn.q_proj"


def test_reads_layers_and_scale(tmp_path: Path, write_adapter: Callable[..., Path]) -> None:
    lora = load_peft_lora(write_adapter(tmp_path / "a", {Q_PROJ: (1024, 640)}))
    module = lora.modules[Q_PROJ]
    assert (module.rank, module.in_features, module.out_features) == (4, 640, 1024)
    assert module.scale == pytest.approx(2.0)  # alpha / r


def test_rslora_and_alpha_pattern_scale(tmp_path: Path, write_adapter: Callable[..., Path]) -> None:
    up_proj = "model.layers.0.mlp.up_proj"
    lora = load_peft_lora(write_adapter(tmp_path / "a", {Q_PROJ: (1024, 640), up_proj: (2048, 640)},
                                        use_rslora=True, alpha_pattern={"up_proj": 4}))
    assert lora.modules[Q_PROJ].scale == pytest.approx(8 / math.sqrt(4))
    assert lora.modules[up_proj].scale == pytest.approx(4 / math.sqrt(4))


@pytest.mark.parametrize(("config", "message"), [
    ({"use_dora": True}, "use_dora"),
    ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
    ({"peft_type": "IA3"}, "only LoRA adapters"),
])
def test_rejects_what_llamacpp_cannot_apply(tmp_path: Path, config: dict[str, object], message: str,
                                            write_adapter: Callable[..., Path]) -> None:
    with pytest.raises(AdapterError, match=message):
        load_peft_lora(write_adapter(tmp_path / "a", {Q_PROJ: (1024, 640)}, **config))


def test_missing_and_incomplete_directories(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="adapter directory not found"):
        load_peft_lora(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match="no adapter_config.json"):
        load_peft_lora(tmp_path / "empty")


def test_base_name_check(tmp_path: Path, write_adapter: Callable[..., Path]) -> None:
    for name in ("google/gemma-3-270m", "/root/.cache/medtriage/models/gemma3-270m-bf16/", "gemma3-270m", ""):
        lora = load_peft_lora(write_adapter(tmp_path / "ok", {Q_PROJ: (1024, 640)}, base_model_name_or_path=name))
        check_base(lora, GEMMA, None, "base")
    other = load_peft_lora(write_adapter(tmp_path / "other", {Q_PROJ: (1024, 640)},
                                         base_model_name_or_path="google/medgemma-4b-it"))
    with pytest.raises(AdapterError, match="^adapter for another base model: .*medgemma-4b-it"):
        check_base(other, GEMMA, None, "base")


def test_base_shape_check(tmp_path: Path, write_adapter: Callable[..., Path]) -> None:
    lora = load_peft_lora(write_adapter(tmp_path / "a", {Q_PROJ: (2048, 2560)}))
    with pytest.raises(AdapterError, match=r"^adapter for another base model: .*2048x2560 in the adapter but 1024x640"):
        check_base(lora, GEMMA, {Q_PROJ: (1024, 640)}, "base.gguf")
    check_base(lora, GEMMA, {"language_model.layers.0.q": (1, 1)}, "other layout")  # no common names: engine decides


def test_digest_ignores_json_order_not_scale(tmp_path: Path, write_adapter: Callable[..., Path]) -> None:
    shapes = {Q_PROJ: (1024, 640)}
    first = load_peft_lora(write_adapter(tmp_path / "a", shapes, target_modules=["q_proj", "v_proj"])).digest()
    same = load_peft_lora(write_adapter(tmp_path / "b", shapes, target_modules=["v_proj", "q_proj"])).digest()
    other = load_peft_lora(write_adapter(tmp_path / "c", shapes, lora_alpha=32)).digest()
    assert first == same != other
