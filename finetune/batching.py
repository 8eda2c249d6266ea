"""Chat examples -> token batches: assistant-only labels from the chat template's {% generation %} tags,
optional best-fit packing, and a collator that asks the model for logits only where a label exists.

On a 262k-token vocabulary the LM head is most of a small model's compute and memory, so skipping it for
prompt and padding positions (``assistant_loss``) is the main saving; packing removes padding altogether.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

IGNORE = -100
Feature = dict[str, list[int]]


@dataclass
class TokenStats:
    """What tokenization kept and dropped."""

    examples: int = 0
    tokens: int = 0
    label_tokens: int = 0
    truncated: int = 0
    dropped: int = 0  # no assistant token left


def end_answers_with(example: dict[str, Any], marker: str) -> dict[str, Any]:
    """The example with ``marker`` (e.g. "<eos>") appended to every assistant message."""
    messages = [{**m, "content": m["content"].rstrip() + marker} if m["role"] == "assistant" else m
                for m in example["messages"]]
    return {**example, "messages": messages}


def tokenize_chat(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> tuple[Feature | None, bool]:
    """(input_ids + labels on assistant tokens only, truncated?). Long examples keep <bos> and their last
    tokens, so the answer survives; the feature is None when no assistant token remains."""
    encoded = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
    ids, mask = list(encoded["input_ids"]), list(encoded["assistant_masks"])
    truncated = len(ids) > max_length
    if truncated:
        ids, mask = ids[:1] + ids[-(max_length - 1):], [0] + mask[-(max_length - 1):]
    if not any(mask):
        return None, truncated
    return {"input_ids": ids, "labels": [t if m else IGNORE for t, m in zip(ids, mask, strict=True)]}, truncated


def tokenize_examples(tokenizer: Any, examples: Sequence[dict[str, Any]], max_length: int,
                      ) -> tuple[list[Feature], TokenStats]:
    """Tokenize chat examples; returns the features and counts."""
    stats = TokenStats()
    features = []
    for example in examples:
        feature, truncated = tokenize_chat(tokenizer, example["messages"], max_length)
        stats.truncated += truncated
        if feature is None:
            stats.dropped += 1
            continue
        stats.examples += 1
        stats.tokens += len(feature["input_ids"])
        stats.label_tokens += sum(t != IGNORE for t in feature["labels"])
        features.append(feature)
    return features, stats


def pack(features: Sequence[Feature], max_length: int, seed: int = 0) -> list[Feature]:
    """Best-fit-decreasing packing into rows of at most ``max_length`` tokens; ``position_ids`` restart at 0
    for every example, which transformers turns into a block-diagonal attention mask (no cross-talk)."""
    order = sorted(range(len(features)), key=lambda i: -len(features[i]["input_ids"]))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (remaining capacity, bin index), sorted
    for i in order:
        size = len(features[i]["input_ids"])
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            remaining, b = free.pop(slot)
        else:
            remaining, b = max_length, len(bins)
            bins.append([])
        bins[b].append(i)
        if remaining - size > 0:
            bisect.insort(free, (remaining - size, b))
    random.Random(seed).shuffle(bins)
    rows = []
    for members in bins:
        row: Feature = {"input_ids": [], "labels": [], "position_ids": []}
        for i in members:
            row["input_ids"] += features[i]["input_ids"]
            row["labels"] += features[i]["labels"]
            row["position_ids"] += list(range(len(features[i]["input_ids"])))
        rows.append(row)
    return rows


class Collator:
    """Pad a batch on the right; packed rows carry ``position_ids`` and no attention mask. With
    ``logits_to_keep`` the batch names the positions whose next token is a label, so the LM head runs only there.
    """

    def __init__(self, pad_token_id: int, logits_to_keep: bool = True) -> None:
        self.pad_token_id = pad_token_id
        self.logits_to_keep = logits_to_keep

    def __call__(self, features: Sequence[Feature]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        packed = "position_ids" in features[0]
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids" if packed else
                                             "attention_mask": []}
        for f in features:
            pad = width - len(f["input_ids"])
            batch["input_ids"].append(f["input_ids"] + [self.pad_token_id] * pad)
            batch["labels"].append(f["labels"] + [IGNORE] * pad)
            if packed:  # padding forms its own short "sequence"
                batch["position_ids"].append(f["position_ids"] + list(range(pad)))
            else:
                batch["attention_mask"].append([1] * len(f["input_ids"]) + [0] * pad)
        tensors = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        if self.logits_to_keep:
            has_label = (tensors["labels"][:, 1:] != IGNORE).any(dim=0)
            tensors["logits_to_keep"] = has_label.nonzero().flatten()
        return tensors


def assistant_loss(model: Any, batch: dict[str, torch.Tensor], head: Any = None) -> tuple[torch.Tensor, Any]:
    """(summed next-token cross-entropy over label positions, model outputs).

    The model slices its hidden states to ``logits_to_keep`` (positions where any row has a label); a hook then
    hands the LM head only the (row, position) pairs that carry one, so with batches of uneven prompts the
    262k-wide logits exist for label tokens only. Without ``logits_to_keep`` all positions are scored.
    ``head`` is the model's output embedding (pass it when ``model`` is wrapped, e.g. by DDP).
    """
    inputs = dict(batch)
    labels = inputs.pop("labels")
    keep = inputs.get("logits_to_keep")
    if keep is None:
        outputs = model(**inputs, use_cache=False)
        logits, targets = outputs.logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten()
    else:
        targets = labels[:, keep + 1]
        select = targets != IGNORE
        head = head if head is not None else model.get_output_embeddings()
        hook = head.register_forward_pre_hook(lambda _, args: (args[0][select].unsqueeze(0), *args[1:]))
        try:
            outputs = model(**inputs, use_cache=False)
        finally:
            hook.remove()
        logits, targets = outputs.logits[0], targets[select]
    loss = torch.nn.functional.cross_entropy(logits.float(), targets, ignore_index=IGNORE, reduction="sum")
    return loss, outputs
