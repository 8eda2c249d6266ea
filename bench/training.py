"""Training throughput: ``finetune.qlora`` against a plain transformers Trainer on the same data, same run.

Every variant fine-tunes the embedded Gemma 3 270M with the same LoRA (r=16, all projections) on the same
examples (grounded answers, translation pairs and chats from the project's corpus), batch 4, one pass, each in
its own process so peak RSS is its own. Tokens/s = non-padding tokens of those examples / training seconds.

- ``finetune.qlora``: bf16 weights where the CPU supports it, assistant-only loss with the LM head run only at
  label positions, length-grouped batches.
- ``Trainer fp32``: what a plain script does: fp32 model, DataCollatorForLanguageModeling, loss on all tokens.
- ``Trainer bf16``: the same with bf16 weights, to show how much of the gain is bf16 alone.

    python -m bench training            # writes bench/results/training.{json,md}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EXAMPLES = 24
BATCH = 4
DATA = ["corpus:knowledge/corpus?task=grounded&sample=16&seed=7", "corpus:knowledge/corpus?task=translate&sample=4",
        "jsonl:finetune/recipes/data/medtriage-chat.jsonl?sample=4"]
VARIANTS = ("finetune.qlora", "Trainer fp32", "Trainer bf16")


def _examples() -> list[dict[str, Any]]:
    from finetune.data import load_sources

    examples = load_sources(DATA)
    assert len(examples) == EXAMPLES, len(examples)
    return examples


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(out_dir: Path) -> dict[str, Any]:
    from finetune.qlora import TrainConfig, train

    config = TrainConfig(model="gemma3-270m", datasets=DATA, output_dir=str(out_dir), method="lora",
                         batch_size=BATCH, grad_accum=1, epochs=1, max_steps=EXAMPLES // BATCH, logging_steps=1,
                         warmup=0, learning_rate=2e-4, lora_dropout=0.05)
    metrics = train(config)
    return {"train_seconds": metrics["train_seconds"], "final_loss": metrics["final_loss"]}


def run_trainer(out_dir: Path, bf16: bool) -> dict[str, Any]:
    """The plain recipe: tokenize the chat, DataCollatorForLanguageModeling, Trainer defaults."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from finetune.modeling import load_tokenizer
    from finetune.profiles import PROFILES

    profile = PROFILES["gemma3-270m"]
    tokenizer = load_tokenizer(profile, training=False)
    rows = [{"input_ids": list(tokenizer.apply_chat_template(ex["messages"], tokenize=True, return_dict=True)
                               ["input_ids"])} for ex in _examples()]
    model = AutoModelForCausalLM.from_pretrained(profile.model_source(),
                                                 dtype=torch.bfloat16 if bf16 else torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=list(profile.lora_target_modules)))
    args = TrainingArguments(output_dir=str(out_dir), per_device_train_batch_size=BATCH, num_train_epochs=1,
                             learning_rate=2e-4, logging_steps=1, save_strategy="no", report_to="none",
                             use_cpu=True, seed=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows,
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    final = next(h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h)
    assert result.global_step == EXAMPLES // BATCH
    return {"train_seconds": round(seconds, 1), "final_loss": final}


def worker(variant: str, result_file: Path) -> None:
    """One variant in this process; writes its timing, loss and peak RSS as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        if variant == "finetune.qlora":
            result = run_ours(Path(tmp))
        else:
            result = run_trainer(Path(tmp), bf16=variant.endswith("bf16"))
    result_file.write_text(json.dumps({**result, "peak_rss_mb": round(_peak_rss_mb(), 1)}))


def main() -> None:
    from bench.report import markdown_table, write_report
    from finetune.modeling import bf16_supported, load_tokenizer
    from finetune.profiles import PROFILES

    tokenizer = load_tokenizer(PROFILES["gemma3-270m"], training=False)
    tokens = sum(len(tokenizer.apply_chat_template(ex["messages"], tokenize=True, return_dict=True)["input_ids"])
                 for ex in _examples())
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "HF_HUB_OFFLINE": "1"}
    rows = []
    for variant in VARIANTS:
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            print(f"--- {variant}", flush=True)
            subprocess.run([sys.executable, "-m", "bench.training", "--worker", variant, handle.name],
                           check=True, env=env)
            result = json.loads(Path(handle.name).read_text())
        rows.append({"variant": variant, "tokens_per_s": tokens / result["train_seconds"], **result})
    baseline = rows[1]["tokens_per_s"]
    for row in rows:
        row["speedup_vs_trainer_fp32"] = row["tokens_per_s"] / baseline
        row["rss_vs_trainer_fp32"] = row["peak_rss_mb"] / rows[1]["peak_rss_mb"]
    columns = ["variant", "tokens_per_s", "speedup_vs_trainer_fp32", "peak_rss_mb", "rss_vs_trainer_fp32",
               "train_seconds", "final_loss"]
    markdown = (f"# Training throughput (Gemma 3 270M, LoRA r=16, {EXAMPLES} examples, {tokens} tokens, batch "
                f"{BATCH}, bf16 CPU support: {bf16_supported()}, OMP_NUM_THREADS={env['OMP_NUM_THREADS']})\n\n"
                + markdown_table(rows, columns) + "\n\nfinal_loss: finetune.qlora = assistant tokens only; "
                "Trainer = all tokens (different objectives, not comparable).")
    write_report("training", {"examples": EXAMPLES, "tokens": tokens, "batch_size": BATCH, "data": DATA,
                              "rows": rows}, markdown)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
