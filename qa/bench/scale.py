"""Part 2 of `qa bench`: scale. The corpus's articles plus seeded synthetic ones (qa.bench.synthetic)
up to N chunks, indexed by the real pipeline (only the vectors are synthetic); a fresh process then
measures start-up, index load, latency, recall and memory (qa.bench.scale_worker)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from qa.bench.common import QUESTIONS, SCALE_CHUNK_SIZE, Log, ms, need, pct, time_calls
from qa.bench.real import lc_embeddings
from qa.bench.synthetic import (
    TOPIC_SHARE,
    SyntheticEmbedder,
    SyntheticVectors,
    n_topics_for,
    write_synthetic_corpus,
)
from qa.config import Settings
from qa.errors import QAError


def scale_settings(
    home: Path, ann_threshold: int | None = None, base: Settings | None = None
) -> Settings:
    """`base` (default: defaults) with the scale corpus's folders and one paragraph per chunk."""
    return (base or Settings()).with_(
        corpus_dir=home / "corpus",
        index_dir=home / "index",
        chunk_size=SCALE_CHUNK_SIZE,
        chunk_overlap=0,
        ann_threshold=ann_threshold,
    )


def bench_scale(
    work: Path,
    base: Settings,
    embedder,
    n_chunks: int,
    queries: int,
    langchain: bool,
    log: Log,
    ann_threshold: int | None = None,
    seed: int = 0,
    topic_share: float = TOPIC_SHARE,
) -> dict:
    """An index of `n_chunks` (the corpus's articles plus synthetic ones) built by the real
    pipeline, then measured by a fresh process (`qa.bench.scale_worker`)."""
    from qa.corpus import chunk_documents, load_corpus
    from qa.index import build_index

    source = base.corpus_dir
    settings = scale_settings(work / "scale", ann_threshold, base)
    settings.corpus_dir.mkdir(parents=True)
    real_docs, _ = load_corpus(source)
    for d in real_docs:
        shutil.copy(source / d.doc_id, settings.corpus_dir / d.doc_id)
    n_real = len(chunk_documents(real_docs, settings.chunk_size, settings.chunk_overlap))
    t = time.perf_counter()
    table, vectors = _synthetic(
        settings, source, n_chunks, n_real, embedder.dim, seed, topic_share, log
    )
    gen_s = time.perf_counter() - t
    log(f"[scale] generated in {gen_s:.1f} s; build_index")
    t = time.perf_counter()
    report = build_index(settings, SyntheticEmbedder(embedder, table, vectors))
    build_s = time.perf_counter() - t
    del table
    root = settings.index_dir
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    faiss_mb = sum(p.stat().st_size for p in root.rglob("faiss.index")) / 2**20
    log(
        f"[scale] built {report.chunks} chunks [{report.index_type}] in {build_s:.1f} s; query process"
    )
    worker = _query_process(settings, source, queries, n_topics_for(n_chunks), seed)
    out = {
        "chunks": report.chunks,
        "documents": report.documents,
        "index_type": report.index_type,
        "synthetic_topic_share": topic_share,
        "synthetic_generation_s": round(gen_s, 1),
        "build_s": round(build_s, 1),
        "index_disk_mb": round(size / 2**20, 1),
        "faiss_index_mb": round(faiss_mb, 1),
        **worker,
    }
    if langchain:
        out["langchain"] = _langchain_at_scale(settings, embedder, worker, log)
    return out


def _synthetic(
    settings: Settings,
    source: Path,
    n_chunks: int,
    n_real: int,
    dim: int,
    seed: int,
    topic_share: float,
    log: Log,
) -> tuple[dict[str, int], np.ndarray]:
    """Writes the synthetic articles; returns each chunk text's row in their seeded vectors."""
    n_syn = max(0, n_chunks - n_real)
    log(f"[scale] writing {n_syn} synthetic chunks (+{n_real} real)")
    pieces = write_synthetic_corpus(settings.corpus_dir, n_syn, source, seed, topic_share)
    gen = SyntheticVectors(n_topics_for(n_chunks), dim, seed=seed)
    vectors = gen.sample(len(pieces), seed + 1)
    return {text: i for i, (_, text) in enumerate(pieces)}, vectors


def _query_process(
    settings: Settings, source: Path, queries: int, n_topics: int, seed: int
) -> dict:
    """Runs `qa.bench.scale_worker` in a fresh process (honest start-up and peak memory)."""
    args = {
        "corpus_dir": str(settings.corpus_dir),
        "index_dir": str(settings.index_dir),
        "ann_threshold": settings.ann_threshold,
        "queries": queries,
        "n_topics": n_topics,
        "seed": seed,
        "source_dir": str(source),
        "embed_backend": settings.embed_backend,
        "cache_dir": str(settings.cache_dir),
        "model_path": settings.model_path,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "qa.bench.scale_worker", json.dumps(args)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if proc.returncode != 0:
        raise QAError(f"the query process failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _langchain_at_scale(settings: Settings, embedder, worker: dict, log: Log) -> dict:
    """LangChain's FAISS store over the same chunks and vectors (from_embeddings: no re-embedding)."""
    from qa.index import load_index

    FAISS = need("langchain_community.vectorstores", "bench").FAISS  # noqa: N806

    idx = load_index(settings, check_fresh=False)
    log("[scale] LangChain FAISS.from_embeddings over the same chunks and vectors")
    vectors = np.asarray(idx.vectors)
    pairs = [(c.text, vectors[i]) for i, c in enumerate(idx.chunks)]
    t = time.perf_counter()
    store = FAISS.from_embeddings(pairs, lc_embeddings(embedder))
    build = time.perf_counter() - t
    del pairs, idx, vectors
    lat = time_calls(lambda q: store.similarity_search(q, k=settings.k), 2 * len(QUESTIONS))
    return {
        "build_from_vectors_s": round(build, 1),
        "index": type(store.index).__name__,
        "query": ms(lat),
        "query_p50_ratio_langchain_over_ours": round(
            pct(lat, 50) * 1e3 / worker["retrieve"]["p50_ms"], 2
        ),
    }
