"""qa.index.dense: the IVF shape chosen for n chunks, and the approximate search it gives.

Small IVF indexes (a few thousand seeded vectors, `ann_threshold` lowered) built with the same
factory as a real build: an indexed vector finds itself first, an index written before the
parallel scan was set reads back with it and answers the same, and a wide source filter searched
through faiss (not the exact fallback) keeps to the allowed chunks.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa.bench.synthetic import SyntheticVectors
from qa.config import Settings
from qa.index import dense
from qa.index.dense import ann_params, make_faiss_index

faiss = dense._faiss()  # as qa loads it: idle OpenMP threads sleep (fast on a busy machine too)


@pytest.mark.parametrize(
    ("n", "nlist", "nprobe"),
    [
        (1_000_000, 1000, 250),  # the 1M bench: sqrt(n) lists, a quarter probed
        (100_000, 316, 79),
        (50_000, 224, 56),
        (4_000, 63, 16),  # nprobe never below 16
        (100, 16, 16),  # at least 16 lists (all probed)
        (10**8, 4096, 1024),  # lists capped at 4096
    ],
)
def test_ann_params_shape(n, nlist, nprobe):
    assert ann_params(n) == (nlist, nprobe)


def test_probed_share_is_a_quarter_from_64_lists():
    for n in (5_000, 20_000, 250_000, 1_000_000, 4_000_000):
        nlist, nprobe = ann_params(n)
        assert nlist == round(n**0.5) and nprobe == nlist // 4


@pytest.fixture(scope="module")
def ivf():
    """4,000 unit vectors in 40 topics and an IVF index over them (threshold lowered to 2,000)."""
    vectors = SyntheticVectors(40, dim=64, seed=5).sample(4_000, seed=6)
    index, kind = make_faiss_index(vectors, Settings().with_(ann_threshold=2_000))
    return vectors, index, kind


def test_ivf_finds_an_indexed_vector_first(ivf):
    vectors, index, kind = ivf
    assert kind == "IVF63,PQ32x4fs(nprobe=16)+rerank"
    assert index.nprobe == 16 and index.implem == dense.SCAN_IMPLEM
    found = 0
    for i in range(0, 4_000, 97):
        hits = dense.search(index, vectors, True, vectors[i], 10)
        assert hits[0][0] == i and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        ids = np.array([c for c, _ in hits])
        assert [s for _, s in hits] == pytest.approx(vectors[ids] @ vectors[i], abs=1e-5)
        found += len(set(ids) & set(np.argsort(-(vectors @ vectors[i]))[:10]))
    assert found >= 0.9 * 10 * len(range(0, 4_000, 97))  # recall@10 against brute force


def test_index_written_without_parallel_scan_reads_with_it(ivf, tmp_path):
    vectors, index, _ = ivf
    old = faiss.clone_index(index)
    old.implem = 0  # as an index written before SCAN_IMPLEM
    faiss.write_index(old, str(tmp_path / dense.FAISS_FILE))
    read = dense.read(tmp_path)
    assert read.implem == dense.SCAN_IMPLEM and read.nprobe == 16 and read.nlist == 63
    for q in SyntheticVectors(40, dim=64, seed=5).sample(20, seed=7):
        want = dense.search(old, vectors, True, q, 10)
        assert dense.search(read, vectors, True, q, 10) == want


def test_wide_filter_searched_through_faiss_keeps_to_allowed(ivf, monkeypatch):
    vectors, index, _ = ivf
    monkeypatch.setattr(dense, "EXACT_FILTER_MAX", 0)  # no exact fallback: faiss's selector
    mask = np.zeros(len(vectors), dtype=bool)
    mask[::3] = True
    for i in (0, 1, 2, 300, 301):
        hits = dense.search(index, vectors, True, vectors[i], 10, mask)
        assert hits and all(mask[c] for c, _ in hits)
        if mask[i]:
            assert hits[0][0] == i
