"""Calibrate the verifier's support threshold on the bundled corpus; writes agents/verifier_calibration.json.

    python -m agents.calibrate_verifier [--topics 30] [--seed 0] [--dry-run]

For sampled topics, the "retrieved passages" are up to 5 chunks of the topic in one language, and each
sentence is scored by ``agents.support.SupportScorer`` (best e5 cosine / n-gram mix over those passages).

* supported: a passage sentence with every third word dropped (a compressed paraphrase), and the first half
  of one passage sentence joined to the second half of another (facts combined);
* unsupported: sentences from another topic of the same category in the same language (on topic for a
  patient, absent from the passages);
* half-supported (reported only): half a passage sentence joined to half an unsupported one.

The threshold maximises TPR - FPR on supported vs unsupported; the file records the rates per kind and the
score percentiles. Embedding takes about 1 s per 10 sentences on one idle core.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from agents.support import CALIBRATION_FILE, COSINE_WEIGHT, SupportScorer, split_sentences
from knowledge.chunking import chunk_document
from knowledge.corpus import CORPUS_DIR, corpus_files, load_corpus_file

PASSAGES_PER_TOPIC = 5
MIN_CHARS = 25
Pair = tuple[str, list[str], str]  # sentence, passages, kind
KINDS = {"compressed": 1, "combined": 1, "other_topic": 0, "half_supported": 0}


def _sentences(texts: Sequence[str]) -> list[str]:
    return [s for t in texts for s in split_sentences(t) if len(s) >= MIN_CHARS and not s.endswith(":")]


def _compress(sentence: str) -> str:
    words = sentence.split()
    return " ".join(w for i, w in enumerate(words) if i % 3 != 2) if len(words) > 4 else sentence


def _join_halves(first: str, second: str) -> str:
    a, b = first.split(), second.split()
    return " ".join(a[: len(a) // 2] + b[len(b) // 2 :])


def build_pairs(topics: int, seed: int) -> list[Pair]:
    """Sentences with the passages they are scored against and their kind (see the module docstring)."""
    chunks: dict[tuple[str, str], list[str]] = defaultdict(list)
    category: dict[str, str] = {}
    for path in corpus_files(CORPUS_DIR):
        for doc in load_corpus_file(path):
            chunks[doc.topic_id, doc.language] += [c.text for c in chunk_document(doc)]
            category[doc.topic_id] = doc.category
    rng = random.Random(seed)
    complete = sorted(t for t in category if (t, "en") in chunks and (t, "ko") in chunks)
    pairs: list[Pair] = []
    for topic in rng.sample(complete, min(topics, len(complete))):
        neighbours = [t for t in complete if t != topic and category[t] == category[topic]] or \
            [t for t in complete if t != topic]
        for language in ("en", "ko"):
            passages = rng.sample(chunks[topic, language], min(PASSAGES_PER_TOPIC, len(chunks[topic, language])))
            own, foreign = _sentences(passages), _sentences(chunks[rng.choice(neighbours), language])
            if len(own) < 2 or not foreign:
                continue
            pairs += [(_compress(s), passages, "compressed") for s in rng.sample(own, min(3, len(own)))]
            pairs += [(_join_halves(*rng.sample(own, 2)), passages, "combined") for _ in range(2)]
            pairs += [(s, passages, "other_topic") for s in rng.sample(foreign, min(4, len(foreign)))]
            pairs.append((_join_halves(rng.choice(own), rng.choice(foreign)), passages, "half_supported"))
    return pairs


def score_pairs(pairs: Sequence[Pair]) -> np.ndarray:
    """Each sentence's best support score over its passages."""
    scorer = SupportScorer(threshold=0.0)
    texts = sorted({p for _, passages, _ in pairs for p in passages})
    scorer.passage_vectors(texts, texts)  # one batch for all passages
    return np.array([float(scorer.scores([sentence], passages, passages).max()) for sentence, passages, _ in pairs])


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The threshold with the best TPR - FPR, with its rates."""
    best: dict[str, float] = {}
    for threshold in np.unique(np.round(scores, 3)):
        tpr = float(np.mean(scores[labels == 1] >= threshold))
        fpr = float(np.mean(scores[labels == 0] >= threshold))
        if not best or tpr - fpr > best["tpr"] - best["fpr"]:
            best = {"threshold": float(threshold), "tpr": round(tpr, 4), "fpr": round(fpr, 4)}
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.calibrate_verifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=30, help="topics to sample (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument("--dry-run", action="store_true", help="print the result without writing the file")
    args = parser.parse_args(argv)
    pairs = build_pairs(args.topics, args.seed)
    scores = score_pairs(pairs)
    kinds = np.array([kind for _, _, kind in pairs])
    labels = np.array([KINDS[kind] for kind in kinds])
    decided = kinds != "half_supported"
    result = choose_threshold(scores[decided], labels[decided])
    report = {
        **result,
        "pass_rate": {k: round(float(np.mean(scores[kinds == k] >= result["threshold"])), 4) for k in KINDS},
        "pairs": {k: int(np.sum(kinds == k)) for k in KINDS},
        "score_percentiles": {k: {str(q): round(float(np.percentile(scores[kinds == k], q)), 4) for q in (5, 50, 95)}
                              for k in KINDS},
        "score": f"{COSINE_WEIGHT} x e5 cosine + {1 - COSINE_WEIGHT} x character 3-gram containment",
        "topics": args.topics, "seed": args.seed, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    print(json.dumps(report, indent=2))
    if not args.dry_run:
        CALIBRATION_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
