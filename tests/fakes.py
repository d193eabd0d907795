"""A deterministic fake embedder for unit tests: no model, no download, same vectors every run.

Each word is hashed (sha256, not Python's salted `hash`) to a fixed random unit vector; a text's
vector is the normalized sum of its words' vectors. Texts sharing words are therefore close, which
is all retrieval and sentence scoring need to be exercised without MiniLM.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Same interface as `qa.embed.Embedder` (name, dim, encode, encode_with_spans)."""

    name = "fake-hash-embedder"
    backend = "fake"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self._cache: dict[str, np.ndarray] = {}

    def _word(self, word: str) -> np.ndarray:
        v = self._cache.get(word)
        if v is None:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            self._cache[word] = v
        return v

    def _vec(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        v = np.zeros(self.dim, dtype=np.float32)
        for w in words:
            v += self._word(w)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def encode(self, texts: Sequence[str], **_: object) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vec(t) for t in texts]).astype(np.float32)

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        vecs = self.encode(texts)
        pooled = [
            self.encode([t[a:b] for a, b in sp]).reshape(len(sp), self.dim)
            for t, sp in zip(texts, spans, strict=True)
        ]
        return vecs, pooled
