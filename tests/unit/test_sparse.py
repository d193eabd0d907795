"""qa.index.sparse: the early-stopping top-k must return exactly what brute force returns.

Every path is checked against `full_scores` + a plain sort: the threshold algorithm alone (many
rounds), the automatic choice, the full-sum fallback (with and without a score floor), and the
narrow-filter path, on random matrices with tied weights, heavy-tailed posting lengths, a term in
almost every doc, repeated query terms and masks; then on a real bm25s index.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.index import sparse

MODES = ["auto", "threshold", "full", "narrow"]


def make_matrix(
    rng: np.random.Generator, num_docs: int, vocab: int, per_doc: int, levels: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bm25s-like CSC matrix: Zipf term frequencies, term 0 in ~every doc, doc-sorted postings.

    `levels` quantizes the weights to that many values (many exact ties); None keeps them all
    distinct-ish floats.
    """
    p = 1.0 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()
    lens = rng.integers(1, 2 * per_doc, num_docs)
    docs = np.repeat(np.arange(num_docs), lens)
    terms = rng.choice(vocab, size=docs.size, p=p)
    common = rng.random(num_docs) < 0.97  # term 0: shared by nearly all docs
    docs = np.concatenate([docs, np.flatnonzero(common)])
    terms = np.concatenate([terms, np.zeros(int(common.sum()), dtype=terms.dtype)])
    key = np.unique(terms.astype(np.int64) * num_docs + docs)  # one posting per (term, doc)
    t, d = key // num_docs, key % num_docs
    idf = np.log1p(num_docs / (np.bincount(t, minlength=vocab) + 0.5))
    w = idf[t] * rng.uniform(0.2, 2.2, t.size)
    if levels is not None:
        w = np.ceil(w * levels / w.max()) / levels * w.max()
    indptr = np.zeros(vocab + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=vocab), out=indptr[1:])
    return indptr, d.astype(np.int32), w.astype(np.float32)


def brute(terms, n, indptr, indices, data, num_docs, mask=None) -> list[tuple[int, float]]:
    """The reference: every doc scored, ranked by score descending then id ascending."""
    scores = sparse.full_scores(terms, indptr, indices, data, num_docs)
    cand = np.flatnonzero(scores > 0)
    if mask is not None:
        cand = cand[mask[cand]]
    order = np.lexsort((cand, -scores[cand]))[:n]
    return [(int(cand[i]), float(scores[cand[i]])) for i in order]


def use_mode(monkeypatch, mode: str) -> None:
    """Force one path of `topk` by changing its cost constants."""
    if mode == "threshold":  # never give up on early stopping; tiny first depth: many rounds
        monkeypatch.setattr(sparse, "_FIRST_DEPTH", 1)
        monkeypatch.setattr(sparse, "_CANDIDATE_COST", 0.0)
        monkeypatch.setattr(sparse, "_LOOKUP_COST", 0.0)
        monkeypatch.setattr(sparse, "_DIRECT_COST", math.inf)
    elif mode == "full":  # sum every posting at once, in slices smaller than the doc range
        monkeypatch.setattr(sparse, "_CANDIDATE_COST", math.inf)
        monkeypatch.setattr(sparse, "_DIRECT_COST", math.inf)
        monkeypatch.setattr(sparse, "_SLICE", 64)
    elif mode == "narrow":  # any mask is scored doc by doc
        monkeypatch.setattr(sparse, "_DIRECT_COST", 0.0)


def check(terms, n, m, imp, mask=None) -> None:
    indptr, indices, data = m
    want = brute(terms, n, indptr, indices, data, m_docs(m), mask)
    got = sparse.topk(terms, n, indptr, indices, data, *imp, mask=mask)
    assert [d for d, _ in got] == [d for d, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=1e-9)
    assert got == want  # in fact bit-identical: same summation order as the bincount
    assert all(isinstance(d, int) and isinstance(s, float) and s > 0 for d, s in got)


def m_docs(m) -> int:
    return int(m[1].max()) + 1


MATRICES = {
    "ties": dict(num_docs=1500, vocab=300, per_doc=12, levels=4),
    "few-ties": dict(num_docs=1500, vocab=300, per_doc=12, levels=40),
    "floats": dict(num_docs=2500, vocab=500, per_doc=20, levels=None),
}


@pytest.fixture(scope="module", params=list(MATRICES))
def matrix(request):
    m = make_matrix(np.random.default_rng(len(request.param)), **MATRICES[request.param])
    assert sparse.postings_sorted(m[0], m[1])
    return m, sparse.impact_order(*m)


@pytest.mark.parametrize("mode", MODES)
def test_topk_equals_brute_force(matrix, mode, monkeypatch):
    use_mode(monkeypatch, mode)
    m, imp = matrix
    rng = np.random.default_rng(7)
    vocab = len(m[0]) - 1
    for _ in range(40):
        k = int(rng.integers(1, 7))
        terms = [int(t) for t in rng.zipf(1.3, k) - 1 if t <= vocab]  # common terms mostly
        terms += [int(t) for t in rng.choice(terms, int(rng.integers(0, 2)))] if terms else []
        for n in (1, 5, 20, 5000):  # 5000: more than the docs that match
            check(terms, n, m, imp)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("share", [0.002, 0.05, 0.5, 0.97])
def test_topk_with_mask_equals_brute_force(matrix, mode, share, monkeypatch):
    use_mode(monkeypatch, mode)
    m, imp = matrix
    rng = np.random.default_rng(11)
    mask = rng.random(m_docs(m)) < share
    for _ in range(25):
        terms = [int(t) for t in rng.choice(40, int(rng.integers(1, 6)))]
        for n in (3, 20):
            check(terms, n, m, imp, mask)
    check([0, 1], 10, m, imp, np.zeros(m_docs(m), dtype=bool))  # nothing allowed


@pytest.mark.parametrize("mode", MODES)
def test_edge_queries(matrix, mode, monkeypatch):
    use_mode(monkeypatch, mode)
    m, imp = matrix
    vocab = len(m[0]) - 1
    assert sparse.topk([], 10, *m, *imp) == []
    assert sparse.topk([3], 0, *m, *imp) == []
    assert sparse.topk([vocab, vocab + 5, -1], 10, *m, *imp) == []  # outside the vocabulary
    check([0], 10, m, imp)  # one term in ~every doc: huge ties at the top with quantized weights
    check([0, 0, 0], 10, m, imp)  # a repeated term counts every time
    check([5, 0, 5, 1], 30, m, imp)
    check([vocab - 1, 0], 7, m, imp)  # a rare (maybe empty) term next to the common one


def test_repeated_terms_add_weight_like_the_bincount():
    indptr = np.array([0, 2, 4])
    indices = np.array([0, 1, 1, 2], dtype=np.int32)
    data = np.array([1.0, 0.5, 0.25, 2.0], dtype=np.float32)
    imp = sparse.impact_order(indptr, indices, data)
    assert sparse.topk([0, 0, 1], 5, indptr, indices, data, *imp) == [(0, 2.0), (2, 2.0), (1, 1.25)]
    assert sparse.full_scores([0, 0, 1], indptr, indices, data, 4).tolist() == [2.0, 1.25, 2.0, 0.0]


def test_ties_go_to_the_lower_doc_id():
    indptr = np.array([0, 6])
    indices = np.arange(6, dtype=np.int32)
    data = np.array([1, 3, 3, 2, 3, 1], dtype=np.float32)
    imp = sparse.impact_order(indptr, indices, data)
    assert imp[0].tolist() == [1, 2, 4, 3, 0, 5] and imp[1].tolist() == [3, 3, 3, 2, 1, 1]
    assert sparse.topk([0], 2, indptr, indices, data, *imp) == [(1, 3.0), (2, 3.0)]


@pytest.mark.parametrize("slice_", [7, 1 << 18])  # 7: slices far smaller than the index
def test_full_fallback_with_a_floor(matrix, slice_, monkeypatch):
    """The fallback keeps only docs at or above a floor: exact when floor <= the n-th best score."""
    monkeypatch.setattr(sparse, "_SLICE", slice_)
    m, _ = matrix
    indptr, indices, data = m
    rng = np.random.default_rng(3)
    for _ in range(10):
        terms = [int(t) for t in rng.choice(30, int(rng.integers(1, 5)))]
        spans = {t: (int(indptr[t]), int(indptr[t + 1] - indptr[t])) for t in terms}
        terms = [t for t in terms if spans[t][1]]
        spans = {t: spans[t] for t in terms}
        if not terms:
            continue
        mask = rng.random(m_docs(m)) < 0.5
        for n, use_mask in ((1, False), (10, False), (10, True)):
            want = brute(terms, n, *m, m_docs(m), mask if use_mask else None)
            kth = want[-1][1]  # the exact n-th best score: ties at it must survive the floor
            for floor in (0.0, kth / 2, kth):
                got = sparse._from_full(
                    terms, n, spans, indices, data, mask if use_mask else None, m_docs(m), floor
                )
                assert got == want


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    num_docs=st.integers(1, 400),
    vocab=st.integers(1, 60),
    levels=st.sampled_from([1, 2, 3, 10, None]),
    mode=st.sampled_from(MODES),
    n=st.integers(1, 50),
    masked=st.booleans(),
)
def test_random_matrices(seed, num_docs, vocab, levels, mode, n, masked):
    rng = np.random.default_rng(seed)
    m = make_matrix(rng, num_docs, vocab, int(rng.integers(1, 10)), levels)
    imp = sparse.impact_order(*m)
    mask = rng.random(num_docs) < rng.random() if masked else None
    with pytest.MonkeyPatch.context() as mp:
        use_mode(mp, mode)
        for _ in range(5):
            terms = [int(t) for t in rng.integers(-1, vocab + 1, int(rng.integers(0, 8)))]
            indptr, indices, data = m
            want = brute(terms, n, indptr, indices, data, num_docs, mask)
            assert sparse.topk(terms, n, indptr, indices, data, *imp, mask=mask) == want


def test_impact_order_sorts_each_term_by_weight_then_doc():
    m = make_matrix(np.random.default_rng(5), 3000, 200, 10, levels=6)
    indptr, indices, data = m
    imp_i, imp_d = sparse.impact_order(*m)
    for t in range(len(indptr) - 1):
        a, b = indptr[t], indptr[t + 1]
        want = sorted(
            zip(indices[a:b].tolist(), data[a:b].tolist(), strict=True), key=lambda x: (-x[1], x[0])
        )
        assert list(zip(imp_i[a:b].tolist(), imp_d[a:b].tolist(), strict=True)) == want
    # Not doc-sorted within terms: the same result after the lexsort fallback.
    rng = np.random.default_rng(6)
    perm = np.concatenate(
        [a + rng.permutation(b - a) for a, b in zip(indptr[:-1], indptr[1:], strict=True)]
    )
    shuffled = (indptr, indices[perm], data[perm])
    assert not sparse.postings_sorted(indptr, shuffled[1])
    again = sparse.impact_order(*shuffled)
    assert np.array_equal(again[0], imp_i) and np.array_equal(again[1], imp_d)
    back = sparse.sort_postings(*shuffled)
    assert np.array_equal(back[0], indices) and np.array_equal(back[1], data)


def test_impact_order_in_chunks_and_with_negative_weights(monkeypatch):
    monkeypatch.setattr(sparse, "_BUILD_CHUNK", 50)  # many chunks, some terms longer than one
    indptr, indices, data = make_matrix(np.random.default_rng(8), 500, 40, 8, levels=5)
    data = data - np.float32(1.0)  # some weights negative (e.g. Robertson idf), some exactly 0
    imp = sparse.impact_order(indptr, indices, data)
    for t in range(len(indptr) - 1):
        a, b = indptr[t], indptr[t + 1]
        assert np.all(np.diff(imp[1][a:b]) <= 0)
        key = list(zip((-imp[1][a:b]).tolist(), imp[0][a:b].tolist(), strict=True))
        assert key == sorted(key)
    rng = np.random.default_rng(9)
    for mode in MODES:
        with pytest.MonkeyPatch.context() as mp:
            use_mode(mp, mode)
            for _ in range(30):
                terms = [int(t) for t in rng.choice(40, int(rng.integers(1, 5)))]
                want = brute(terms, 8, indptr, indices, data, 500)
                assert sparse.topk(terms, 8, indptr, indices, data, *imp) == want


_WORDS = """
river bank money loan interest rate water flow stone bridge city market trade ship port storm rain
cloud wind solar energy power grid battery engine motor fuel oil price tax school teacher student
book library history war treaty king queen castle army battle cell protein gene virus vaccine
doctor hospital patient drug trial heart brain blood
"""
WORDS = _WORDS.split()


@pytest.fixture(scope="module")
def real_bm25():
    """A real bm25s index over 400 short texts, tokenized like the app does."""
    import bm25s

    from qa.index import make_tokenizer

    rng = np.random.default_rng(1)
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    p /= p.sum()
    texts = [
        " ".join(rng.choice(WORDS, int(rng.integers(3, 25)), p=p)) + " and the of it"
        for _ in range(400)
    ]
    tokenizer = make_tokenizer()
    tokens = tokenizer.tokenize(texts, update_vocab=True, return_as="tuple", show_progress=False)
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    return bm25, tokenizer


def test_real_bm25s_index(real_bm25):
    bm25, tokenizer = real_bm25
    sc = bm25.scores
    indptr, indices, data, num_docs = sc["indptr"], sc["indices"], sc["data"], int(sc["num_docs"])
    assert data.dtype == np.float32 and sparse.postings_sorted(indptr, indices)
    imp = sparse.impact_order(indptr, indices, data)
    empty = tokenizer.word_to_id.get("")
    queries = [
        "river bank",
        "the money money interest",
        "vaccine trial for the heart patient",
        "storm",
        "king queen castle army battle war treaty",
        "unknownword river",
        "solar power battery grid price",
    ]
    for query in queries:
        ids = tokenizer.tokenize(
            [query], update_vocab="never", return_as="ids", show_progress=False
        )[0]
        ids = [int(i) for i in ids if i != empty]
        assert ids, query
        reference = bm25.get_scores(ids)  # bm25s's own float32 scoring
        for n in (1, 10, 50, 1000):
            got = sparse.topk(ids, n, indptr, indices, data, *imp)
            assert got == brute(ids, n, indptr, indices, data, num_docs), (query, n)
            want = np.sort(reference[reference > 0])[::-1][:n]
            assert np.allclose([s for _, s in got], want, rtol=1e-5)
            assert np.allclose([reference[d] for d, _ in got], [s for _, s in got], rtol=1e-5)
