"""How close two counted words are ("troops" ~ "soldiers"), by the embedding model, cached per word.

Why the model: news says the same thing with different words, and a topic word list would not
carry to another corpus. Single words embed in one small batch; the cache keeps repeated words free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

MAX_CACHED = 50_000
_cache: dict[tuple[str, str], np.ndarray] = {}
_lock = threading.Lock()


def word_vectors(words: Iterable[str], embedder) -> dict[str, np.ndarray]:
    """Unit vectors of `words` from `embedder` (one batch for the ones not cached yet)."""
    name = str(getattr(embedder, "name", type(embedder).__name__))
    wanted = list(dict.fromkeys(w.lower() for w in words if w))
    with _lock:
        missing = [w for w in wanted if (name, w) not in _cache]
    if missing:
        vecs = np.asarray(embedder.encode(missing), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = vecs / np.where(norms > 0, norms, 1.0)
        with _lock:
            if len(_cache) + len(missing) > MAX_CACHED:
                _cache.clear()
            _cache.update({(name, w): v for w, v in zip(missing, vecs, strict=True)})
    with _lock:
        return {w: _cache[(name, w)] for w in wanted if (name, w) in _cache}


def closeness(word: str, others: Iterable[str], embedder) -> dict[str, float]:
    """Cosine of `word` with each of `others` (lower case keys); empty without an embedder."""
    others = [o for o in others if o]
    if embedder is None or not word or not others:
        return {}
    vecs = word_vectors([word, *others], embedder)
    w = vecs.get(word.lower())
    if w is None:
        return {}
    return {o.lower(): float(vecs[o.lower()] @ w) for o in others if o.lower() in vecs}
