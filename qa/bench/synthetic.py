"""Synthetic data for the scale part of `qa bench`: word salad drawn from the corpus's vocabulary
(plus a Zipf background) and vectors shaped like sentence embeddings, so the real build pipeline
can index a million chunks without hours of embedding."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.bench.common import PIECES_PER_DOC


class SyntheticVectors:
    """Seeded unit vectors shaped like sentence embeddings: topic clusters on a low-dimensional
    subspace plus isotropic noise. (Uniformly random 384-d vectors have no neighbourhood structure
    at all: every point is nearly equidistant, which no real embedding model produces.)"""

    def __init__(self, n_topics: int, dim: int = 384, latent: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim, self.latent = dim, latent
        self.basis = np.linalg.qr(rng.standard_normal((dim, latent)))[0].T.astype(
            np.float32
        )  # (latent, dim)
        c = rng.standard_normal((max(1, n_topics), latent)).astype(np.float32)
        self.centers = c / np.linalg.norm(c, axis=1, keepdims=True)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), dtype=np.float32)
        for s in range(0, n, 65_536):
            m = min(65_536, n - s)
            t = rng.integers(len(self.centers), size=m)
            z = self.centers[t] + rng.standard_normal((m, self.latent), dtype=np.float32) * (
                1.2 / self.latent**0.5
            )
            v = z @ self.basis + rng.standard_normal((m, self.dim), dtype=np.float32) * (
                0.25 / self.dim**0.5
            )
            out[s : s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def n_topics_for(n: int) -> int:
    """Topics grow with the corpus. With these settings a query's nearest neighbour has cosine ~0.6
    and its 10th ~0.55, about what all-MiniLM-L6-v2 gives for news questions."""
    return max(16, n // 200)


def _vocabulary(corpus_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    text = " ".join(
        p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus_dir.glob("*.txt"))
    )
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text))
    if len(counts) < 50:  # an almost empty corpus: fall back to a fixed list
        counts.update(
            [
                "the",
                "of",
                "and",
                "to",
                "in",
                "a",
                "report",
                "said",
                "officials",
                "troops",
                "border",
                "city",
                "market",
                "water",
                "energy",
            ]
        )
    words = np.array(sorted(counts))
    p = np.array([counts[w] for w in words], dtype=np.float64)
    return words, p / p.sum()


TOPIC_SHARE = 0.05  # share of synthetic words drawn from the corpus's own vocabulary
BACKGROUND_WORDS = 200_000  # the rest: a Zipf vocabulary of pseudo-words


def _pseudo_words(n: int) -> list[str]:
    """n distinct letter-only pseudo-words ("kabo", "tuzeli"...): consonant-vowel syllables."""
    cons, vows = "bdfgklmnprstvz", "aeiou"
    syll = [c + v for c in cons for v in vows]  # 70 syllables
    out = []
    for i in range(n):
        w, j = "", i + len(syll)  # at least two syllables
        while j:
            j, r = divmod(j, len(syll))
            w += syll[r]
        out.append(w + "q")  # a final q: never an English word, a stop word or a corpus word
    return out


def synthetic_vocabulary(
    corpus_dir: Path, topic_share: float = TOPIC_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """(words, cdf) of synthetic text: mostly a Zipf background, partly the corpus's own words.

    Why a background: a real million-chunk corpus has hundreds of thousands of word types (Heaps'
    law), so a question's content words sit in a few percent of chunks. Word salad from the four
    articles' ~3,500 words alone would put "north" in 58% of chunks, making every BM25 posting
    list about 20x longer than in real text (`--topic-share 1` measures that worst case).
    """
    words, p = _vocabulary(corpus_dir)
    if topic_share < 1:
        ranks = np.arange(1, BACKGROUND_WORDS + 1, dtype=np.float64)
        zipf = 1.0 / ranks
        words = np.concatenate([words, np.array(_pseudo_words(BACKGROUND_WORDS))])
        p = np.concatenate([p * topic_share, zipf / zipf.sum() * (1 - topic_share)])
    cdf = np.cumsum(p)
    return words, cdf / cdf[-1]


def _phrase(rng: np.random.Generator, words: np.ndarray, cdf: np.ndarray, lo: int, hi: int) -> str:
    target = int(rng.integers(lo, hi))
    out, size = [], 0
    for w in words[np.minimum(np.searchsorted(cdf, rng.random(60)), len(words) - 1)]:
        if size + len(w) + 1 > hi - 2:
            break
        out.append(w)
        size += len(w) + 1
        if size >= target:
            break
    s = " ".join(out)
    return s[:1].upper() + s[1:] + "."


def write_synthetic_corpus(
    corpus_dir: Path,
    n_pieces: int,
    vocab_dir: Path,
    seed: int = 0,
    topic_share: float = TOPIC_SHARE,
) -> list[tuple[str, str]]:
    """Write documents holding `n_pieces` paragraphs (titles included) into `corpus_dir`.

    Returns the embed text of every piece in order (what the model would read for its chunk), so a
    vector table can be keyed by it. Each paragraph is one chunk at SCALE_CHUNK_SIZE.
    """
    words, p = synthetic_vocabulary(vocab_dir, topic_share)
    rng = np.random.default_rng(seed)
    texts: list[tuple[str, str]] = []
    d = 0
    while len(texts) < n_pieces:
        m = min(PIECES_PER_DOC, n_pieces - len(texts))
        title = f"Synthetic report {d}: " + _phrase(rng, words, p, 80, 99)[:-1]
        title = title[:99].rstrip()  # as the loader reads it (first line, stripped)
        paras = [_phrase(rng, words, p, 110, 199) for _ in range(m - 1)]
        name = f"syn_{d:06d}.txt"
        (corpus_dir / name).write_text("\n\n".join([title, *paras]) + "\n", encoding="utf-8")
        texts.append((name, title))
        texts.extend((name, f"{title}\n{para}") for para in paras)
        d += 1
    return texts


class SyntheticEmbedder:
    """Synthetic vectors for the synthetic paragraphs; the real model for everything else.

    Lets `build_index` run its real pipeline at a million chunks without hours of embedding.
    """

    def __init__(self, real, table: dict[str, int], vectors: np.ndarray) -> None:
        self.real = real
        self.name = real.name
        self.settings = real.settings
        self.table = table
        self.vectors = vectors

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, batch_size: int | None = None
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        real = [i for i, t in enumerate(texts) if t not in self.table]
        for i, t in enumerate(texts):
            row = self.table.get(t)
            if row is not None:
                out[i] = self.vectors[row]
        if real:
            out[real] = self.real.encode([texts[i] for i in real])
        return out

    def encode_with_spans(self, texts: Sequence[str], spans) -> tuple[np.ndarray, list[np.ndarray]]:
        """A synthetic paragraph is one sentence: its sentence vector is the paragraph's."""
        out = (
            self.encode([t for t in texts if t in self.table])
            if any(t in self.table for t in texts)
            else None
        )
        real = [i for i, t in enumerate(texts) if t not in self.table]
        vecs = np.empty((len(texts), self.dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        if real:
            rv, rp = self.real.encode_with_spans([texts[i] for i in real], [spans[i] for i in real])
            vecs[real] = rv
            for i, p in zip(real, rp, strict=True):
                pooled[i] = p
        syn = [i for i, t in enumerate(texts) if t in self.table]
        if syn and out is not None:
            vecs[syn] = out
            for i in syn:
                pooled[i] = np.repeat(vecs[i][None], len(spans[i]), axis=0)
        return vecs, pooled


def word_queries(corpus_dir: Path, n: int, seed: int) -> list[str]:
    """Queries of 3-6 words drawn by corpus frequency: only common words, BM25's hardest case."""
    words, p = _vocabulary(corpus_dir)
    rng = np.random.default_rng(seed + 11)
    return [" ".join(rng.choice(words, size=int(rng.integers(3, 7)), p=p)) for _ in range(n)]
