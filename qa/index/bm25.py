"""The BM25 side of an index: the tokenizer, the bm25s files, and search over them.

bm25s and PyStemmer are imported inside the functions: importing qa.index stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.index import sparse

BM25_DIR = "bm25"


def make_tokenizer():
    """The one tokenizer of BM25, at build and query time (English stemmer and stop words)."""
    import Stemmer
    from bm25s.tokenization import Tokenizer

    return Tokenizer(
        stemmer=Stemmer.Stemmer("english"), stopwords="en", lower=True, splitter=r"(?u)\b\w+\b"
    )


def build(texts: Sequence[str]):
    """(bm25s.BM25, tokenizer) over texts, with doc-sorted postings as `sparse.topk` needs."""
    import bm25s

    tokenizer = make_tokenizer()
    tokens = tokenizer.tokenize(
        list(texts), update_vocab=True, return_as="tuple", show_progress=False
    )
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    sc = bm25.scores
    if not sparse.postings_sorted(sc["indptr"], sc["indices"]):  # bm25s keeps them sorted; check
        sc["indices"], sc["data"] = sparse.sort_postings(sc["indptr"], sc["indices"], sc["data"])
    return bm25, tokenizer


def write(root: Path, texts: Sequence[str]) -> None:
    """bm25/: the bm25s files, the tokenizer vocabulary, and each term's postings by weight."""
    bm25, tokenizer = build(texts)
    folder = root / BM25_DIR
    folder.mkdir()
    bm25.save(str(folder))
    sc = bm25.scores
    imp_indices, imp_data = sparse.impact_order(sc["indptr"], sc["indices"], sc["data"])
    np.save(folder / "impact_indices.npy", imp_indices)
    np.save(folder / "impact_data.npy", imp_data)
    tokenizer.save_vocab(str(folder))
    tokenizer.save_stopwords(str(folder))


def read(root: Path):
    """(bm25, tokenizer, impacts) of a generation; ValueError when the files disagree."""
    import bm25s

    folder = root / BM25_DIR
    bm25 = bm25s.BM25.load(str(folder), mmap=False)
    impacts = (np.load(folder / "impact_indices.npy"), np.load(folder / "impact_data.npy"))
    sc = bm25.scores
    if impacts[0].shape != sc["indices"].shape or impacts[1].shape != sc["data"].shape:
        raise ValueError("bm25 impact files disagree with the postings")
    tokenizer = make_tokenizer()
    tokenizer.load_vocab(str(folder))
    tokenizer.load_stopwords(str(folder))
    return bm25, tokenizer, impacts


def query_ids(tokenizer, query: str) -> list[int]:
    """Vocabulary ids of the query's terms (unknown words dropped)."""
    ids = tokenizer.tokenize([query], update_vocab="never", return_as="ids", show_progress=False)[0]
    empty = tokenizer.word_to_id.get("")
    return [i for i in ids if i != empty]


def all_scores(bm25, ids: Sequence[int]) -> np.ndarray:
    """BM25 of every chunk (the path for indexes without impact files, and BM25L/BM25+)."""
    if getattr(bm25, "nonoccurrence_array", None) is not None:  # BM25L/BM25+: not a plain sum
        return bm25.get_scores_from_ids(ids)
    sc = bm25.scores
    return sparse.full_scores(ids, sc["indptr"], sc["indices"], sc["data"], int(sc["num_docs"]))


def search(
    bm25, tokenizer, impacts, query: str, n: int, mask: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Top-n (chunk id, BM25 score > 0); exact, early-stopping when impact files exist."""
    ids = query_ids(tokenizer, query)
    if not ids:
        return []
    sc = bm25.scores
    if impacts is not None and getattr(bm25, "nonoccurrence_array", None) is None:
        return sparse.topk(ids, n, sc["indptr"], sc["indices"], sc["data"], *impacts, mask)
    scores = all_scores(bm25, ids)
    cand = np.flatnonzero(scores > 0)  # only chunks holding a query term compete
    if mask is not None:
        cand = cand[mask[cand]]
    n = min(n, cand.size)
    if n == 0:
        return []
    s = scores[cand]
    top = np.argpartition(-s, n - 1)[:n] if n < s.size else np.arange(s.size)
    top = top[np.argsort(-s[top], kind="stable")]
    return [(int(cand[t]), float(s[t])) for t in top]
