"""The fresh process of `qa bench`'s scale part: start-up cost, index load, latency (end to end
and per step), then peak RSS, then recall of the dense and BM25 searches against exact ones.
Run as `python -m qa.bench.scale_worker ARGS_JSON`; prints one JSON object."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.bench.common import QUANTITY, QUESTIONS, SCALE_CHUNK_SIZE, ms, peak_rss_mb, time_calls
from qa.bench.synthetic import SyntheticVectors, word_queries
from qa.config import Settings


def query_worker(args: dict) -> dict:
    """Runs in a fresh process: start-up cost, load, latency, then peak RSS, then recall."""
    t0 = time.perf_counter()
    from qa.chat import Engine
    from qa.embed import Embedder
    from qa.retrieve import Retriever

    import_s = time.perf_counter() - t0
    settings = _settings(args)
    t = time.perf_counter()
    embedder = Embedder(settings)
    embedder.encode(["warm up"])
    model_s = time.perf_counter() - t
    t = time.perf_counter()
    engine = Engine(settings, embedder)
    idx = engine.index
    load_s = time.perf_counter() - t
    n_q = int(args["queries"])
    asked = timed_asks(engine, n_q)
    ask = [dt for _, dt in asked]
    answered = sum(not engine.ask(q).abstained for q in QUESTIONS)
    qv = embedder.encode(QUESTIONS)
    embed = time_calls(lambda q: embedder.encode([q]), n_q)
    gen = SyntheticVectors(args["n_topics"], embedder.dim, seed=args["seed"])
    syn_q = gen.sample(200, args["seed"] + 7)
    dense = _time_dense(idx, syn_q, n_q, settings.k * settings.fetch_factor)
    r = Retriever(idx, embedder, settings)
    retrieve = time_calls(r.search, n_q)
    hybrid = _time_hybrid(r, qv, n_q)
    rss_mb = peak_rss_mb()
    return {
        "import_s": round(import_s, 2),
        "model_load_s": round(model_s, 2),
        "index_load_s": round(load_s, 2),
        "ask": ms(ask),
        "ask_plain": ms([dt for q, dt in asked if q not in QUANTITY]),
        "ask_quantity": ms([dt for q, dt in asked if q in QUANTITY]),
        "embed_query": ms(embed),
        "dense_search": ms(dense),
        "hybrid_search_given_vector": ms(hybrid),
        "retrieve": ms(retrieve),
        "questions_answered": f"{answered}/{len(QUESTIONS)}",
        "peak_rss_mb": round(rss_mb, 1),
        "recall_at_10": round(recall_at_k(idx, syn_q, 10), 4),
        "recall_at_10_real_questions": round(recall_at_k(idx, qv, 10), 4),
        "bm25_recall": bm25_recall(
            idx,
            QUESTIONS + word_queries(Path(args["source_dir"]), 60, args["seed"]),
            settings.k * settings.fetch_factor,
        ),
    }


def _settings(args: dict) -> Settings:
    """The parent's settings for the scale index, from its JSON arguments."""
    return Settings(
        corpus_dir=Path(args["corpus_dir"]),
        index_dir=Path(args["index_dir"]),
        chunk_size=SCALE_CHUNK_SIZE,
        chunk_overlap=0,
        ann_threshold=args["ann_threshold"],
        embed_backend=args.get("embed_backend", "auto"),
        model_path=args.get("model_path"),
        cache_dir=Path(args["cache_dir"]) if args.get("cache_dir") else Settings().cache_dir,
        answer_cache=0,  # time the answer path, not the answer cache (qa/cache.py)
    )


def _time_dense(idx, queries: np.ndarray, n: int, k: int) -> list[float]:
    """Seconds of each of `n` dense searches, cycling through the synthetic query vectors."""
    out = []
    for i in range(n):
        q = queries[i % len(queries)]
        t = time.perf_counter()
        idx.dense_search(q, k)
        out.append(time.perf_counter() - t)
    return out


def _time_hybrid(r, qv: np.ndarray, n: int) -> list[float]:
    """Seconds of each of `n` hybrid searches given the question's vector (no encoding timed)."""
    out = []
    for i in range(n):
        t = time.perf_counter()
        r.search(QUESTIONS[i % len(QUESTIONS)], qvec=qv[i % len(qv)])
        out.append(time.perf_counter() - t)
    return out


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute-force top-k ids by inner product, in blocks (the ground truth for recall)."""
    n = vectors.shape[0]
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for s in range(0, n, 131_072):
        block = np.asarray(vectors[s : s + 131_072], dtype=np.float32)
        sc = queries @ block.T
        ids = np.broadcast_to(np.arange(s, s + block.shape[0]), sc.shape)
        cs, ci = np.concatenate([best_s, sc], 1), np.concatenate([best_i, ids], 1)
        top = np.argsort(-cs, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cs, top, 1), np.take_along_axis(ci, top, 1)
    return best_i


def bm25_recall(idx, queries: Sequence[str], n: int) -> dict:
    """The index's BM25 top-n against exact top-n (sum of every posting), and how often it was exact."""
    from qa.index import sparse

    sc = idx.bm25.scores
    hits = total = exact = 0
    lat = []
    for q in queries:
        t = time.perf_counter()
        got = [c for c, _ in idx.bm25_search(q, n)]
        lat.append(time.perf_counter() - t)
        ids = idx.tokenizer.tokenize(
            [q], update_vocab="never", return_as="ids", show_progress=False
        )[0]
        scores = sparse.full_scores(
            ids, sc["indptr"], sc["indices"], sc["data"], int(sc["num_docs"])
        )
        cand = np.flatnonzero(scores > 0)
        want = cand[np.lexsort((cand, -scores[cand]))[:n]].tolist()
        hits += len(set(got) & set(want))
        total += len(want)
        exact += got == want
    return {
        "n": n,
        "recall": round(hits / max(total, 1), 4),
        "exact_share": round(exact / max(len(queries), 1), 3),
        "queries": len(queries),
        "search": ms(lat),
    }


def recall_at_k(idx, queries: np.ndarray, k: int) -> float:
    truth = exact_top_k(idx.vectors, queries, k)
    hits = 0
    for q, t in zip(queries, truth, strict=True):
        got = {cid for cid, _ in idx.dense_search(q, k)}
        hits += len(got & set(t.tolist()))
    return hits / (k * len(queries))


def timed_asks(engine, n: int, warm: int = 3) -> list[tuple[str, float]]:
    """(question, seconds) of `engine.ask` over the questions in turn, after a warm-up."""
    for q in QUESTIONS[:warm]:
        engine.ask(q)
    out = []
    for i in range(n):
        q = QUESTIONS[i % len(QUESTIONS)]
        t = time.perf_counter()
        engine.ask(q)
        out.append((q, time.perf_counter() - t))
    return out


if __name__ == "__main__":
    print(json.dumps(query_worker(json.loads(sys.argv[1]))))
