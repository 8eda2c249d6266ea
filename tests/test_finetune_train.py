"""Real (tiny) training runs: assistant-only labels, packing, 2-step LoRA / QLoRA / partial, reload, accelerate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from finetune_tiny import build_tiny_model

from finetune import batching
from finetune.profiles import resolve_profile

FIX = Path(__file__).parent / "fixtures" / "finetune"
ROOT = Path(__file__).resolve().parent.parent
DATA = [f"kormedmcqa:{FIX / 'kormedmcqa'}?split=train&subset=doctor", str(FIX / "chat.jsonl"),
        f"corpus:{FIX / 'corpus'}?task=grounded"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-gemma3")


@pytest.fixture(scope="module")
def tokenizer(tiny: Path):
    from finetune.modeling import load_tokenizer

    return load_tokenizer(resolve_profile(str(tiny)))


def _run(args: list[str], launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    command = (launcher or [sys.executable]) + ["-m", "finetune.qlora", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_labels_cover_only_assistant_tokens_and_end_of_turn(tokenizer) -> None:
    messages = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello [1]."}]
    feature, truncated = batching.tokenize_chat(tokenizer, messages, 512)
    labelled = [t for t in feature["labels"] if t != batching.IGNORE]
    assert not truncated
    assert tokenizer.decode(labelled) == "Hello [1].<end_of_turn>"
    short, truncated = batching.tokenize_chat(tokenizer, messages, 8)
    assert truncated and len(short["input_ids"]) == 8 and short["input_ids"][0] == tokenizer.bos_token_id


def test_untrained_end_of_turn_is_detected_and_answers_end_with_eos(tiny: Path, tokenizer) -> None:
    from transformers import AutoModelForCausalLM

    from finetune.modeling import stop_token_is_trained

    model = AutoModelForCausalLM.from_pretrained(tiny)
    eot = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert stop_token_is_trained(model, eot)
    with torch.no_grad():  # a base model that never saw the token: its row is a near-copy of many others
        model.get_input_embeddings().weight[100:130] = model.get_input_embeddings().weight[eot]
    assert not stop_token_is_trained(model, eot)
    example = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    feature, _ = batching.tokenize_chat(tokenizer, batching.end_answers_with(example, "<eos>")["messages"], 512)
    assert tokenizer.decode([t for t in feature["labels"] if t != batching.IGNORE]) == "Hello.<eos><end_of_turn>"


def test_packing_matches_separate_sequences(tiny: Path, tokenizer) -> None:
    """A packed row (block-diagonal attention from position_ids) gives the same loss as a padded batch, and the
    LM head restricted to label positions gives the same loss as scoring every position."""
    from transformers import AutoModelForCausalLM

    from finetune.data import load_source

    features, _ = batching.tokenize_examples(tokenizer, load_source(str(FIX / "chat.jsonl")), 256)
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    collate = batching.Collator(tokenizer.pad_token_id)

    def loss(rows: list[batching.Feature], collator: batching.Collator = collate) -> float:
        with torch.no_grad():
            return float(batching.assistant_loss(model, collator(rows))[0])

    packed = batching.pack(features, 1024)
    assert len(packed) == 1 and packed[0]["position_ids"].count(0) == 2
    separate = loss(features)  # padded batch of two with an attention mask
    assert loss(packed) == pytest.approx(separate, rel=1e-4)
    # every position scored (no logits_to_keep, no LM-head selection): the same loss
    assert loss(features, batching.Collator(tokenizer.pad_token_id, logits_to_keep=False)) == pytest.approx(separate,
                                                                                                           rel=1e-4)


def test_two_step_lora_run_saves_and_reloads(tiny: Path, tmp_path: Path) -> None:
    from finetune.modeling import load_for_inference
    from finetune.qlora import main

    out = tmp_path / "lora"
    config = tmp_path / "run.yaml"
    config.write_text(f"model: {tiny}\ndatasets: {json.dumps(DATA)}\nmethod: lora\nmax_steps: 5\n"
                      "lr_scheduler: constant\ngrad_accum: 2\nmax_length: 512\nlearning_rate: 0.01\n"
                      "eval_split: 0.2\nlogging_steps: 1\nlora_layers: 1\n")
    assert main(["--config", str(config), "--output-dir", str(out), "--max-steps", "2", "--merge"]) == 0
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "chat_template.jinja",
                 "config.yaml", "metrics.json", "loss_curve.png", "README.md", "merged/model.safetensors"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["method"] == "lora" and metrics["tokens"] > 0 and "eval_loss" in metrics
    assert "max_steps: 2" in (out / "config.yaml").read_text()  # the flag overrode the YAML file
    assert "{%- generation" not in (out / "chat_template.jinja").read_text()  # the serving template
    card = (out / "README.md").read_text()
    assert "CC BY-NC 2.0" in card and "non-commercial" in card

    from safetensors.torch import load_file

    weights = load_file(out / "adapter_model.safetensors")
    assert all(t.dtype == torch.bfloat16 for t in weights.values())
    assert any(k.endswith("lora_B.weight") and t.abs().sum() > 0 for k, t in weights.items())  # it trained
    assert all(".layers.1." in k for k in weights)  # lora_layers: 1 adapts only the top layer

    profile = resolve_profile(str(tiny))
    ids = torch.tensor([[2, 10, 20, 30]])
    with torch.no_grad():
        base = load_for_inference(profile, bf16=False)(ids).logits
        adapted = load_for_inference(profile, out, bf16=False)(ids).logits
        merged = load_for_inference(profile, out / "merged", bf16=False)(ids).logits
    assert not torch.allclose(base, adapted)
    assert torch.allclose(adapted, merged, atol=0.05)  # merged weights are stored in bf16


def test_two_step_qlora_run_in_a_fresh_process(tiny: Path, tmp_path: Path) -> None:
    """bitsandbytes NF4 + double quant on CPU; its own process (see STACK.md: no inference before training)."""
    out = tmp_path / "qlora"
    result = _run(["--model", str(tiny), "--datasets", *DATA, "--method", "qlora", "--max-steps", "2",
                   "--grad-accum", "1", "--output-dir", str(out), "--bf16", "false", "--gradient-checkpointing"])
    assert "qlora" in result.stdout
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 16
    assert json.loads((out / "metrics.json").read_text())["method"] == "qlora"


def test_partial_run_trains_top_layers_only(tiny: Path, tmp_path: Path) -> None:
    from finetune.qlora import main

    out = tmp_path / "partial"
    assert main(["--model", str(tiny), "--datasets", *DATA, "--method", "partial", "--partial-layers", "1",
                 "--max-steps", "2", "--packing", "--batch-size", "2", "--output-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"] < metrics["data_examples"]  # packed
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    assert 0 < metrics["trainable_params"] < metrics["total_params"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
                    reason="accelerate CLI not installed")
def test_accelerate_two_cpu_processes(tiny: Path, tmp_path: Path) -> None:
    """Two DDP processes on CPU (gloo). accelerate 1.15 starts several CPU processes only through its torchrun
    launcher (--multi_gpu; the script falls back to CPU) or MPI; plain --cpu --num_processes 2 runs one process."""
    out = tmp_path / "ddp"
    launcher = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    result = _run(["--model", str(tiny), "--datasets", *DATA, "--max-steps", "2", "--grad-accum", "1",
                   "--output-dir", str(out)], launcher)
    assert result.stdout.count("parameters trainable") == 1  # only the main process reports and saves
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["steps"] == 2
    assert (out / "adapter_model.safetensors").is_file()
