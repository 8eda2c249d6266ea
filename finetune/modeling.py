"""Loading base models, tokenizers and adapters the same way for training, evaluation and sampling."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from finetune.profiles import ModelProfile, load_chat_template

Method = Literal["qlora", "lora", "partial"]


def bf16_supported() -> bool:
    """True on a bf16-capable GPU, or a CPU with native bf16 (AVX512-BF16 or AMX); else train in fp32."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.is_file() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_tokenizer(profile: ModelProfile, training: bool = True) -> Any:
    """The profile's tokenizer with our chat template ({% generation %} tags kept only for training)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(profile.model_source(), trust_remote_code=profile.trust_remote_code)
    tokenizer.chat_template = load_chat_template(profile, serving=not training)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(profile: ModelProfile, method: Method, bf16: bool, device_index: int | None = None) -> Any:
    """Base model for ``method``: NF4 + double quant (qlora), bf16/fp32 weights (lora), fp32 (partial)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = torch.bfloat16 if bf16 else torch.float32
    kwargs: dict[str, Any] = {"trust_remote_code": profile.trust_remote_code, "attn_implementation": "sdpa"}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        if torch.cuda.is_available():
            kwargs["device_map"] = {"": device_index or 0}
    model = AutoModelForCausalLM.from_pretrained(profile.model_source(),
                                                 dtype=torch.float32 if method == "partial" else dtype, **kwargs)
    model.config.use_cache = False
    return model


def stop_token_is_trained(model: Any, token_id: int, max_twins: int = 10) -> bool:
    """False when the stop token's embedding is a near-copy (cosine > 0.99) of many other rows, as in a base
    model that never saw it: no LoRA can then make the model pick it reliably over its twins."""
    weight = model.get_input_embeddings().weight
    row = weight[token_id].float()
    twins = 0
    for chunk in weight.split(32768):
        chunk = chunk.float()
        cosine = (chunk @ row) / (chunk.norm(dim=1) * row.norm()).clamp(min=1e-9)
        twins += int((cosine > 0.99).sum())
    return twins - 1 <= max_twins


def load_for_inference(profile: ModelProfile, adapter: str | Path | None = None, bf16: bool | None = None,
                       merge: bool = False) -> Any:
    """Base model (bf16 where supported) with an optional peft adapter or fully fine-tuned directory, in eval mode;
    ``merge`` folds a LoRA adapter into the base weights (faster inference, a plain transformers model)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if (bf16_supported() if bf16 is None else bf16) else torch.float32
    device = "cuda" if torch.cuda.is_available() else "cpu"
    source = profile.model_source()
    if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
        source, adapter = str(adapter), None  # a full model saved by --method partial or --merge
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, trust_remote_code=profile.trust_remote_code)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
        if merge:
            model = model.merge_and_unload()
    return model.to(device).eval()
