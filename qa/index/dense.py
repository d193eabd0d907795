"""Dense search: the FAISS index of chunk vectors (exact below `ann_threshold`, IVF-PQ above).

faiss is imported inside the functions (`_faiss`): importing qa.index stays cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qa.config import Settings

# Approximate search: candidates fetched per wanted result, then re-ranked exactly from vectors.npy.
RERANK_FACTOR = 4
RERANK_MIN = 64
# A source filter allowing at most this many chunks is searched exactly (brute force over those rows).
EXACT_FILTER_MAX = 32_768
FAISS_FILE = "faiss.index"
# faiss's fast-scan search implementation 14 splits one query's probed lists over the OpenMP
# threads; the default (0) scans them on one thread. Measured at 1M chunks (nprobe 250, 2 cores):
# dense search p50 4.9 -> 2.1 ms, same results; as many searches a second from 2-8 threads.
SCAN_IMPLEM = 14


def _faiss():
    """faiss, its OpenMP threads set to sleep rather than spin while idle (unless the environment
    says otherwise; read once, when faiss's own libgomp loads).

    Why: a search splits its lists over two threads (`SCAN_IMPLEM`). With the default spin-wait,
    when another process keeps the cores busy the waiting thread spins through the other's time
    slice: measured at 1M during a build, dense search p50 36.7 ms spinning against 5.2 ms
    sleeping (8.6 ms for the one-thread scan); a 4k-vector IVF build 9.1 s against 0.6 s. Idle,
    a wake-up costs ~0.5 ms a search and ~20% on the FAISS part of a build (docs/performance.md)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    return faiss


def ann_params(n: int) -> tuple[int, int]:
    """(nlist, nprobe) of the IVF index for n chunks: ~sqrt(n) lists of ~sqrt(n) chunks, 1/4 probed.

    Fast-scan codes make probing cheap (~2 ms for 250k codes), so we buy recall with a wide probe.
    More lists with a smaller share probed (4096 at 1M) kept synthetic recall but lost real
    questions' (0.78-0.90 against 0.98 in `qa bench`): see docs/performance.md."""
    nlist = int(min(max(round(n**0.5), 16), 4096))
    return nlist, int(min(max(nlist // 4, 16), nlist))


def make_faiss_index(vectors: np.ndarray, settings: Settings):
    """Exact inner product below `ann_threshold` chunks; IVF with 4-bit fast-scan PQ codes above.

    Why: at 1M x 384 a flat scan costs ~50 ms a query on 2 cores, and HNSWFlat needs ~1.8 GB of RAM
    and a long build. IVF-PQ fast-scan keeps dim/4 bytes a chunk (96 MB at 1M), trains on a sample
    in seconds, and scans the probed lists in about a millisecond. Its scores are rough, so
    `search` re-ranks a wider candidate set exactly from vectors.npy: returned scores are
    true cosines. Measured at 1M (nprobe 250, 80 candidates re-ranked): recall@10 against exact
    search 0.947 with 4 dims a sub-quantizer, 0.987 with 2 (0.908 -> 0.983 for real questions), for
    +1 ms. `qa bench` reports recall@10 against exact search.
    """
    faiss = _faiss()

    n, dim = vectors.shape
    if n < max(settings.ann_threshold, 1024):  # IVF needs enough points to train its lists
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return index, "FlatIP"
    nlist, nprobe = ann_params(n)
    codes = f"PQ{dim // 2}x4fs" if dim % 8 == 0 else "SQ8"  # 2 dims a sub-quantizer: see above
    index = faiss.index_factory(dim, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # unit vectors: centroids stay on the sphere
    index.cp.niter = 12
    index.cp.seed = 1234
    index.cp.max_points_per_centroid = 48
    sample = np.sort(np.random.default_rng(1234).choice(n, size=min(n, nlist * 48), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    step = 65_536
    for s in range(0, n, step):
        index.add(np.ascontiguousarray(vectors[s : s + step], dtype=np.float32))
    index.nprobe = nprobe
    return _tuned(index), f"IVF{nlist},{codes}(nprobe={nprobe})+rerank"


def _tuned(index):
    """The index with the parallel scan set when it is an IVF fast-scan index (a search-time
    choice: an index written before it existed gets it when read, its lists and nprobe unchanged)."""
    if hasattr(index, "implem") and hasattr(index, "nprobe"):
        index.implem = SCAN_IMPLEM
    return index


def write(root: Path, vectors: np.ndarray, settings: Settings) -> str:
    """vectors.npy and faiss.index of a generation; returns the index type."""
    faiss = _faiss()

    np.save(root / "vectors.npy", vectors)
    index, kind = make_faiss_index(vectors, settings)
    faiss.write_index(index, str(root / FAISS_FILE))
    return kind


def read(root: Path):
    faiss = _faiss()

    return _tuned(faiss.read_index(str(root / FAISS_FILE)))


def search(
    fidx, vectors, approximate: bool, qvec: np.ndarray, n: int, mask: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Top-n (chunk id, cosine) by inner product, optionally restricted to a mask.

    Exact on a flat index. On an approximate one, a wider candidate set is re-ranked with the
    exact vectors, so returned scores are always true cosines; a narrow filter is searched exactly.
    """
    faiss = _faiss()

    total = int(fidx.ntotal)
    n = min(n, total)
    if n <= 0:
        return []
    q = np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32)
    params = None
    if mask is not None:
        allowed = np.flatnonzero(mask)
        if allowed.size == 0:
            return []
        n = min(n, allowed.size)
        if approximate and allowed.size <= EXACT_FILTER_MAX:
            return exact(vectors, q[0], allowed, n)
        bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
        sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        if approximate:
            params = faiss.SearchParametersIVF(sel=sel, nprobe=fidx.nprobe)
        else:
            params = faiss.SearchParameters(sel=sel)
    m = min(max(n * RERANK_FACTOR, RERANK_MIN), total) if approximate else n
    scores, ids = fidx.search(q, m, params=params) if params else fidx.search(q, m)
    if not approximate:
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    return exact(vectors, q[0], np.sort(ids[0][ids[0] >= 0]), n)


def exact(vectors, q: np.ndarray, ids: np.ndarray, n: int) -> list[tuple[int, float]]:
    """Exact top-n among the given chunk ids (sorted ids read the row file in order)."""
    if ids.size == 0:
        return []
    scores = np.asarray(vectors[ids] @ q, dtype=np.float32)
    top = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    top = top[np.lexsort((ids[top], -scores[top]))]
    return [(int(ids[t]), float(scores[t])) for t in top]
