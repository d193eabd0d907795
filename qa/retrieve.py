"""Hybrid retrieval: dense (FAISS) + BM25, fused by reciprocal rank fusion that keeps each side's best.

With a small rrf_k a chunk ranked 1st by one side but outside the other side's top 20 drops out of the
top 5, though one side being sure of it is worth keeping (BM25's 1st chunk holds a news-quiz answer far
more often than dense's). So after fusing, each side's top chunk is moved up into the first KEEP_WITHIN
places when fusion left it below. Fusion is a pure function on rankings so it can be tested and reused
(the BEIR runner uses the same code).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.config import Settings
from qa.corpus import Chunk
from qa.index import Index


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # the fused score that ranked it
    relevance: (
        float  # cosine similarity of query and chunk: comparable across modes, drives abstention
    )
    dense_rank: int | None = None
    bm25_rank: int | None = None


def rrf(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = 60
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1. Ties keep first-seen order."""
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


KEEP_WITHIN = 5  # each side's top chunk is among the first KEEP_WITHIN fused hits


def keep_tops(
    fused: list[tuple[int, float]], rankings: Sequence[Sequence[int]], within: int = KEEP_WITHIN
) -> list[tuple[int, float]]:
    """`fused` with each ranking's first item moved up to place `within` when fusion put it lower.

    The moved item takes the score of the item it lands before, so scores stay non-increasing."""
    out = list(fused)
    for ranking in rankings:
        if not ranking:
            continue
        pos = next((i for i, (d, _) in enumerate(out) if d == ranking[0]), None)
        if pos is None or pos < within:
            continue
        item = out.pop(pos)
        at = within - 1
        out.insert(at, (item[0], out[at][1] if at < len(out) else item[1]))
    return out


class Retriever:
    def __init__(self, index: Index, embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        mode: str | None = None,
        sources: Sequence[str] | None = None,
        qvec: np.ndarray | Callable[[], np.ndarray] | None = None,
    ) -> list[Hit]:
        """Top-k chunks for `query`, best first. `sources` restricts to those document ids.

        `qvec` may be a function giving the question's vector (e.g. a future's `result`): BM25 runs
        first, so a question embedded on another thread is embedded while BM25 searches."""
        s = self.settings
        k = k or s.k
        mode = mode or s.mode
        n = max(k * s.fetch_factor, k)
        mask = self.index.mask_for(sources)
        sparse = self.index.bm25_search(query, n, mask) if mode in ("bm25", "hybrid") else []
        if qvec is None:
            qvec = self.embedder.encode([query])[0]
        elif callable(qvec):
            qvec = qvec()
        dense = self.index.dense_search(qvec, n, mask) if mode in ("dense", "hybrid") else []
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        bm25_rank = {cid: r for r, (cid, _) in enumerate(sparse, start=1)}
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = sparse
        else:
            rankings = [[c for c, _ in dense], [c for c, _ in sparse]]
            fused = keep_tops(rrf(rankings, [s.dense_weight, s.bm25_weight], s.rrf_k), rankings)
        fused = fused[:k]
        ids = [cid for cid, _ in fused]
        rel = self.index.cosine(qvec, ids)
        return [
            Hit(
                self.index.chunks[cid],
                float(score),
                float(r),
                dense_rank.get(cid),
                bm25_rank.get(cid),
            )
            for (cid, score), r in zip(fused, rel, strict=True)
        ]
