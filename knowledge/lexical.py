"""Lexical side of hybrid retrieval: TF-IDF over character 2-3-grams (within words).

Character n-grams need no tokenizer, work the same for Hangul and Latin script, and tolerate typos and
Korean particles ("가슴이" and "가슴" share "가슴"); they complement e5, whose cross-lingual and
colloquial matching is imperfect on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Case-folded text with whitespace runs collapsed."""
    return _SPACE.sub(" ", text.casefold())


class LexicalIndex:
    """Cosine similarity between a query and every indexed text, in [0, 1]."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, preprocessor=normalize, dtype=np.float32
        )
        # column-major: a query touches few n-gram columns, so scoring is one small slice and a product
        self._matrix = self._vectorizer.fit_transform(texts).tocsc() if any(t.strip() for t in texts) else None

    def scores(self, query: str) -> np.ndarray:
        """(size,) float32 similarities of ``query`` to each text (zeros when nothing is indexed)."""
        if self._matrix is None:
            return np.zeros(self.size, dtype=np.float32)
        query_vector = self._vectorizer.transform([query])
        return np.asarray(self._matrix[:, query_vector.indices] @ query_vector.data, dtype=np.float32)
