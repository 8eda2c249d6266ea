"""Read a peft LoRA adapter directory and check that it belongs to a base model.

Shared by the GGUF converter (``finetune.lora_gguf``) and the model server (``finetune.server``) so both give the
same one-line errors. Shapes come from the safetensors headers: the checks read no weights and need no torch.
Only plain LoRA in safetensors format (peft's default) is accepted: no DoRA, no LoRA bias, no embedding LoRA and
no ``modules_to_save``, because llama.cpp cannot apply those.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.profiles import ModelProfile

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<part>[AB])\.weight$")


class AdapterError(ValueError):
    """An adapter that cannot be served on the requested base model (one-line message)."""


@dataclass(frozen=True)
class LoraModule:
    """One adapted linear layer: ``W x + scale * B (A x)`` with A: rank x in, B: out x rank."""

    name: str  # module path in the base model, e.g. model.layers.0.self_attn.q_proj
    rank: int
    in_features: int
    out_features: int
    scale: float  # peft's multiplier of B @ A (alpha / r, or alpha / sqrt(r) with rsLoRA)

    def key(self, part: str) -> str:
        """Tensor name of ``part`` ("A" or "B") in adapter_model.safetensors."""
        return f"base_model.model.{self.name}.lora_{part}.weight"


@dataclass(frozen=True)
class PeftLora:
    """A peft LoRA adapter directory, validated, with the shapes of its layers."""

    path: Path
    config: dict[str, Any]
    modules: dict[str, LoraModule]

    @property
    def base_model(self) -> str:
        """The base model recorded by peft (hub ID or the local path it was trained from)."""
        return str(self.config.get("base_model_name_or_path") or "")

    @property
    def alpha(self) -> float:
        return float(self.config.get("lora_alpha") or 0.0)

    @property
    def max_rank(self) -> int:
        return max(m.rank for m in self.modules.values())

    def digest(self) -> str:
        """sha256 of what the adapter computes: its weights and per-layer scales (not the JSON's key order)."""
        sha = hashlib.sha256(repr(sorted((m.name, m.scale) for m in self.modules.values())).encode())
        with open(self.path / ADAPTER_WEIGHTS, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
        return sha.hexdigest()


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, read from a safetensors file header only."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return {name: tuple(info["shape"]) for name, info in header.items() if name != "__metadata__"}


def _pattern_value(patterns: Mapping[str, Any], module: str, default: Any) -> Any:
    """peft's rank_pattern / alpha_pattern lookup: a key matches the end of the module path."""
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def _check_config(path: Path, config: dict[str, Any]) -> None:
    if config.get("peft_type", "LORA") != "LORA":
        raise AdapterError(f"{path}: a {config.get('peft_type')} adapter; only LoRA adapters can be served")
    unsupported = [key for key in ("use_dora", "lora_bias", "modules_to_save", "trainable_token_indices")
                   if config.get(key)]
    if unsupported:
        raise AdapterError(f"{path}: adapter uses {', '.join(unsupported)}, which llama.cpp cannot apply; "
                           "train a plain LoRA adapter")


def load_peft_lora(path: str | Path) -> PeftLora:
    """Validate a peft adapter directory and describe its LoRA layers (no weights are loaded)."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise AdapterError(f"adapter directory not found: {path}")
    if not (path / ADAPTER_CONFIG).is_file():
        raise AdapterError(f"{path}: not a peft adapter directory (no {ADAPTER_CONFIG})")
    if not (path / ADAPTER_WEIGHTS).is_file():
        hint = " (re-save it with save_pretrained(safe_serialization=True))" if (path / "adapter_model.bin").exists() \
            else ""
        raise AdapterError(f"{path}: no {ADAPTER_WEIGHTS}{hint}")
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text())
        shapes = safetensors_shapes(path / ADAPTER_WEIGHTS)
    except (ValueError, OSError, struct.error) as exc:
        raise AdapterError(f"{path}: unreadable adapter files ({exc})") from None
    _check_config(path, config)

    parts: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, shape in shapes.items():
        match = _KEY.match(key)
        if match is None:
            raise AdapterError(f"{path}: tensor '{key}' is not a LoRA A/B matrix (embedding LoRA and saved modules "
                               "are not supported)")
        parts.setdefault(match["module"], {})[match["part"]] = shape

    use_rslora = bool(config.get("use_rslora"))
    modules: dict[str, LoraModule] = {}
    for name, ab in sorted(parts.items()):
        a, b = ab.get("A"), ab.get("B")
        if a is None or b is None or len(a) != 2 or len(b) != 2 or a[0] != b[1]:
            raise AdapterError(f"{path}: layer {name} has inconsistent LoRA shapes A={a} B={b}")
        rank = a[0]
        alpha = float(_pattern_value(config.get("alpha_pattern") or {}, name, config.get("lora_alpha", rank)))
        scale = alpha / math.sqrt(rank) if use_rslora else alpha / rank
        modules[name] = LoraModule(name, rank, in_features=a[1], out_features=b[0], scale=scale)
    if not modules:
        raise AdapterError(f"{path}: the adapter has no LoRA layers")
    return PeftLora(path, config, modules)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", Path(name.rstrip("/")).name.lower())


def base_aliases(profile: ModelProfile) -> set[str]:
    """Names under which an adapter may record this profile's base model (normalised, see ``check_base``)."""
    from finetune.embedded import HF_DIR_NAME

    names = {profile.name, profile.hub_id}
    if profile.local_dir is not None:
        names.add(str(profile.local_dir))
    if profile.embedded:
        names.add(HF_DIR_NAME)
    return {_normalise(n) for n in names}


def check_base(lora: PeftLora, profile: ModelProfile, base_shapes: Mapping[str, tuple[int, int]] | None,
               base_label: str) -> None:
    """Raise ``AdapterError("adapter for another base model: ...")`` unless ``lora`` fits ``profile``.

    The recorded base model must name the profile (its name, hub ID, local directory, or for the embedded model
    the prepared bf16 directory; compared on the last path component, case and punctuation ignored). When
    ``base_shapes`` (module name -> (out, in)) is given, every adapted layer must exist there with that shape;
    if none of them appears under the same name (another checkpoint layout), the shape check is left to the engine.
    """
    declared = lora.base_model
    if declared and _normalise(declared) not in base_aliases(profile):
        raise AdapterError(f"adapter for another base model: {lora.path.name} was trained on '{declared}', "
                           f"not on {profile.name} ({profile.hub_id})")
    if base_shapes is None or not any(name in base_shapes for name in lora.modules):
        return
    for module in lora.modules.values():
        shape = base_shapes.get(module.name)
        if shape != (module.out_features, module.in_features):
            found = "missing" if shape is None else f"{shape[0]}x{shape[1]}"
            raise AdapterError(f"adapter for another base model: {module.name} is "
                               f"{module.out_features}x{module.in_features} in the adapter but {found} in "
                               f"{base_label}")


def hf_weight_shapes(model_dir: Path) -> dict[str, tuple[int, int]] | None:
    """Module name -> (out, in) of every 2-D weight in a local HF checkpoint; None if it has no safetensors."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        return None
    shapes: dict[str, tuple[int, int]] = {}
    for file in files:
        for name, shape in safetensors_shapes(file).items():
            if name.endswith(".weight") and len(shape) == 2:
                shapes[name.removesuffix(".weight")] = (shape[0], shape[1])
    return shapes
