"""BEIR-format benchmarks (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) through the app's own retrieval.

Why: a number only means something about the app if it is measured through the app's code. Each BEIR
document becomes one `Chunk` ("title text", no chunking: MiniLM reads the first 256 word pieces, as in
the published MTEB runs), its embedding comes from the app's `Embedder`, the FAISS and BM25 indexes
come from `qa.index` (`Index.in_memory`: the build's FAISS factory, tokenizer and bm25s settings), and every query goes through
`qa.retrieve.Retriever.search` exactly as `qa ask` does. Metrics come from ranx.

Document embeddings are cached in `~/.cache/qa/beir/` (or `QA_CACHE_DIR/beir`), keyed by the model and
each document's exact text, so a rerun (or a subset of an earlier run) embeds nothing.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.corpus import Chunk
from qa.errors import EvalError

MODES_ORDER = ("dense", "bm25", "hybrid")
METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEPTH = 100  # documents retrieved per query (Recall@100 needs 100)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BeirData:
    doc_ids: list[str]
    titles: list[str]
    texts: list[str]  # what the model and BM25 read: "title text"
    queries: dict[str, str]  # query id -> text, only queries judged in the split
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


@dataclass(frozen=True)
class BeirResult:
    name: str
    split: str
    documents: int
    queries: int
    metrics: dict[str, dict[str, float]]  # mode -> metric -> value
    settings: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "benchmark": self.name,
            "split": self.split,
            "documents": self.documents,
            "queries": self.queries,
            "metrics": {m: {k: round(v, 4) for k, v in d.items()} for m, d in self.metrics.items()},
            "settings": self.settings,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def cache_dir(settings: Settings) -> Path:
    return settings.cache_dir / "beir"


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise EvalError(
            f"{path} is missing",
            "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/test.tsv",
        )
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "_id" not in rec:
                    raise ValueError("expected an object with `_id`")
            except ValueError as exc:
                raise EvalError(
                    f"{path.name} line {n}: {exc}", "each line must be a JSON object with `_id`"
                ) from None
            out.append(rec)
    return out


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise EvalError(
            f"{path} is missing",
            "a BEIR folder holds qrels/<split>.tsv (query-id, corpus-id, score)",
        )
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if not row or (n == 1 and row[0] == "query-id"):
                continue
            try:
                qid, did, score = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise EvalError(
                    f"{path.name} line {n}: expected query-id<TAB>corpus-id<TAB>score"
                ) from None
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    return qrels


def load_beir(
    folder: Path,
    split: str = "test",
    *,
    limit_docs: int | None = None,
    limit_queries: int | None = None,
) -> BeirData:
    """Read a BEIR folder. Limits scale it down honestly: the first `limit_queries` judged queries, all
    their relevant documents, then other documents in file order up to `limit_docs` in all."""
    folder = Path(folder)
    qrels = _read_qrels(folder / "qrels" / f"{split}.tsv")
    queries_all = {
        str(r["_id"]): str(r.get("text", "")) for r in _read_jsonl(folder / "queries.jsonl")
    }
    qids = [q for q in qrels if q in queries_all]
    if not qids:
        raise EvalError(f"no query in queries.jsonl is judged in qrels/{split}.tsv")
    if limit_queries is not None:
        qids = qids[:limit_queries]
    corpus = _read_jsonl(folder / "corpus.jsonl")
    if limit_docs is not None:
        needed = {d for q in qids for d in qrels[q]}
        kept, others = [], limit_docs - sum(1 for r in corpus if str(r["_id"]) in needed)
        for r in corpus:
            if str(r["_id"]) in needed:
                kept.append(r)
            elif others > 0:
                kept.append(r)
                others -= 1
        corpus = kept
    doc_ids = [str(r["_id"]) for r in corpus]
    titles = [str(r.get("title") or "") for r in corpus]
    texts = [f"{t} {r.get('text') or ''}".strip() for t, r in zip(titles, corpus, strict=True)]
    present = set(doc_ids)
    return BeirData(
        doc_ids,
        titles,
        texts,
        {q: queries_all[q] for q in qids},
        {q: {d: s for d, s in qrels[q].items() if d in present} for q in qids},
    )


def _text_key(model_name: str, text: str) -> bytes:
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).digest()


def encode_documents(
    texts: Sequence[str], embedder, *, cache: Path | None = None, progress: Progress | None = None
) -> np.ndarray:
    """(n, dim) normalized vectors; cached per (model, document text) in `cache` (None: no cache).

    A cache file is `<sha>.npy` (vectors) + `<sha>.keys` (one 32-byte key per row), where sha hashes
    the model and all texts. A run whose exact set was cached loads one file; any other run reuses the
    rows it finds in earlier files and embeds only the rest."""
    model = embedder.name
    keys = [_text_key(model, t) for t in texts]
    digest = hashlib.sha256(b"".join(keys)).hexdigest()[:24]
    if cache is not None:
        exact = cache / f"{digest}.npy"
        if exact.is_file():
            with contextlib.suppress(OSError, ValueError):
                vecs = np.load(exact)
                if vecs.shape[0] == len(texts):
                    return vecs
    found: dict[bytes, np.ndarray] = {}
    if cache is not None and cache.is_dir():
        wanted = set(keys)
        for kf in sorted(cache.glob("*.keys")):
            try:
                raw = kf.read_bytes()
                vecs = np.load(kf.with_suffix(".npy"), mmap_mode="r")
            except (OSError, ValueError):
                continue
            if len(raw) != 32 * vecs.shape[0]:
                continue
            for i in range(vecs.shape[0]):
                k = raw[32 * i : 32 * i + 32]
                if k in wanted and k not in found:
                    found[k] = np.array(vecs[i])
    todo = [i for i, k in enumerate(keys) if k not in found]
    dim = embedder.dim
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, k in enumerate(keys):
        if k in found:
            out[i] = found[k]
    step = 256
    for s in range(0, len(todo), step):
        if progress:
            progress("embedding documents", s, len(todo))
        ids = todo[s : s + step]
        out[ids] = embedder.encode([texts[i] for i in ids])
    if progress:
        progress("embedding documents", len(todo), len(todo))
    if cache is not None and todo:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{digest}.{os.getpid()}.tmp.npy"
        np.save(tmp, out)
        (cache / f"{digest}.keys").write_bytes(b"".join(keys))
        os.replace(tmp, cache / f"{digest}.npy")
    return out


def build_memory_index(data: BeirData, vectors: np.ndarray, settings: Settings):
    """An in-memory `qa.index.Index` over BEIR documents, one chunk per document, built with the
    index build's own FAISS factory, BM25 tokenizer and bm25s settings."""
    from qa.index import Index

    chunks = [
        Chunk(i, d, t, 0, len(x), x)
        for i, (d, t, x) in enumerate(zip(data.doc_ids, data.titles, data.texts, strict=True))
    ]
    return Index.in_memory(chunks, vectors, settings)


def retrieve_runs(
    index,
    embedder,
    settings: Settings,
    queries: dict[str, str],
    modes: Sequence[str] = MODES_ORDER,
    depth: int = DEPTH,
) -> dict[str, dict[str, dict[str, float]]]:
    """mode -> query id -> {doc id: score}, scores strictly decreasing with rank (document level:
    a document's first chunk in rank order counts, later chunks of it are dropped)."""
    from qa.retrieve import Retriever

    qids = list(queries)
    qvecs = embedder.encode([queries[q] for q in qids])
    retriever = Retriever(index, embedder, settings)
    runs: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        for qid, qv in zip(qids, qvecs, strict=True):
            hits = retriever.search(queries[qid], depth, mode=mode, qvec=qv)
            docs: dict[str, float] = {}
            for h in hits:
                if h.chunk.doc_id not in docs:
                    docs[h.chunk.doc_id] = float(depth - len(docs))
            run[qid] = docs
        runs[mode] = run
    return runs


def score_runs(
    qrels: dict[str, dict[str, int]],
    runs: dict[str, dict[str, dict[str, float]]],
    metrics: Sequence[str] = METRICS,
) -> dict[str, dict[str, float]]:
    """ranx metrics per mode; a query with no retrieved document scores 0 (it stays in the mean)."""
    from ranx import Qrels, Run, evaluate

    judged = {q: r for q, r in qrels.items() if r}
    qr = Qrels(judged)
    out: dict[str, dict[str, float]] = {}
    for mode, run in runs.items():
        # ranx needs every judged query in the run: an empty result gets a sentinel that is never relevant
        filled = {q: (run.get(q) or {"\x00none": 0.0}) for q in judged}
        res = evaluate(qr, Run(filled), list(metrics), make_comparable=True)
        res = res if isinstance(res, dict) else {metrics[0]: res}
        out[mode] = {m: float(res[m]) for m in metrics}
    return out


def run_beir(
    folder: Path,
    settings: Settings,
    embedder,
    *,
    split: str = "test",
    limit_docs: int | None = None,
    limit_queries: int | None = None,
    modes: Sequence[str] = MODES_ORDER,
    cache: Path | None | bool = True,
    progress: Progress | None = None,
) -> BeirResult:
    """Load, embed (cached), index and score a BEIR benchmark for each retrieval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvalError(
            f"{folder} is not a folder",
            "pass a BEIR folder holding corpus.jsonl, queries.jsonl, qrels/",
        )
    t0 = time.perf_counter()
    data = load_beir(folder, split, limit_docs=limit_docs, limit_queries=limit_queries)
    t1 = time.perf_counter()
    cache_path = cache_dir(settings) if cache is True else (cache or None)
    vectors = encode_documents(data.texts, embedder, cache=cache_path, progress=progress)
    t2 = time.perf_counter()
    index = build_memory_index(data, vectors, settings)
    t3 = time.perf_counter()
    runs = retrieve_runs(index, embedder, settings, data.queries, modes)
    t4 = time.perf_counter()
    metrics = score_runs(data.qrels, runs)
    return BeirResult(
        folder.name,
        split,
        len(data.doc_ids),
        len(data.queries),
        metrics,
        settings={
            "model": settings.resolved_model_name,
            "rrf_k": settings.rrf_k,
            "dense_weight": settings.dense_weight,
            "bm25_weight": settings.bm25_weight,
            "fetch_factor": settings.fetch_factor,
            "depth": DEPTH,
            "documents_as": "title text, one unit per document (no chunking)",
        },
        seconds={"load": t1 - t0, "embed": t2 - t1, "index": t3 - t2, "search": t4 - t3},
    )
