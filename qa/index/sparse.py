"""Exact top-k BM25 without scoring every document.

Summing every posting of every query term costs ~5-17 ms a query at 1M chunks, because common
terms have posting lists of 100k-300k entries. Sorting each term's postings by weight once, at
build time ("impact order"), lets a query read only the heaviest postings of each term, score
those candidates exactly by binary search into the doc-sorted postings, and stop as soon as no
unseen document can still reach the top n (Fagin's threshold algorithm). That pays when the query
has a discriminative term (~1-1.5 ms at 1M docs). With only common terms BM25 scores are flat, and
the stop would come only after a fifth or more of the postings; then it sums every posting instead,
in cache-sized doc slices, ranking only docs at or above the n-th best score already found
(~1.4x faster than today's sum-and-argpartition).

Either way the result is the brute-force result bit for bit: same ids, same float64 scores (summed
in the same order as `full_scores`), ties broken by ascending doc id.

The arrays are bm25s's CSC score matrix (`bm25.scores`): `indptr` per term id, `indices` doc ids
(ascending within each term; see `postings_sorted`), `data` float32 BM25 weights. Scores are plain
sums of weights, so this does not apply to BM25L/BM25+ (`bm25.nonoccurrence_array is not None`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Relative costs, in units of one posting of the full sum (~10 ns with numpy 2.4), that decide
# between reading impact-ordered prefixes and summing every posting. Tuned on a synthetic 1M-doc
# index; a wrong guess costs speed, never exactness.
_FIRST_DEPTH = 256  # postings read per term in the first round (at least 4n)
_CANDIDATE_COST = 1.5  # sorting one prefix posting into the candidate set
_LOOKUP_COST = 6.0  # one binary search of one doc in one term's doc-sorted postings
_DIRECT_COST = 4.0  # the same for each doc a narrow mask allows, when scoring just those
_DOC_COST = 0.06  # one doc in the full sum's passes over its dense score array
_SLICE = 1 << 18  # doc ids summed at a time by the full sum
_BUILD_CHUNK = 1 << 22  # postings re-sorted at a time by impact_order


def postings_sorted(indptr: np.ndarray, indices: np.ndarray) -> bool:
    """Whether doc ids ascend strictly within every term, as `topk`'s binary searches need.

    bm25s's default numpy CSC builder guarantees it; check once at build time, not per query.
    """
    indptr = np.asarray(indptr)
    nnz = int(indptr[-1])
    if nnz < 2:
        return True
    ids = np.asarray(indices)[:nnz]
    step = ids[1:] > ids[:-1]
    starts = indptr[1:-1]
    step[starts[(starts > 0) & (starts < nnz)] - 1] = True  # a new term may restart low
    return bool(step.all())


def sort_postings(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Doc-sorted copies of (indices, data), for a matrix where `postings_sorted` is False."""
    nnz = int(np.asarray(indptr)[-1])
    term = np.repeat(np.arange(len(indptr) - 1), np.diff(np.asarray(indptr)))
    order = np.lexsort((indices[:nnz], term))
    return np.ascontiguousarray(indices[:nnz][order]), np.ascontiguousarray(data[:nnz][order])


def impact_order(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every term's postings re-sorted by weight descending, ties by doc id ascending (same indptr).

    Built once per index; `topk` reads only the first few hundred or thousand of each query term.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    nnz = int(indptr[-1])
    indices = np.asarray(indices)[:nnz]
    data = np.asarray(data)[:nnz]
    doc_sorted = postings_sorted(indptr, indices)
    out_indices = np.empty_like(indices)
    out_data = np.empty_like(data)
    vocab = indptr.size - 1
    t = 0
    while t < vocab:  # whole terms, ~4M postings at a time: bounded temporary memory
        end = max(t + 1, int(np.searchsorted(indptr, indptr[t] + _BUILD_CHUNK, side="right")) - 1)
        end = min(end, vocab)
        a, b = int(indptr[t]), int(indptr[end])
        if b > a:
            # One 64-bit key, the term in the high half and the weight descending in the low half,
            # so one stable argsort does it (~3x faster than a 3-key lexsort); stability keeps
            # ascending doc ids among equal weights when the input is doc-sorted.
            term = np.repeat(np.arange(end - t, dtype=np.uint64), np.diff(indptr[t : end + 1]))
            key = (term << np.uint64(32)) | _descending_key(data[a:b])
            if doc_sorted:
                order = np.argsort(key, kind="stable")
            else:
                order = np.lexsort((indices[a:b], key))
            out_indices[a:b] = indices[a:b][order]
            out_data[a:b] = data[a:b][order]
        t = end
    return out_indices, out_data


def full_scores(
    term_ids: Sequence[int],
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    num_docs: int,
) -> np.ndarray:
    """BM25 of every doc (float64): every posting of every query term, summed with one bincount.

    The brute-force reference (np.add.at would be ~10x slower). A repeated term counts twice;
    ids outside the vocabulary have no postings.
    """
    parts = [(int(indptr[t]), int(indptr[t + 1])) for t in _vocab_terms(term_ids, indptr)]
    if not parts:
        return np.zeros(int(num_docs), dtype=np.float64)
    docs = np.concatenate([indices[a:b] for a, b in parts])
    weights = np.concatenate([data[a:b] for a, b in parts]).astype(np.float64)
    return np.bincount(docs, weights=weights, minlength=int(num_docs))


def topk(
    term_ids: Sequence[int],
    n: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    imp_indices: np.ndarray,
    imp_data: np.ndarray,
    mask: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """Exact top-n (doc id, score > 0), by score descending then doc id ascending.

    Equal to ranking `full_scores` over the docs where `mask` is True (a bool array over all docs).
    Each round reads each term's impact-ordered postings down to its depth, scores the new docs
    exactly, and stops once the n-th best exact score beats `_bound` (what any unread doc can
    reach); else `_plan` picks deeper depths that make the next round stop, unless reading them
    would cost more than summing every posting, which `_from_full` then does.
    """
    terms = [t for t in _vocab_terms(term_ids, indptr) if indptr[t + 1] > indptr[t]]
    if n <= 0 or not terms:
        return []
    spans = {t: (int(indptr[t]), int(indptr[t + 1]) - int(indptr[t])) for t in terms}
    num_docs = 1 + max(int(indices[s + length - 1]) for s, length in spans.values())
    full_cost = sum(spans[t][1] for t in terms) + _DOC_COST * num_docs
    first = max(4 * n, _FIRST_DEPTH)
    if mask is not None:
        allowed = int(np.count_nonzero(mask))
        if allowed == 0:
            return []
        if allowed * len(spans) * _DIRECT_COST < full_cost:  # narrow filter: score just its docs
            cand = np.flatnonzero(mask)
            return _best(cand, _exact(cand, terms, spans, indices, data), n)[0]
        first = int(first * mask.size / allowed)  # only that share of the candidates will count
    depths = {t: min(length, first) for t, (_, length) in spans.items()}
    read: dict[int, int] = dict.fromkeys(spans, 0)
    seen = np.zeros(0, dtype=indices.dtype)  # sorted: every doc read so far, each scored once
    cand, scores = seen, np.zeros(0, dtype=np.float64)
    nth = 0.0
    while True:
        fresh = sum(depths[t] - read[t] for t in spans)
        if (_CANDIDATE_COST + _LOOKUP_COST * len(spans)) * fresh > full_cost:
            return _from_full(terms, n, spans, indices, data, mask, num_docs, nth)
        segs = {t: (s + read[t], s + depths[t]) for t, (s, _) in spans.items()}
        new = _union([imp_indices[a:b] for a, b in segs.values()])
        if seen.size:
            new = new[~_member(new, seen)]
        seen = np.sort(np.concatenate([seen, new]))
        if mask is not None:
            new = new[mask[new]]
        new_scores = _exact(new, terms, spans, indices, data)
        cand, scores = np.concatenate([cand, new]), np.concatenate([scores, new_scores])
        best, nth = _best(cand, scores, n)
        bound = _bound(depths, terms, spans, imp_data)
        if bound <= 0 or (len(best) == n and nth > bound):
            return best
        read = depths
        depths = _plan(depths, nth if len(best) == n else 0.0, terms, spans, imp_data)


# ---------------------------------------------------------------- internals


def _vocab_terms(term_ids: Sequence[int], indptr: np.ndarray) -> list[int]:
    """Query terms in order, with repeats; ids outside the vocabulary have no postings."""
    v = len(indptr) - 1
    return [int(t) for t in term_ids if 0 <= int(t) < v]


def _descending_key(data: np.ndarray) -> np.ndarray:
    """uint64 keys that ascend as float32 weights descend (IEEE bits made order-preserving)."""
    bits = np.ascontiguousarray(data, dtype=np.float32).view(np.uint32)
    neg = (bits >> np.uint32(31)).astype(bool)
    ascending = np.where(neg, ~bits, bits | np.uint32(0x80000000))
    return (~ascending).astype(np.uint64)


def _union(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct doc ids; np.unique is ~20x slower than sort+diff for int32 in numpy 2.4."""
    docs = np.concatenate(parts)
    docs.sort()
    if docs.size < 2:
        return docs
    keep = np.empty(docs.size, dtype=bool)
    keep[0] = True
    np.not_equal(docs[1:], docs[:-1], out=keep[1:])
    return docs[keep]


def _member(docs: np.ndarray, sorted_docs: np.ndarray) -> np.ndarray:
    """Which of `docs` are in the non-empty sorted array `sorted_docs`."""
    pos = np.minimum(np.searchsorted(sorted_docs, docs), sorted_docs.size - 1)
    return sorted_docs[pos] == docs


def _lookup(
    docs: np.ndarray, s: int, length: int, indices: np.ndarray, data: np.ndarray
) -> np.ndarray:
    """float64 weight of each doc in the term at indices[s:s+length] (0.0 where absent)."""
    ids = indices[s : s + length]
    pos = np.minimum(np.searchsorted(ids, docs), length - 1)
    return np.where(ids[pos] == docs, data[s + pos], 0).astype(np.float64)


def _exact(
    cand: np.ndarray,
    terms: list[int],
    spans: dict[int, tuple[int, int]],
    indices: np.ndarray,
    data: np.ndarray,
) -> np.ndarray:
    """Exact float64 scores of candidate docs, summed in query order like `full_scores`."""
    weights = {t: _lookup(cand, *spans[t], indices, data) for t in spans}
    acc = np.zeros(cand.size, dtype=np.float64)
    for t in terms:
        acc += weights[t]  # x + 0.0 == x: absent terms leave the sum exactly as bincount builds it
    return acc


def _best(cand: np.ndarray, scores: np.ndarray, n: int) -> tuple[list[tuple[int, float]], float]:
    """Top-n of the positive candidates by (score desc, id asc), and the n-th score (0.0 if < n)."""
    keep = scores > 0
    cand, scores = cand[keep], scores[keep]
    if scores.size > n:  # everything tied with the n-th score stays, so ids decide among them
        kth = np.partition(scores, scores.size - n)[scores.size - n]
        keep = scores >= kth
        cand, scores = cand[keep], scores[keep]
    order = np.lexsort((cand, -scores))[:n]
    best = [(int(cand[i]), float(scores[i])) for i in order]
    return best, (best[-1][1] if len(best) == n else 0.0)


def _bound(
    depths: dict[int, int],
    terms: list[int],
    spans: dict[int, tuple[int, int]],
    imp_data: np.ndarray,
) -> float:
    """Highest score a doc outside the first `depths[t]` postings of every term can have.

    In each term such a doc has no posting, or one at depth >= d, weighing at most the weight
    there (0 once the list is exhausted). Summed in query order like the exact scores, and float
    addition is monotone, so its computed score is <= this too.
    """
    bound = 0.0
    for t in terms:
        s, length = spans[t]
        if depths[t] < length:
            bound += max(float(imp_data[s + depths[t]]), 0.0)
    return bound


def _plan(
    depths: dict[int, int],
    target: float,
    terms: list[int],
    spans: dict[int, tuple[int, int]],
    imp_data: np.ndarray,
) -> dict[int, int]:
    """Deeper depths whose bound is below `target` (<= 0 if target is 0), read greedily.

    Doubles, one at a time, the list whose weight falls most per extra posting read, so the next
    round stops: the n-th best can only rise. Lists of low-weight common terms stay shallow.
    """
    depths = dict(depths)
    mult = {t: terms.count(t) for t in depths}
    while True:
        bound = _bound(depths, terms, spans, imp_data)
        if bound < target or bound <= 0:
            return depths
        best_t, best_gain, best_more = -1, -1.0, 0
        for t, d in depths.items():
            s, length = spans[t]
            if d >= length:
                continue
            nd = min(length, 2 * d)
            after = float(imp_data[s + nd]) if nd < length else 0.0
            gain = mult[t] * (max(float(imp_data[s + d]), 0.0) - max(after, 0.0)) / (nd - d)
            if gain > best_gain or (gain == best_gain and nd - d < best_more):
                best_t, best_gain, best_more = t, gain, nd - d
        depths[best_t] = min(spans[best_t][1], 2 * depths[best_t])


def _from_full(
    terms: list[int],
    n: int,
    spans: dict[int, tuple[int, int]],
    indices: np.ndarray,
    data: np.ndarray,
    mask: np.ndarray | None,
    num_docs: int,
    floor: float,
) -> list[tuple[int, float]]:
    """Brute force over docs [0, num_docs), for queries where early stopping would read too deep.

    Sums every posting like `full_scores`, in the same order, but one slice of 2**18 doc ids at a
    time, so the score array stays in cache (~30% faster). `floor` is the n-th best exact score of
    some docs (0.0 if unknown), so the true top n score >= it and only those docs are ranked, not
    every doc holding a query term.
    """
    edges = np.arange(0, num_docs + _SLICE, _SLICE)
    cuts = [
        np.searchsorted(indices[s : s + length], edges) + s for s, length in map(spans.get, terms)
    ]
    found = [np.zeros(0, dtype=np.int64)]
    found_scores = [np.zeros(0, dtype=np.float64)]
    for j, base in enumerate(edges[:-1]):
        parts = [(c[j], c[j + 1]) for c in cuts if c[j + 1] > c[j]]
        if not parts:
            continue
        docs = np.concatenate([indices[a:b] for a, b in parts]) - base
        weights = np.concatenate([data[a:b] for a, b in parts]).astype(np.float64)
        scores = np.bincount(docs, weights=weights)
        keep = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
        found.append(keep + base)
        found_scores.append(scores[keep])
    cand, scores = np.concatenate(found), np.concatenate(found_scores)
    if mask is not None:
        keep = mask[cand]
        cand, scores = cand[keep], scores[keep]
    return _best(cand, scores, n)[0]
