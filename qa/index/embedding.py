"""The embedding step of a build: cached rows reused, new chunks embedded, one sentence table.

`embed_new` is the only part that runs the model (the unit a distributed runner would replace);
`assemble` puts cached and new rows together in chunk order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from qa.corpus import Chunk
from qa.index.tables import SentenceTable

EMBED_SLICE = 128  # chunks per embedding step: the unit of progress and of splitting ahead
Report = Callable[[str, int, int], object]
NewRows = dict[
    int, tuple[list[tuple[int, int]], np.ndarray, np.ndarray]
]  # id -> spans, vec, sentence vecs


@dataclass(frozen=True)
class Cache:
    """The current generation's vectors and sentences, by chunk key (reused when a chunk is unchanged)."""

    rows: dict[str, int]
    vectors: np.ndarray
    sentences: SentenceTable


def cached_rows(keys: Sequence[str], cache: Cache | None) -> np.ndarray:
    """For each chunk, its row in the cache, or -1 when it must be embedded."""
    rows = cache.rows if cache is not None else {}
    return np.array([rows.get(k, -1) for k in keys], dtype=np.int64)


def embed_new(chunks: Sequence[Chunk], todo: Sequence[int], embedder, report: Report) -> NewRows:
    """Vectors, quotable sentence spans and sentence vectors of the chunks `todo`.

    A chunk's sentences are split (pysbd) and pooled from the chunk's own forward pass
    (`Embedder.encode_with_spans`): no extra model work per sentence. The next slice is split in a
    thread while the model embeds this one (ONNX Runtime releases the GIL), which hides most of
    pysbd's ~3 ms a chunk. Longest first, as SentenceTransformer.encode orders one call: batches of
    similar length pad little, so slices (for progress) run as fast as one big call.
    """
    from qa.embed import embed_chunks, embed_text
    from qa.sentences import quotable_spans

    order = sorted(todo, key=lambda i: -len(embed_text(chunks[i])))
    slices = [order[s : s + EMBED_SLICE] for s in range(0, len(order), EMBED_SLICE)]
    out: NewRows = {}

    def split(ids: list[int]) -> list[list[tuple[int, int]]]:
        return [quotable_spans(chunks[i]) for i in ids]

    with ThreadPoolExecutor(1, thread_name_prefix="qa-split") as pool:
        ahead = pool.submit(split, slices[0]) if slices else None
        for k, ids in enumerate(slices):
            report("embedding", k * EMBED_SLICE, len(order))
            assert ahead is not None
            spans_now = ahead.result()
            if k + 1 < len(slices):
                ahead = pool.submit(split, slices[k + 1])
            vecs, pooled = embed_chunks(embedder, [chunks[i] for i in ids], spans_now)
            for i, sp, v, p in zip(ids, spans_now, vecs, pooled, strict=True):
                out[i] = (sp, v, p.astype(np.float16))
    report("embedding", len(order), len(order))
    return out


def _concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """np.concatenate([arange(s, s + c) for s, c in zip(starts, counts)]), without the Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0 or counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - firsts, counts) + np.arange(
        int(counts.sum())
    )


def assemble(
    n: int, dim: int, old: np.ndarray, cache: Cache | None, new: NewRows
) -> tuple[np.ndarray, SentenceTable]:
    """Chunk vectors and the sentence table in chunk order, from cached rows and new ones."""
    hit = np.flatnonzero(old >= 0)
    vectors = np.zeros((n, dim), dtype=np.float32)
    counts = np.zeros(n, dtype=np.int64)
    if cache is not None and hit.size:
        counts[hit] = np.diff(cache.sentences.ptr)[old[hit]]
    for i, (sp, _, _) in new.items():
        counts[i] = len(sp)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    spans = np.zeros((int(ptr[-1]), 2), dtype=np.int32)
    svecs = np.zeros((int(ptr[-1]), dim), dtype=np.float16)
    if cache is not None and hit.size:
        vectors[hit] = cache.vectors[old[hit]]
        src = _concat_ranges(cache.sentences.ptr[old[hit]], counts[hit])
        dst = _concat_ranges(ptr[hit], counts[hit])
        spans[dst] = cache.sentences.spans[src]
        svecs[dst] = np.asarray(cache.sentences.vectors[src])
    for i, (sp, v, p) in new.items():
        vectors[i] = v
        if sp:
            spans[ptr[i] : ptr[i + 1]] = sp
            svecs[ptr[i] : ptr[i + 1]] = p
    return vectors, SentenceTable(ptr, spans, svecs)
