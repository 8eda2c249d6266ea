"""Fine-tune a base model on chat examples: QLoRA (NF4 + double quant), LoRA, or the top N layers + LM head.

The loss covers assistant tokens only (our chat template's {% generation %} tags, <end_of_turn> included, so
the model learns to stop), and the LM head runs only where such a label exists. Outputs in --output-dir:
the adapter (adapter_model.safetensors + adapter_config.json; a full model for --method partial), tokenizer
and chat template, config.yaml (the resolved config), metrics.json, loss_curve.png and README.md (model card).

    python -m finetune.qlora --model gemma3-270m --datasets corpus: --method lora --max-steps 100 --output-dir runs/x
    python -m finetune.qlora --config finetune/recipes/gemma3-270m-medtriage.yaml
    accelerate launch --multi_gpu --num_processes 2 -m finetune.qlora --config recipe.yaml  # 2 GPUs (or 2 CPU
                                                          # processes with gloo when no GPU is visible)
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from finetune import batching
from finetune.cli import dump_config, load_config
from finetune.data import Source, load_source
from finetune.modeling import Method, bf16_supported, load_base_model, load_tokenizer, stop_token_is_trained
from finetune.profiles import ModelProfile, load_chat_template, resolve_profile


def _opt(default: Any, help: str, **kwargs: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass
class TrainConfig:
    """Every option of ``python -m finetune.qlora`` (CLI flag ``--lora-r`` = YAML key ``lora_r``)."""

    model: str = _opt("gemma3-270m", "model profile (finetune.profiles), hub ID org/name, or local model directory")
    datasets: list[str] = _opt([], "data sources KIND:LOCATION[?opts] (see python -m finetune.data --help)")
    output_dir: str = _opt("runs/finetune", "where the adapter, metrics, loss curve and model card go")
    method: Literal["auto", "qlora", "lora", "partial"] = _opt(
        "auto", "qlora: 4-bit NF4 base + LoRA; lora: bf16/fp32 base + LoRA; partial: train the top "
        "--partial-layers decoder layers + LM head; auto: the profile's default (qlora for nf4 profiles)")
    lora_r: int = _opt(16, "LoRA rank")
    lora_alpha: int = _opt(32, "LoRA alpha (scale = alpha / r)")
    lora_dropout: float = _opt(0.05, "dropout on the LoRA input")
    target_modules: list[str] = _opt([], "modules to adapt; empty = the profile's projections")
    lora_layers: int = _opt(0, "adapt only the top N decoder layers (0: all); backward then stops below them")
    partial_layers: int = _opt(2, "method partial: number of top decoder layers to train (plus the LM head)")
    learning_rate: float = _opt(2e-4, "peak learning rate")
    lr_scheduler: str = _opt("cosine", "transformers scheduler name: cosine, linear, constant_with_warmup, ...")
    warmup: float = _opt(0.03, "warmup: a ratio of all steps if < 1, else a number of steps")
    epochs: float = _opt(1.0, "passes over the training data (ignored when --max-steps > 0)")
    max_steps: int = _opt(-1, "stop after this many optimizer steps (-1: use --epochs)")
    batch_size: int = _opt(1, "rows per device per micro-batch")
    grad_accum: int = _opt(8, "micro-batches per optimizer step")
    gradient_checkpointing: bool = _opt(False, "recompute activations in backward (less memory, ~30%% slower)")
    max_length: int = _opt(1024, "tokens per example (and per packed row); longer examples keep their end")
    packing: bool = _opt(False, "pack several examples per row (block-diagonal attention, no padding)")
    group_by_length: bool = _opt(True, "without packing: batch examples of similar length (less padding)")
    eval_split: float = _opt(0.0, "fraction of examples held out for an eval loss (0: none)")
    eval_steps: int = _opt(0, "evaluate every N steps (0: only at the end)")
    seed: int = _opt(0, "random seed (data split, shuffling, LoRA init)")
    bf16: Literal["auto", "true", "false"] = _opt("auto", "bf16 weights/compute: auto = where GPU or CPU supports it")
    logging_steps: int = _opt(5, "log the loss every N steps")
    save_steps: int = _opt(0, "write a resumable checkpoint every N steps (0: none; deleted after a full run)")
    resume: bool = _opt(False, "resume from the newest checkpoint in output_dir/checkpoints")
    end_with_eos: Literal["auto", "true", "false"] = _opt(
        "auto", "end answers with <eos> before the end-of-turn token; auto = when the base model's end-of-turn "
        "embedding is untrained (a near-copy of many rows, as in Gemma 3 270M base), so generation stops at <eos>")
    adapter_dtype: Literal["bf16", "fp32"] = _opt("bf16", "dtype of the saved adapter weights")
    save_tokenizer: bool = _opt(True, "save the tokenizer files (off: only chat_template.jinja, e.g. for an adapter "
                                "committed to git; the base model's tokenizer is then used)")
    merge: bool = _opt(False, "also write the base model with the adapter merged in (output_dir/merged)")
    push_to_hub: str = _opt("", "hub repo ID to upload output_dir to (off unless given; needs a token)")
    export_gguf: bool = _opt(False, "also write adapter.gguf for llama.cpp (finetune.lora_gguf)")
    gguf_base: str = _opt("", "base model GGUF for --export-gguf (default: the embedded model's GGUF)")

    def resolved_method(self, profile: ModelProfile) -> Method:
        if self.method != "auto":
            return self.method
        return "qlora" if profile.quantization == "nf4" else "lora"

    def use_bf16(self) -> bool:
        return bf16_supported() if self.bf16 == "auto" else self.bf16 == "true"


# --------------------------------------------------------------------------- model


def prepare_model(config: TrainConfig, profile: ModelProfile, method: Method, bf16: bool, device_index: int) -> Any:
    """Base model with LoRA attached (qlora/lora) or all but the top layers frozen (partial)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    model = load_base_model(profile, method, bf16, device_index)
    if method == "partial":
        layers = model.model.layers
        if not 0 < config.partial_layers <= len(layers):
            raise ValueError(f"--partial-layers must be 1..{len(layers)}")
        model.requires_grad_(False)
        for layer in layers[-config.partial_layers:]:
            layer.requires_grad_(True)
        model.model.norm.requires_grad_(True)
        model.get_output_embeddings().requires_grad_(True)  # tied models: this trains the embedding too
        return model
    if method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    n_layers = model.config.num_hidden_layers
    if not 0 <= config.lora_layers <= n_layers:
        raise ValueError(f"--lora-layers must be 0..{n_layers}")
    layers = list(range(n_layers - config.lora_layers, n_layers)) if config.lora_layers else None
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.target_modules or list(profile.lora_target_modules),
                      layers_to_transform=layers, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts (tied weights counted once)."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


# --------------------------------------------------------------------------- trainer


def make_trainer_class() -> type:
    """transformers.Trainer with the assistant-only, selected-logits loss and a token counter."""
    from transformers import Trainer

    class AssistantOnlyTrainer(Trainer):
        loss_is_scaled_for_ga = True  # we divide by the token count of the whole accumulated batch

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tokens_seen = 0

        def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            head = self.accelerator.unwrap_model(model).get_output_embeddings()
            loss, outputs = batching.assistant_loss(model, inputs, head)
            labels = inputs["labels"]
            if model.training:
                self.tokens_seen += int((inputs["input_ids"] != self.processing_class.pad_token_id).sum())
            if num_items_in_batch is None:
                loss = loss / (labels[:, 1:] != batching.IGNORE).sum().clamp(min=1)
            else:
                loss = loss / num_items_in_batch
                if self.args.average_tokens_across_devices:  # DDP averages gradients over processes
                    loss = loss * self.accelerator.num_processes
            return (loss, outputs) if return_outputs else loss

    return AssistantOnlyTrainer


def make_progress_callback(trainer: Any) -> Any:
    """A tqdm bar with the latest loss and tokens/s (replaces the Trainer's own bar)."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class ProgressBar(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Any = None
            self.start = 0.0
            self.loss = float("nan")

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                self.bar = tqdm(total=state.max_steps, desc="train", unit="step", dynamic_ncols=True)
            self.start = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                self.loss = logs["loss"]

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                rate = trainer.tokens_seen * args.world_size / max(time.perf_counter() - self.start, 1e-9)
                self.bar.set_postfix(loss=f"{self.loss:.3f}", tok_s=f"{rate:.0f}", refresh=False)
                self.bar.update(state.global_step - self.bar.n)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()

    return ProgressBar()


def training_arguments(config: TrainConfig, method: Method, bf16: bool, has_eval: bool) -> Any:
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(Path(config.output_dir) / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup if config.warmup < 1 else int(config.warmup),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        activation_checkpointing=config.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        # On GPU: autocast around fp32/4-bit weights. On CPU the weights themselves are bf16 (faster than autocast).
        bf16=bf16 and cuda,
        use_cpu=not cuda,
        train_sampling_strategy="group_by_length" if config.group_by_length and not config.packing else "random",
        eval_strategy=("steps" if config.eval_steps else "no") if has_eval else "no",
        eval_steps=config.eval_steps or None,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 500,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_pin_memory=cuda,
        optim="adamw_torch",
        prediction_loss_only=True,  # never gather eval logits (262k-wide)
        disable_tqdm=False,
        ddp_find_unused_parameters=False if method != "partial" else None,
    )


# --------------------------------------------------------------------------- outputs


def save_outputs(config: TrainConfig, trainer: Any, tokenizer: Any, profile: ModelProfile, method: Method,
                 metrics: dict[str, Any]) -> Path:
    """Adapter (or model), tokenizer + serving chat template, config, metrics, loss curve and model card."""
    from finetune.reporting import loss_curve_png, model_card

    out = Path(config.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if method == "partial":
        model.to(torch.bfloat16 if config.adapter_dtype == "bf16" else torch.float32)
    elif config.adapter_dtype == "bf16":
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.data = param.data.to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.chat_template = load_chat_template(profile, serving=True)
    if config.save_tokenizer:
        tokenizer.save_pretrained(out)
    else:
        (out / "chat_template.jinja").write_text(tokenizer.chat_template, encoding="utf-8")
    resolved = dataclasses.replace(config, method=method, bf16=str(metrics["bf16"]).lower(),
                                   end_with_eos=str(metrics["end_with_eos"]).lower(),
                                   datasets=list(config.datasets))  # as written ($VARS unexpanded)
    dump_config(resolved, out / "config.yaml")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    loss_curve_png(trainer.state.log_history, out / "loss_curve.png", title=f"{profile.name} {method}")
    (out / "README.md").write_text(model_card(out), encoding="utf-8")
    return out


def merge_adapter(out: Path, profile: ModelProfile) -> Path:
    """Base model (bf16) with the adapter merged in, saved to out/merged with the tokenizer."""
    from finetune.modeling import load_for_inference, load_tokenizer

    merged = load_for_inference(profile, out, bf16=True, merge=True)
    target = out / "merged"
    merged.save_pretrained(target, safe_serialization=True)
    load_tokenizer(profile, training=False).save_pretrained(target)
    return target


def export_gguf(out: Path, profile: ModelProfile, gguf_base: str) -> Path:
    """adapter.gguf for llama.cpp through the serving layer's converter (finetune.lora_gguf)."""
    from finetune.lora_gguf import convert_lora_to_gguf

    if gguf_base:
        base = Path(gguf_base)
    elif profile.embedded:
        from finetune.embedded import gguf_path

        base = gguf_path()
    else:
        raise ValueError(f"--gguf-base is required to export a GGUF adapter for {profile.name}")
    target = out / "adapter.gguf"
    shutil.copyfile(convert_lora_to_gguf(out, base, profile, "f16"), target)
    return target


def push_to_hub(out: Path, repo_id: str) -> None:
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True, private=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(out), ignore_patterns=["checkpoints/*", "merged/*"])


# --------------------------------------------------------------------------- main


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_features(config: TrainConfig, tokenizer: Any, specs: Sequence[str], end_with_eos: bool,
                     ) -> tuple[list[batching.Feature], list[batching.Feature], dict[str, Any]]:
    """Load, split, tokenize and (optionally) pack the data; returns train rows, eval rows and data stats."""
    per_source = [(spec, load_source(Source.parse(spec))) for spec in specs]
    examples = [ex for _, batch in per_source for ex in batch]
    if end_with_eos:
        examples = [batching.end_answers_with(ex, tokenizer.eos_token) for ex in examples]
    if not examples:
        raise ValueError("no training examples: give --datasets")
    rng = random.Random(config.seed)
    rng.shuffle(examples)
    n_eval = round(len(examples) * config.eval_split)
    train, stats = batching.tokenize_examples(tokenizer, examples[n_eval:], config.max_length)
    evals, _ = batching.tokenize_examples(tokenizer, examples[:n_eval], config.max_length)
    if config.packing:
        train = batching.pack(train, config.max_length, config.seed)
        evals = batching.pack(evals, config.max_length, config.seed)
    data_stats = {**{f"data_{k}": v for k, v in dataclasses.asdict(stats).items()}, "eval_examples": n_eval,
                  "rows": len(train),
                  "source_examples": [[name, len(batch)] for name, batch in per_source]}
    return train, evals, data_stats


def train(config: TrainConfig) -> dict[str, Any]:
    """Run one fine-tuning job as configured; returns the metrics (also written to output_dir/metrics.json)."""
    from accelerate import PartialState
    from transformers import set_seed
    from transformers.trainer_callback import ProgressCallback

    state = PartialState(cpu=not torch.cuda.is_available())  # multi-process CPU runs use gloo
    set_seed(config.seed)
    profile = resolve_profile(config.model)
    method = config.resolved_method(profile)
    bf16 = config.use_bf16()
    for spec in config.datasets:  # bad specs fail before the model loads
        Source.parse(spec)
    tokenizer = load_tokenizer(profile, training=True)
    model = prepare_model(config, profile, method, bf16, state.local_process_index)
    stop_id = tokenizer.convert_tokens_to_ids(profile.stop[0])
    end_with_eos = (not stop_token_is_trained(model, stop_id) if config.end_with_eos == "auto"
                    else config.end_with_eos == "true")
    train_rows, eval_rows, data_stats = prepare_features(config, tokenizer, config.datasets, end_with_eos)
    trainable, total = trainable_parameters(model)
    if state.is_main_process:
        print(f"{profile.name}: {method}, bf16={bf16}, end_with_eos={end_with_eos}, "
              f"{trainable / 1e6:.2f}M of {total / 1e6:.1f}M parameters "
              f"trainable; {data_stats['data_examples']} examples, {data_stats['data_tokens']} tokens "
              f"({data_stats['data_truncated']} truncated, {data_stats['data_dropped']} dropped), "
              f"{len(train_rows)} rows", flush=True)

    trainer_class = make_trainer_class()
    trainer = trainer_class(model=model, args=training_arguments(config, method, bf16, bool(eval_rows)),
                            train_dataset=train_rows, eval_dataset=eval_rows or None,
                            data_collator=batching.Collator(tokenizer.pad_token_id), processing_class=tokenizer)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(make_progress_callback(trainer))
    checkpoints = Path(config.output_dir) / "checkpoints"
    resume = config.resume and checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - start
    tokens = int(trainer.accelerator.reduce(torch.tensor(trainer.tokens_seen), reduction="sum"))
    metrics: dict[str, Any] = {
        "method": method, "bf16": bf16, "end_with_eos": end_with_eos, "processes": state.num_processes,
        "train_loss": result.training_loss, "steps": result.global_step,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        "train_seconds": round(seconds, 1), "tokens": tokens, "tokens_per_second": round(tokens / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1), "trainable_params": trainable, "total_params": total, **data_stats,
    }
    if eval_rows:
        metrics["eval_loss"] = trainer.evaluate()["eval_loss"]
        metrics["eval_perplexity"] = math.exp(min(metrics["eval_loss"], 50))
    if state.is_main_process:
        out = save_outputs(config, trainer, tokenizer, profile, method, metrics)
        if config.merge and method != "partial":
            print(f"merged: {merge_adapter(out, profile)}")
        if config.export_gguf and method != "partial":
            print(f"gguf: {export_gguf(out, profile, config.gguf_base)}")
        if config.push_to_hub:
            push_to_hub(out, config.push_to_hub)
        print(json.dumps({k: metrics[k] for k in ("train_loss", "steps", "tokens_per_second", "peak_rss_mb")}))
        shutil.rmtree(checkpoints, ignore_errors=True)  # only needed to resume an interrupted run
    state.wait_for_everyone()
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(TrainConfig, argv, "python -m finetune.qlora", __doc__ or "")
    if not config.datasets:
        print("error: no --datasets given (see python -m finetune.data --help)", file=sys.stderr)
        return 2
    train(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
