"""Convert a peft LoRA adapter into a GGUF LoRA adapter that llama.cpp applies on top of a GGUF base model.

The base GGUF decides everything: its architecture, its block count (for the HF -> GGUF tensor-name mapping from
the ``gguf`` package) and its tensor shapes (every adapted layer must exist there with the same shape). peft's
per-layer scale (alpha / r, rsLoRA, alpha_pattern) is folded into ``lora_b`` where it differs from llama.cpp's
``adapter.lora.alpha / rank``, so both apply the same update. Results are cached under
``$MEDTRIAGE_HOME/lora_gguf`` by a hash of the adapter's weights and scales, the base's shapes and this converter.

    python -m finetune.lora_gguf ADAPTER_DIR                      # embedded gemma3-270m base
    python -m finetune.lora_gguf ADAPTER_DIR --model medgemma-4b --base medgemma-4b-q4_k_m.gguf --outtype f16
"""

from __future__ import annotations

import argparse
import hashlib
import mmap
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from finetune.lora_adapter import ADAPTER_WEIGHTS, AdapterError, PeftLora, check_base, load_peft_lora
from finetune.profiles import DEFAULT_PROFILE, ModelProfile, UnknownProfileError, resolve_profile
from medtriage.paths import data_dir

OutType = Literal["f32", "f16"]
# Architectures whose GGUF export keeps the HF weight layout of the adapted projections (verified for gemma3).
# llama-style exports permute the q/k rows for RoPE, which this converter does not reproduce, so those adapters
# are refused rather than silently wrong.
SUPPORTED_ARCHS = ("gemma", "gemma2", "gemma3")


@dataclass(frozen=True)
class GgufBase:
    """What the converter needs from a base GGUF: architecture, block count, 2-D tensor shapes as (out, in)."""

    path: Path
    arch: str
    block_count: int
    shapes: dict[str, tuple[int, int]]  # GGUF name without ".weight", e.g. blk.0.attn_q

    def fingerprint(self) -> str:
        text = self.arch + repr(sorted(self.shapes.items()))
        return hashlib.sha256(text.encode()).hexdigest()


def read_gguf_base(path: Path) -> GgufBase:
    """Read architecture, block count and tensor shapes from a GGUF header (no tensor data is touched).

    A small header walk instead of ``gguf.GGUFReader``, which decodes every metadata field (the 262k-token
    vocabulary included) and takes 5-20 s on a busy 2-core machine.
    """
    from gguf import GGUFValueType

    scalar = {GGUFValueType.UINT8: "B", GGUFValueType.INT8: "b", GGUFValueType.UINT16: "H", GGUFValueType.INT16: "h",
              GGUFValueType.UINT32: "I", GGUFValueType.INT32: "i", GGUFValueType.FLOAT32: "f",
              GGUFValueType.BOOL: "?", GGUFValueType.UINT64: "Q", GGUFValueType.INT64: "q",
              GGUFValueType.FLOAT64: "d"}
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = 0

        def take(fmt: str) -> Any:
            nonlocal pos
            (value,) = struct.unpack_from("<" + fmt, buf, pos)
            pos += struct.calcsize(fmt)
            return value

        def text() -> str:
            nonlocal pos
            length = take("Q")
            pos += length
            return bytes(buf[pos - length:pos]).decode("utf-8")

        def value(kind: GGUFValueType) -> Any:
            if kind == GGUFValueType.STRING:
                return text()
            if kind == GGUFValueType.ARRAY:
                item, count = GGUFValueType(take("I")), take("Q")
                return [value(item) for _ in range(count)]
            return take(scalar[kind])

        if bytes(buf[:4]) != b"GGUF":
            raise AdapterError(f"{path}: not a GGUF file")
        pos = 8
        n_tensors, n_fields = take("Q"), take("Q")
        fields = {text(): value(GGUFValueType(take("I"))) for _ in range(n_fields)}
        shapes: dict[str, tuple[int, int]] = {}
        for _ in range(n_tensors):
            name, dims = text(), take("I")
            ne = [take("Q") for _ in range(dims)]
            pos += 12  # tensor type (uint32) and data offset (uint64)
            if dims == 2:
                shapes[name.removesuffix(".weight")] = (ne[1], ne[0])  # GGUF lists ne0 (in) first
    arch = str(fields["general.architecture"])
    return GgufBase(path, arch, int(fields[f"{arch}.block_count"]), shapes)


def gguf_names(lora: PeftLora, base: GgufBase) -> dict[str, str]:
    """Adapter module name -> GGUF tensor name (without ".weight"), via the gguf package's tensor-name map."""
    import gguf

    if base.arch not in SUPPORTED_ARCHS:
        raise AdapterError(f"GGUF LoRA conversion supports {', '.join(SUPPORTED_ARCHS)}, not '{base.arch}' "
                           "(serve this model with --engine vllm)")
    arch = next(key for key, name in gguf.MODEL_ARCH_NAMES.items() if name == base.arch)
    name_map = gguf.get_tensor_name_map(arch, base.block_count)
    names: dict[str, str] = {}
    for module in lora.modules:
        mapped = (name_map.get_name(module + ".weight", try_suffixes=(".weight",)) or "").removesuffix(".weight")
        if mapped not in base.shapes:
            raise AdapterError(f"adapter for another base model: layer {module} has no counterpart in "
                               f"{base.path.name} ({base.arch}, {base.block_count} blocks)")
        names[module] = mapped
    return names


def _write(lora: PeftLora, names: dict[str, str], base: GgufBase, outtype: OutType, target: Path) -> None:
    """Write the GGUF adapter to ``target`` (through a temporary file, so a crash never leaves half a file)."""
    import gguf
    import numpy as np
    from safetensors.torch import load_file  # torch, not numpy: adapters may be stored in bfloat16

    tensors = {k: v.float().numpy() for k, v in load_file(lora.path / ADAPTER_WEIGHTS).items()}
    alpha = lora.alpha if lora.alpha > 0 else float(lora.max_rank)
    dtype = np.float16 if outtype == "f16" else np.float32

    tmp = target.with_name(f"{target.name}.{os.getpid()}.partial")  # concurrent conversions do not collide
    writer = gguf.GGUFWriter(tmp, base.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(lora.path.name)
    for module in lora.modules.values():
        a, b = tensors[module.key("A")], tensors[module.key("B")]
        # llama.cpp scales B @ A by alpha / rank; fold any other peft scale into B.
        factor = module.scale * module.rank / alpha
        if abs(factor - 1.0) > 1e-6:
            b = b * factor
        writer.add_tensor(names[module.name] + ".weight.lora_a", np.ascontiguousarray(a, dtype=dtype))
        writer.add_tensor(names[module.name] + ".weight.lora_b", np.ascontiguousarray(b, dtype=dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(target)


def convert_lora_to_gguf(adapter_dir: str | Path, base_gguf: Path, profile: ModelProfile,
                         outtype: OutType = "f32") -> Path:
    """Validate ``adapter_dir`` against ``profile`` and ``base_gguf``; return the cached GGUF adapter path."""
    lora = load_peft_lora(adapter_dir)
    base = read_gguf_base(base_gguf)
    names = gguf_names(lora, base)
    check_base(lora, profile, {module: base.shapes[name] for module, name in names.items()}, base_gguf.name)

    key = hashlib.sha256()
    for part in (lora.digest(), base.fingerprint(), outtype, Path(__file__).read_text()):
        key.update(part.encode())
    target = data_dir("lora_gguf") / f"{lora.path.name}-{outtype}-{key.hexdigest()[:16]}.gguf"
    if not target.is_file():
        _write(lora, names, base, outtype, target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("adapter", help="peft LoRA adapter directory (adapter_config.json + adapter_model.safetensors)")
    parser.add_argument("--model", default=DEFAULT_PROFILE,
                        help=f"profile the adapter was trained for (default: {DEFAULT_PROFILE})")
    parser.add_argument("--base", type=Path,
                        help="base model GGUF file; default: the embedded model's GGUF (embedded profile only)")
    parser.add_argument("--outtype", choices=["f32", "f16"], default="f32",
                        help="tensor type of the written adapter (f32: exact; f16: half the size)")
    args = parser.parse_args()
    try:
        profile = resolve_profile(args.model)
        if args.base is None and not profile.embedded:
            raise AdapterError(f"--base GGUF is required for {profile.name} (only the embedded model ships one)")
        if args.base is None:
            from finetune.embedded import gguf_path

            args.base = gguf_path()
        if not args.base.is_file():
            raise AdapterError(f"base GGUF not found: {args.base}")
        print(convert_lora_to_gguf(args.adapter, args.base, profile, args.outtype))
    except (AdapterError, UnknownProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
