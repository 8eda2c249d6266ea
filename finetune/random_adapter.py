"""Random (untrained) peft LoRA adapters for tests and benchmarks of the serving path.

peft initialises ``lora_B`` to zero, so a fresh adapter changes nothing. Here ``lora_B`` is drawn at random so the
adapter measurably changes the output while staying small enough that the model still produces ordinary tokens.

    python -m finetune.random_adapter OUT_DIR [--rank 8] [--std 0.02] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from finetune.profiles import DEFAULT_PROFILE, resolve_profile


def make_random_adapter(out_dir: str | Path, profile_name: str = DEFAULT_PROFILE, rank: int = 8,
                        std: float = 0.02, seed: int = 0) -> Path:
    """Save a LoRA adapter with random non-zero ``lora_B`` for ``profile_name`` to ``out_dir``; return it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    profile = resolve_profile(profile_name)
    model = AutoModelForCausalLM.from_pretrained(profile.model_source(), dtype=torch.bfloat16,
                                                 trust_remote_code=profile.trust_remote_code)
    torch.manual_seed(seed)  # after loading: same seed, same adapter (its GGUF conversion is then cached)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(profile.lora_target_modules),
                        lora_dropout=0.0, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, std)
    out_dir = Path(out_dir)
    peft_model.save_pretrained(out_dir)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="directory to write the adapter to (created)")
    parser.add_argument("--model", default=DEFAULT_PROFILE, help=f"base model profile (default: {DEFAULT_PROFILE})")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r (alpha is 2r)")
    parser.add_argument("--std", type=float, default=0.02, help="standard deviation of the random lora_B entries")
    parser.add_argument("--seed", type=int, default=0, help="torch random seed (lora_A and lora_B)")
    args = parser.parse_args()
    print(make_random_adapter(args.out_dir, args.model, args.rank, args.std, args.seed))


if __name__ == "__main__":
    main()
