"""peft -> GGUF LoRA conversion: the file llama.cpp expects, and the content-hash cache.

That llama.cpp applies the converted adapter like peft does is checked end to end in test_llamacpp_server.py
(greedy output against transformers + peft).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from finetune.embedded import gguf_path
from finetune.lora_adapter import AdapterError
from finetune.lora_gguf import convert_lora_to_gguf, read_gguf_base
from finetune.profiles import PROFILES

pytestmark = pytest.mark.slow
GEMMA = PROFILES["gemma3-270m"]


def test_writes_what_llamacpp_expects(random_lora_adapter: Path) -> None:
    import gguf
    from safetensors.numpy import load_file

    out = convert_lora_to_gguf(random_lora_adapter, gguf_path(), GEMMA)
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.architecture"].contents() == "gemma3"
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(16.0)
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 18 * 7 * 2
    a, b = tensors["blk.3.attn_q.weight.lora_a"], tensors["blk.3.attn_q.weight.lora_b"]
    assert [list(a.shape), list(b.shape)] == [[640, 8], [8, 1024]]  # GGUF ne order: in x rank, rank x out
    peft = load_file(random_lora_adapter / "adapter_model.safetensors")
    prefix = "base_model.model.model.layers.3.self_attn.q_proj"
    np.testing.assert_array_equal(np.asarray(a.data), peft[f"{prefix}.lora_A.weight"])
    np.testing.assert_array_equal(np.asarray(b.data), peft[f"{prefix}.lora_B.weight"])


def test_cached_by_content(random_lora_adapter: Path, tmp_path: Path) -> None:
    import shutil

    first = convert_lora_to_gguf(random_lora_adapter, gguf_path(), GEMMA)
    mtime = first.stat().st_mtime_ns
    copy = shutil.copytree(random_lora_adapter, tmp_path / "random-lora")
    assert convert_lora_to_gguf(copy, gguf_path(), GEMMA) == first  # same name and content: same file
    assert first.stat().st_mtime_ns == mtime
    assert convert_lora_to_gguf(random_lora_adapter, gguf_path(), GEMMA, outtype="f16") != first


def test_reads_the_base_header() -> None:
    base = read_gguf_base(gguf_path())
    assert (base.arch, base.block_count) == ("gemma3", 18)
    assert base.shapes["blk.0.attn_q"] == (1024, 640) and base.shapes["blk.0.ffn_down"] == (640, 2048)


def test_refuses_layers_beyond_the_base(tmp_path: Path, write_adapter: Callable[..., Path]) -> None:
    adapter = write_adapter(tmp_path / "deep", {"model.layers.30.self_attn.q_proj": (1024, 640)})
    with pytest.raises(AdapterError, match="^adapter for another base model: layer model.layers.30"):
        convert_lora_to_gguf(adapter, gguf_path(), GEMMA)
