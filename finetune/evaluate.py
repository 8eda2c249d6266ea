"""Benchmark a base model or an adapter: accuracy and macro-F1 on KorMedMCQA, MedQA and PubMedQA.

Scoring ``option`` (default) reads the prompt once and scores every option's full reply ("B. text", or
"yes"/"no"/"maybe") by its summed log-likelihood from the cached prompt; ``option-norm`` divides by the reply's
token count, ``letter`` uses the reply's first token only, ``generate`` decodes greedily and extracts the
answer with a regular expression. All log-likelihood variants are computed in the same pass and kept in the JSON.

    python -m finetune.evaluate --benchmark kormedmcqa --data /work/shared/data/kormedmcqa --limit 50
    python -m finetune.evaluate --benchmark medqa --data /work/shared/data/medqa --adapter ADAPTER_DIR
    python -m finetune.evaluate --table results/*.json --output results/table.md   # runs side by side

Without --data the hub copies are read (sean0042/KorMedMCQA, GBaker/MedQA-USMLE-4-options,
ChuGyouk/PubMedQA-test-Ko), or <$MEDTRIAGE_BENCH_DATA>/<benchmark> when that variable is set.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from finetune.cli import load_config
from finetune.data import (
    KORMEDMCQA_HUB,
    KORMEDMCQA_SUBSETS,
    PUBMEDQA_KO_HUB,
    MCQItem,
    kormedmcqa_items,
    medqa_items,
    pubmedqa_items,
)

HUB_DEFAULTS = {"kormedmcqa": KORMEDMCQA_HUB, "medqa": "GBaker/MedQA-USMLE-4-options", "pubmedqa": PUBMEDQA_KO_HUB}
Scoring = Literal["option", "option-norm", "letter", "generate"]
# Published reference accuracies (BENCHMARKS.md): gemma-3-1b-it zero-shot, student run with regex extraction.
REFERENCE = {"gemma-3-1b-it": {"kormedmcqa/doctor": 25.1, "kormedmcqa/nurse": 27.2, "kormedmcqa/pharm": 25.4,
                               "kormedmcqa/dentist": 22.9, "medqa/4_options": 34.6}}


@dataclass
class EvalConfig:
    """Options of ``python -m finetune.evaluate``."""

    benchmark: Literal["kormedmcqa", "medqa", "pubmedqa"] = field(
        default="kormedmcqa", metadata={"help": "which benchmark to run"})
    subset: list[str] = field(default_factory=list, metadata={
        "help": "KorMedMCQA subsets (doctor nurse pharm dentist; default all); MedQA: 4 or 5 options"})
    split: str = field(default="test", metadata={"help": "data split to score (test for reported numbers)"})
    data: str = field(default="", metadata={"help": "local data path or hub ID (default: see above)"})
    limit: int = field(default=0, metadata={"help": "score only the first N questions per subset (0: all)"})
    model: str = field(default="gemma3-270m", metadata={"help": "model profile, hub ID or local model directory"})
    adapter: str = field(default="", metadata={"help": "peft adapter directory (or a fully fine-tuned model dir)"})
    scoring: Scoring = field(default="option", metadata={"help": "option | option-norm | letter | generate"})
    max_new_tokens: int = field(default=24, metadata={"help": "generate scoring: tokens to decode"})
    output: str = field(default="", metadata={"help": "write JSON here (and a Markdown table beside it, .md)"})
    table: list[str] = field(default_factory=list, metadata={
        "help": "instead of evaluating: combine these result JSON files into one Markdown table (--output FILE.md)"})


# --------------------------------------------------------------------------- scoring


def prompt_ids(tokenizer: Any, item: MCQItem) -> list[int]:
    """Token ids of the item's prompt up to and including the model-turn header."""
    encoded = tokenizer.apply_chat_template(list(item.prompt), add_generation_prompt=True, tokenize=True,
                                            return_dict=True)
    return list(encoded["input_ids"])


def _logprobs_at(logits: torch.Tensor, targets: Sequence[int]) -> list[float]:
    logp = torch.log_softmax(logits.float(), dim=-1)
    return [float(logp[i, t]) for i, t in enumerate(targets)]


@torch.inference_mode()
def option_loglik(model: Any, tokenizer: Any, item: MCQItem) -> dict[str, list[float]]:
    """Per option key: log-probabilities of the reply's tokens given the prompt (prompt read once, cached)."""
    prompt = prompt_ids(tokenizer, item)
    keys = list(item.options)
    replies = [tokenizer.encode(item.continuation(k), add_special_tokens=False) for k in keys]
    device = model.device
    out = model(input_ids=torch.tensor([prompt], device=device), use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    scores = {k: [float(first[r[0]])] for k, r in zip(keys, replies, strict=True)}
    width = max(len(r) for r in replies) - 1
    if width > 0:
        cache = out.past_key_values
        cache.batch_repeat_interleave(len(keys))
        # Right padding after each reply: later positions never influence earlier ones, so no mask is needed.
        ids = torch.tensor([r[:-1] + [tokenizer.pad_token_id] * (width - len(r) + 1) for r in replies], device=device)
        positions = torch.arange(len(prompt), len(prompt) + width, device=device).expand(len(keys), -1)
        logits = model(input_ids=ids, past_key_values=cache, position_ids=positions, use_cache=True).logits
        for row, (k, r) in enumerate(zip(keys, replies, strict=True)):
            scores[k] += _logprobs_at(logits[row, : len(r) - 1], r[1:])
    return scores


_LETTER = re.compile(r"(?<![A-Za-z])([A-E])(?![A-Za-z])")
_LABEL = re.compile(r"\b(yes|no|maybe)\b", re.IGNORECASE)


def extract_answer(text: str, item: MCQItem) -> str | None:
    """The option a free-text reply names: first standalone letter, or first yes/no/maybe."""
    match = (_LETTER if item.lettered else _LABEL).search(text)
    key = match.group(1) if match else None
    key = key.lower() if key and not item.lettered else key
    return key if key in item.options else None


@torch.inference_mode()
def generate_answer(model: Any, tokenizer: Any, item: MCQItem, max_new_tokens: int) -> tuple[str | None, str]:
    prompt = prompt_ids(tokenizer, item)
    ids = torch.tensor([prompt], device=model.device)
    out = model.generate(input_ids=ids, max_new_tokens=max_new_tokens, do_sample=False)
    text = tokenizer.decode(out[0, len(prompt):], skip_special_tokens=True)
    return extract_answer(text, item), text


def score_item(model: Any, tokenizer: Any, item: MCQItem, scoring: Scoring, max_new_tokens: int) -> dict[str, Any]:
    """One prediction record: gold, prediction under ``scoring`` and the log-likelihood variants."""
    record: dict[str, Any] = {"uid": item.uid, "subset": item.subset, "gold": item.answer}
    if scoring == "generate":
        record["pred"], record["text"] = generate_answer(model, tokenizer, item, max_new_tokens)
        return record
    scores = option_loglik(model, tokenizer, item)
    variants = {"option": {k: sum(v) for k, v in scores.items()},
                "option-norm": {k: sum(v) / len(v) for k, v in scores.items()},
                "letter": {k: v[0] for k, v in scores.items()}}
    record["preds"] = {name: max(s, key=s.__getitem__) for name, s in variants.items()}
    record["pred"] = record["preds"][scoring]
    return record


# --------------------------------------------------------------------------- metrics


def macro_f1(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    """Unweighted mean F1 over the classes seen in gold or predictions (as scikit-learn's macro average)."""
    classes = sorted(set(gold) | {p for p in pred if p is not None})
    f1s = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


def summarize(records: Sequence[dict[str, Any]], benchmark: str) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 (percent) per subset, plus "all" when there are several subsets."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[f"{benchmark}/{r['subset']}"].append(r)
    if len(groups) > 1:
        groups[f"{benchmark}/all"] = list(records)
    summary = {}
    for name, rows in groups.items():
        gold, pred = [r["gold"] for r in rows], [r["pred"] for r in rows]
        summary[name] = {"n": len(rows), "accuracy": 100 * sum(g == p for g, p in zip(gold, pred, strict=True))
                         / len(rows), "macro_f1": 100 * macro_f1(gold, pred)}
    return summary


def markdown(result: dict[str, Any]) -> str:
    label = run_label(result)
    lines = [f"**{label}** ({result['scoring']} scoring, {result['split']} split)", "",
             "| benchmark | n | accuracy | macro-F1 |", "|---|---|---|---|"]
    lines += [f"| {name} | {s['n']} | {s['accuracy']:.1f} | {s['macro_f1']:.1f} |"
              for name, s in result["summary"].items()]
    return "\n".join(lines)


def run_label(result: dict[str, Any]) -> str:
    return Path(result["adapter"]).name if result["adapter"] else f"{result['model']} (base)"


def comparison_table(results: Sequence[dict[str, Any]]) -> str:
    """One Markdown table: rows = benchmark/subset, columns = runs (accuracy / macro-F1) and references.

    Result files of the same run (model + adapter) share a column. When runs scored different numbers of questions
    of a benchmark (e.g. one with --limit), every run is rescored on the questions all of them answered."""
    by_run: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for r in results:
        by_run[run_label(r)].setdefault(r["benchmark"], []).extend(r["predictions"])  # e.g. subsets run apart
    runs = list(by_run)
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in results))
    summaries: dict[str, dict[str, dict[str, float]]] = {run: {} for run in runs}
    for benchmark in benchmarks:
        scored = [by_run[run][benchmark] for run in runs if benchmark in by_run[run]]
        common = set.intersection(*({p["uid"] for p in preds} for preds in scored))
        for run in runs:
            if benchmark in by_run[run]:
                kept = [p for p in by_run[run][benchmark] if p["uid"] in common]
                summaries[run].update(summarize(kept, benchmark))
    names = list(dict.fromkeys(n for run in runs for n in summaries[run]))
    header = ["benchmark", "n", *[f"{run} acc / F1" for run in runs], *REFERENCE]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        n = next(summaries[run][name]["n"] for run in runs if name in summaries[run])
        cells = [f"{summaries[run][name]['accuracy']:.1f} / {summaries[run][name]['macro_f1']:.1f}"
                 if name in summaries[run] else "" for run in runs]
        refs = [str(ref.get(name, "")) for ref in REFERENCE.values()]
        lines.append("| " + " | ".join([name, str(n), *cells, *refs]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def load_items(config: EvalConfig) -> list[MCQItem]:
    data = config.data or (str(Path(os.environ["MEDTRIAGE_BENCH_DATA"]) / config.benchmark)
                           if os.environ.get("MEDTRIAGE_BENCH_DATA") else HUB_DEFAULTS[config.benchmark])
    if config.benchmark == "kormedmcqa":
        subsets = config.subset or list(KORMEDMCQA_SUBSETS)
        groups = [kormedmcqa_items(data, config.split, [s]) for s in subsets]
    elif config.benchmark == "medqa":
        groups = [medqa_items(data, config.split, int(n)) for n in (config.subset or ["4"])]
    else:
        groups = [pubmedqa_items(data, config.split)]
    return [item for group in groups for item in (group[: config.limit] if config.limit else group)]


def evaluate(config: EvalConfig) -> dict[str, Any]:
    """Score every item; returns summary, timing and per-item predictions."""
    from tqdm.auto import tqdm

    from finetune.modeling import load_for_inference, load_tokenizer
    from finetune.profiles import resolve_profile

    items = load_items(config)
    profile = resolve_profile(config.model)
    tokenizer = load_tokenizer(profile, training=False)
    model = load_for_inference(profile, config.adapter or None, merge=True)
    records, start = [], time.perf_counter()
    for item in tqdm(items, desc=config.benchmark, unit="q", dynamic_ncols=True):
        records.append(score_item(model, tokenizer, item, config.scoring, config.max_new_tokens))
    seconds = time.perf_counter() - start
    result = {"benchmark": config.benchmark, "split": config.split, "model": config.model,
              "adapter": config.adapter, "scoring": config.scoring, "questions": len(items),
              "seconds_per_question": round(seconds / max(len(items), 1), 3),
              "summary": summarize(records, config.benchmark)}
    if config.scoring != "generate":
        result["all_scorings"] = {name: summarize([{**r, "pred": r["preds"][name]} for r in records],
                                                  config.benchmark) for name in ("option", "option-norm", "letter")}
    return {**result, "predictions": records}


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(EvalConfig, argv, "python -m finetune.evaluate", __doc__ or "")
    if config.table:
        table = comparison_table([json.loads(Path(f).read_text()) for f in config.table])
        if config.output:
            Path(config.output).write_text(table + "\n", encoding="utf-8")
        print(table)
        return 0
    result = evaluate(config)
    text = markdown(result)
    if config.output:
        path = Path(config.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        path.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"{result['seconds_per_question']} s/question")
    return 0


if __name__ == "__main__":
    sys.exit(main())
