"""Retrieval: RRF against a brute-force reference, and each mode through the real index."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.retrieve import Retriever, rrf


def rrf_reference(rankings, weights, k):
    """Straight from the definition: every document, every ranking, position looked up by search."""
    seen: list[int] = []
    for ranking in rankings:
        for d in ranking:
            if d not in seen:
                seen.append(d)
    scores = {}
    for d in seen:
        total = 0.0
        for ranking, w in zip(rankings, weights, strict=True):
            if d in ranking:
                total += w / (k + ranking.index(d) + 1)
        scores[d] = total
    # best score first; equal scores keep the order documents were first seen in
    return sorted(((d, scores[d]) for d in seen), key=lambda kv: (-kv[1], seen.index(kv[0])))


rankings_st = st.lists(
    st.lists(st.integers(0, 40), max_size=25, unique=True), min_size=1, max_size=4
)


@settings(max_examples=300, deadline=None)
@given(rankings=rankings_st, data=st.data(), k=st.integers(1, 100))
def test_rrf_matches_brute_force(rankings, data, k):
    weights = data.draw(
        st.lists(st.floats(0.0, 3.0), min_size=len(rankings), max_size=len(rankings))
    )
    got = rrf(rankings, weights, k)
    want = rrf_reference(rankings, weights, k)
    assert [d for d, _ in got] == [d for d, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want])


def test_rrf_examples():
    # a document ranked well by both beats one ranked first by only one
    fused = rrf([[1, 2, 3], [2, 3, 1]], k=60)
    assert [d for d, _ in fused] == [2, 1, 3]
    # a zero weight silences that ranking
    assert [d for d, _ in rrf([[1, 2], [2, 1]], [1.0, 0.0], k=60)] == [1, 2]
    assert rrf([], []) == []
    with pytest.raises(ValueError):
        rrf([[1]], [1.0, 2.0])


def _retriever(engine, **changes):
    return Retriever(engine.index, engine.embedder, engine.settings.with_(**changes))


def test_modes_are_what_they_say(engine):
    """dense = FAISS order, bm25 = BM25 order, hybrid = RRF of both candidate lists; all through search()."""
    q = "How many North Korean soldiers were killed or wounded?"
    s = engine.settings
    r = _retriever(engine)
    qvec = engine.embedder.encode([q])[0]
    k = 5
    n = k * s.fetch_factor
    dense = engine.index.dense_search(qvec, n)
    sparse = engine.index.bm25_search(q, n)
    assert dense and sparse

    got_dense = r.search(q, k, mode="dense", qvec=qvec)
    assert [h.chunk.chunk_id for h in got_dense] == [c for c, _ in dense[:k]]
    assert all(h.bm25_rank is None for h in got_dense)
    # relevance is the true cosine whatever the mode
    assert [h.relevance for h in got_dense] == pytest.approx([sc for _, sc in dense[:k]], abs=1e-5)

    got_bm25 = r.search(q, k, mode="bm25", qvec=qvec)
    assert [h.chunk.chunk_id for h in got_bm25] == [c for c, _ in sparse[:k]]

    got_hybrid = r.search(q, k, mode="hybrid", qvec=qvec)
    want = rrf(
        [[c for c, _ in dense], [c for c, _ in sparse]], [s.dense_weight, s.bm25_weight], s.rrf_k
    )[:k]
    assert [h.chunk.chunk_id for h in got_hybrid] == [c for c, _ in want]
    for h in got_hybrid:
        assert h.dense_rank is not None or h.bm25_rank is not None


def test_fusion_weights_steer_hybrid(engine):
    q = "Ryu Seong-hyeon minefield"
    qvec = engine.embedder.encode([q])[0]
    only_dense = _retriever(engine, bm25_weight=0.0).search(q, 5, mode="hybrid", qvec=qvec)
    dense = _retriever(engine).search(q, 5, mode="dense", qvec=qvec)
    assert [h.chunk.chunk_id for h in only_dense] == [h.chunk.chunk_id for h in dense]
    only_bm25 = _retriever(engine, dense_weight=0.0).search(q, 5, mode="hybrid", qvec=qvec)
    bm25 = _retriever(engine).search(q, 5, mode="bm25", qvec=qvec)
    assert [h.chunk.chunk_id for h in only_bm25] == [h.chunk.chunk_id for h in bm25]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_named_defector(engine, mode):
    hits = _retriever(engine).search("Which defector spoke to ABC News?", 3, mode=mode)
    assert hits[0].chunk.doc_id.startswith("002_")


def test_sources_restrict_every_mode(engine):
    only = ["003_56f3c575adb43a3c.txt"]
    for mode in ("dense", "bm25", "hybrid"):
        hits = _retriever(engine).search(
            "North Korean soldiers captured", 5, mode=mode, sources=only
        )
        assert hits and {h.chunk.doc_id for h in hits} == set(only)


def test_cli_mode_option(real_settings):
    from click.testing import CliRunner

    from qa.cli import cli

    args = ["--corpus", str(real_settings.corpus_dir), "--index", str(real_settings.index_dir)]
    out = {}
    for mode in ("dense", "bm25"):
        res = CliRunner().invoke(
            cli, [*args, "ask", "--json", "--mode", mode, "--k", "3", "Who is Pak Yusung?"]
        )
        assert res.exit_code == 0, res.output
        out[mode] = json.loads(res.output)
        assert out[mode]["citations"][0]["source"].startswith("002_")
    bad = CliRunner().invoke(cli, [*args, "ask", "--mode", "fuzzy", "x"])
    assert bad.exit_code != 0 and "fuzzy" in bad.output
