"""Lexical side of hybrid retrieval: TF-IDF indexes over character n-grams and over English words.

Character 2-3-grams (within words) need no tokenizer, work the same for Hangul and Latin script, and tolerate
typos and Korean particles ("가슴이" and "가슴" share "가슴"); they complement e5, whose cross-lingual and
colloquial matching is imperfect on its own. They also credit fragments shared by unrelated English words
("heartburn" and "burns"), so whole English words are indexed separately: the retriever adds a little of
that exact-word similarity when it ranks. Korean words are left to the n-grams: with particles attached
("속쓰림이", "속쓰림은") exact Korean words rarely match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

_SPACE = re.compile(r"\s+")
_ENGLISH_WORD = r"\b[a-z]{2,}\b"  # after case folding


def normalize(text: str) -> str:
    """Case-folded text with whitespace runs collapsed."""
    return _SPACE.sub(" ", text.casefold())


class LexicalIndex:
    """Cosine similarity between a query and every indexed text, in [0, 1]: over character 2-3-grams, or
    over English words (``words=True``)."""

    def __init__(self, texts: Sequence[str], words: bool = False) -> None:
        self.size = len(texts)
        if words:
            self._vectorizer = TfidfVectorizer(analyzer="word", token_pattern=_ENGLISH_WORD, sublinear_tf=True,
                                               preprocessor=normalize, dtype=np.float32)
        else:
            self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True,
                                               preprocessor=normalize, dtype=np.float32)
        # column-major: a query touches few columns, so scoring is one small slice and a product
        try:
            self._matrix = self._vectorizer.fit_transform(texts).tocsc()
        except ValueError:  # nothing to index (no texts, or no English word in them)
            self._matrix = None

    def scores(self, query: str) -> np.ndarray:
        """(size,) float32 similarities of ``query`` to each text (zeros when nothing is indexed)."""
        if self._matrix is None:
            return np.zeros(self.size, dtype=np.float32)
        query_vector = self._vectorizer.transform([query])
        return np.asarray(self._matrix[:, query_vector.indices] @ query_vector.data, dtype=np.float32)
