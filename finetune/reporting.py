"""Loss-curve PNG and the model card (README.md) of a fine-tuning output directory.

The card is rendered from the files the run wrote (config.yaml, metrics.json) plus any evaluation tables
(Markdown from ``finetune.evaluate``), so it can be refreshed after evaluating:

    python -m finetune.reporting ADAPTER_DIR --evaluation results/kormedmcqa.md results/medqa.md
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

# kind -> (data set, licence); a source may override both with ?name=...&license=...
DATASET_LICENSES = {
    "kormedmcqa": ("KorMedMCQA (Kweon et al. 2024)", "CC BY-NC 2.0"),
    "medqa": ("MedQA USMLE (Jin et al. 2021)", "MIT"),
    "pubmedqa": ("PubMedQA-L, expert-labelled (Jin et al. 2019)", "MIT"),
    "corpus": ("medtriage bilingual knowledge corpus (authored for this project)", "Apache-2.0"),
    "asan": ("Asan-AMC-Healthinfo (Asan Medical Center health information)", "see the dataset card and source terms"),
    "aihub": ("AI Hub healthcare QA (초거대AI 헬스케어 질의응답)", "AI Hub terms of use (no redistribution)"),
    "jsonl": ("local JSONL file", "set by its author"),
}
NON_COMMERCIAL = ("CC BY-NC",)


def loss_curve_png(log_history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Training (and eval) loss against optimizer steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        ax.plot(*zip(*evals, strict=True), "o-", label="eval loss")
    ax.set(xlabel="optimizer step", ylabel="loss (assistant tokens)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _source_rows(source_examples: Sequence[tuple[str, int]]) -> tuple[list[str], bool]:
    from finetune.data import Source

    rows, non_commercial = [], False
    for spec, count in source_examples:
        source = Source.parse(spec)
        name, licence = DATASET_LICENSES[source.kind]
        name, licence = source.opt("name", name), source.opt("license", licence)
        non_commercial |= licence.startswith(NON_COMMERCIAL)
        rows.append(f"| {name} | `{spec}` | {count} | {licence} |")
    return rows, non_commercial


def model_card(out_dir: Path, evaluations: Sequence[Path] = ()) -> str:
    """README.md text for a fine-tuning output directory (reads config.yaml and metrics.json)."""
    from finetune.profiles import resolve_profile

    config = yaml.safe_load((out_dir / "config.yaml").read_text(encoding="utf-8"))
    metrics = json.loads((out_dir / "metrics.json").read_text())
    profile = resolve_profile(config["model"])
    method = metrics["method"]
    rows, non_commercial = _source_rows(metrics["source_examples"])
    targets = ", ".join(config["target_modules"] or profile.lora_target_modules)
    adapter = method != "partial"
    lines = [
        "---",
        f"base_model: {profile.hub_id}",
        *(["library_name: peft"] if adapter else []),
        f"license: {'cc-by-nc-2.0' if non_commercial else 'apache-2.0'}",
        "language: [ko, en]",
        "tags: [medical, korean, lora, medtriage]",
        "---",
        f"# {out_dir.name}",
        "",
        f"A {'LoRA adapter' if adapter else 'partially fine-tuned model'} for **{profile.hub_id}** trained with "
        "`python -m finetune.qlora` (medtriage). Chat format: the project's Gemma-style template "
        "(`chat_template.jinja`); the answer ends with "
        + ("`<eos>` and " if metrics.get("end_with_eos") else "") + "the end-of-turn token.",
        "",
        "## Method",
        "",
        f"- method: `{method}`" + (" (4-bit NF4 base, double quantization)" if method == "qlora" else ""),
        (f"- LoRA r={config['lora_r']}, alpha={config['lora_alpha']}, dropout={config['lora_dropout']}; "
         f"targets: {targets}; layers: {'top ' + str(config['lora_layers']) if config.get('lora_layers') else 'all'}"
         if adapter else f"- trained: top {config['partial_layers']} layers + LM head"),
        f"- learning rate {config['learning_rate']} ({config['lr_scheduler']}, warmup {config['warmup']}), "
        f"{metrics['steps']} steps, batch {config['batch_size']} x {config['grad_accum']} accumulation"
        f" x {metrics['processes']} process(es), max length {config['max_length']}, packing {config['packing']}",
        "- loss on assistant tokens only (chat template `{% generation %}` tags), bf16 "
        f"{'on' if metrics['bf16'] else 'off'}, seed {config['seed']}",
        "",
        "## Data",
        "",
        "| data set | source | examples | licence |",
        "|---|---|---|---|",
        *rows,
        "",
        "Only training/dev splits were used for training; benchmark test splits are for evaluation only.",
        "",
        "## Training metrics",
        "",
        f"- train loss {metrics['train_loss']:.3f} (last logged {metrics['final_loss']:.3f})"
        + (f", eval loss {metrics['eval_loss']:.3f}" if "eval_loss" in metrics else ""),
        f"- {metrics['data_examples']} examples ({metrics['data_tokens']} tokens); {metrics['tokens']} tokens seen at "
        f"{metrics['tokens_per_second']:.0f} tokens/s, {metrics['train_seconds'] / 60:.1f} min, "
        f"peak RSS {metrics['peak_rss_mb']:.0f} MB",
        f"- trainable parameters: {metrics['trainable_params']:,} of {metrics['total_params']:,}",
        "",
        "![loss curve](loss_curve.png)",
        "",
    ]
    for path in evaluations:
        lines += ["## Evaluation", "", path.read_text(encoding="utf-8").strip(), ""]
    lines += [
        "## Use",
        "",
        "```python",
        "from peft import PeftModel" if adapter else "from transformers import AutoModelForCausalLM",
        "from transformers import AutoModelForCausalLM, AutoTokenizer" if adapter else
        "from transformers import AutoTokenizer",
        f"tokenizer = AutoTokenizer.from_pretrained('{out_dir.name}')",
        f"model = AutoModelForCausalLM.from_pretrained('{profile.hub_id}')" if adapter else
        f"model = AutoModelForCausalLM.from_pretrained('{out_dir.name}')",
        *([f"model = PeftModel.from_pretrained(model, '{out_dir.name}')"] if adapter else []),
        "```",
        "",
        "## Limitations",
        "",
        "Medical information only, not a diagnosis or a medical device. Small models make factual errors; answers "
        "must be grounded in retrieved passages and checked by the application." +
        (" Trained partly on CC BY-NC data: non-commercial use only." if non_commercial else ""),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m finetune.reporting", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="fine-tuning output directory (config.yaml, metrics.json)")
    parser.add_argument("--evaluation", type=Path, nargs="*", default=[],
                        help="Markdown tables from python -m finetune.evaluate to include")
    args = parser.parse_args(argv)
    (args.out_dir / "README.md").write_text(model_card(args.out_dir, args.evaluation), encoding="utf-8")
    print(args.out_dir / "README.md")


if __name__ == "__main__":
    main()
