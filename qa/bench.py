"""`qa bench`: the cost of every step, measured in one run on the real model.

Two parts:

- Real model, real text (the corpus's articles, varied into a few thousand chunks): raw
  `SentenceTransformer.encode` throughput against `build_index` throughput on the same texts (their
  ratio is the pipeline's overhead), an unchanged rebuild, a one-document change, and LangChain's
  FAISS vector store built and queried over the same chunks with the same model.
- Scale (N chunks): the real articles plus seeded synthetic ones (word salad drawn from the corpus's
  own vocabulary, with synthetic vectors shaped like sentence embeddings: topic clusters on a
  low-dimensional subspace). The index is built by the real pipeline (only the vectors are
  synthetic); a fresh process then measures import + model load, index load, query latency end to
  end (`Engine.ask`: embed + hybrid search + answer) and of the dense search alone, recall@10 of the
  dense search against exact search, and its own peak memory (RSS).

Nothing here is imported by the rest of qa; results are plain dicts (JSON at the CLI).
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.config import Settings

# Questions about the shipped corpus; the scale index contains those articles, so answers are real.
QUESTIONS = [
    "Who is Ryu Seong-hyeon?",
    "How many North Korean troops were deployed to Russia?",
    "Why are North Korean soldiers ordered to commit suicide if captured?",
    "What did John Kirby say about North Korean losses?",
    "What injuries did the two captured soldiers have?",
    "Which fighter jets will Russia provide to North Korea?",
    "Did Putin deny the involvement of North Korean troops?",
    "How many casualties did North Korean forces suffer near Kursk?",
    "What happened to the families of soldiers who surrendered?",
    "Is this North Korea's largest deployment since the Korean War?",
    "What did the defector say about self-detonation?",
    "Where were the North Korean soldiers captured?",
]
SCALE_CHUNK_SIZE = 200  # synthetic paragraphs are 110-199 characters: one paragraph, one chunk
PIECES_PER_DOC = 200
Log = Callable[[str], None]


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def _ms(values: Sequence[float]) -> dict:
    return {"p50_ms": round(_pct(values, 50) * 1e3, 2), "p95_ms": round(_pct(values, 95) * 1e3, 2), "n": len(values)}


def machine() -> dict:
    model = platform.processor() or ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), model)
    except (OSError, subprocess.SubprocessError):
        pass
    import psutil

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------- synthetic data


class SyntheticVectors:
    """Seeded unit vectors shaped like sentence embeddings: topic clusters on a low-dimensional
    subspace plus isotropic noise. (Uniformly random 384-d vectors have no neighbourhood structure
    at all: every point is nearly equidistant, which no real embedding model produces.)"""

    def __init__(self, n_topics: int, dim: int = 384, latent: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim, self.latent = dim, latent
        self.basis = np.linalg.qr(rng.standard_normal((dim, latent)))[0].T.astype(np.float32)  # (latent, dim)
        c = rng.standard_normal((max(1, n_topics), latent)).astype(np.float32)
        self.centers = c / np.linalg.norm(c, axis=1, keepdims=True)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), dtype=np.float32)
        for s in range(0, n, 65_536):
            m = min(65_536, n - s)
            t = rng.integers(len(self.centers), size=m)
            z = self.centers[t] + rng.standard_normal((m, self.latent), dtype=np.float32) * (1.2 / self.latent**0.5)
            v = z @ self.basis + rng.standard_normal((m, self.dim), dtype=np.float32) * (0.25 / self.dim**0.5)
            out[s : s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def n_topics_for(n: int) -> int:
    """Topics grow with the corpus. With these settings a query's nearest neighbour has cosine ~0.6
    and its 10th ~0.55, about what all-MiniLM-L6-v2 gives for news questions."""
    return max(16, n // 200)


def _vocabulary(corpus_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    text = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus_dir.glob("*.txt")))
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text))
    if len(counts) < 50:  # an almost empty corpus: fall back to a fixed list
        counts.update(["the", "of", "and", "to", "in", "a", "report", "said", "officials", "troops", "border", "city", "market", "water", "energy"])
    words = np.array(sorted(counts))
    p = np.array([counts[w] for w in words], dtype=np.float64)
    return words, p / p.sum()


TOPIC_SHARE = 0.05  # share of synthetic words drawn from the corpus's own vocabulary
BACKGROUND_WORDS = 200_000  # the rest: a Zipf vocabulary of pseudo-words


def _pseudo_words(n: int) -> list[str]:
    """n distinct letter-only pseudo-words ("kabo", "tuzeli"...): consonant-vowel syllables."""
    cons, vows = "bdfgklmnprstvz", "aeiou"
    syll = [c + v for c in cons for v in vows]  # 70 syllables
    out = []
    for i in range(n):
        w, j = "", i + len(syll)  # at least two syllables
        while j:
            j, r = divmod(j, len(syll))
            w += syll[r]
        out.append(w + "q")  # a final q: never an English word, a stop word or a corpus word
    return out


def synthetic_vocabulary(corpus_dir: Path, topic_share: float = TOPIC_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(words, cdf) of synthetic text: mostly a Zipf background, partly the corpus's own words.

    Why a background: a real million-chunk corpus has hundreds of thousands of word types (Heaps'
    law), so a question's content words sit in a few percent of chunks. Word salad from the four
    articles' ~3,500 words alone would put "north" in 58% of chunks, making every BM25 posting
    list about 20x longer than in real text (`--topic-share 1` measures that worst case).
    """
    words, p = _vocabulary(corpus_dir)
    if topic_share < 1:
        ranks = np.arange(1, BACKGROUND_WORDS + 1, dtype=np.float64)
        zipf = 1.0 / ranks
        words = np.concatenate([words, np.array(_pseudo_words(BACKGROUND_WORDS))])
        p = np.concatenate([p * topic_share, zipf / zipf.sum() * (1 - topic_share)])
    cdf = np.cumsum(p)
    return words, cdf / cdf[-1]


def _phrase(rng: np.random.Generator, words: np.ndarray, cdf: np.ndarray, lo: int, hi: int) -> str:
    target = int(rng.integers(lo, hi))
    out, size = [], 0
    for w in words[np.minimum(np.searchsorted(cdf, rng.random(60)), len(words) - 1)]:
        if size + len(w) + 1 > hi - 2:
            break
        out.append(w)
        size += len(w) + 1
        if size >= target:
            break
    s = " ".join(out)
    return s[:1].upper() + s[1:] + "."


def write_synthetic_corpus(corpus_dir: Path, n_pieces: int, vocab_dir: Path, seed: int = 0,
                           topic_share: float = TOPIC_SHARE) -> list[tuple[str, str]]:
    """Write documents holding `n_pieces` paragraphs (titles included) into `corpus_dir`.

    Returns the embed text of every piece in order (what the model would read for its chunk), so a
    vector table can be keyed by it. Each paragraph is one chunk at SCALE_CHUNK_SIZE.
    """
    words, p = synthetic_vocabulary(vocab_dir, topic_share)
    rng = np.random.default_rng(seed)
    texts: list[tuple[str, str]] = []
    d = 0
    while len(texts) < n_pieces:
        m = min(PIECES_PER_DOC, n_pieces - len(texts))
        title = f"Synthetic report {d}: " + _phrase(rng, words, p, 80, 99)[:-1]
        title = title[:99].rstrip()  # as the loader reads it (first line, stripped)
        paras = [_phrase(rng, words, p, 110, 199) for _ in range(m - 1)]
        name = f"syn_{d:06d}.txt"
        (corpus_dir / name).write_text("\n\n".join([title, *paras]) + "\n", encoding="utf-8")
        texts.append((name, title))
        texts.extend((name, f"{title}\n{para}") for para in paras)
        d += 1
    return texts


class SyntheticEmbedder:
    """Synthetic vectors for the synthetic paragraphs; the real model for everything else.

    Lets `build_index` run its real pipeline at a million chunks without hours of embedding.
    """

    def __init__(self, real, table: dict[str, int], vectors: np.ndarray) -> None:
        self.real = real
        self.name = real.name
        self.settings = real.settings
        self.table = table
        self.vectors = vectors

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, texts: Sequence[str], *, progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        real = [i for i, t in enumerate(texts) if t not in self.table]
        for i, t in enumerate(texts):
            row = self.table.get(t)
            if row is not None:
                out[i] = self.vectors[row]
        if real:
            out[real] = self.real.encode([texts[i] for i in real])
        return out

    def encode_with_spans(self, texts: Sequence[str], spans) -> tuple[np.ndarray, list[np.ndarray]]:
        """A synthetic paragraph is one sentence: its sentence vector is the paragraph's."""
        out = self.encode([t for t in texts if t in self.table]) if any(t in self.table for t in texts) else None
        real = [i for i, t in enumerate(texts) if t not in self.table]
        vecs = np.empty((len(texts), self.dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        if real:
            rv, rp = self.real.encode_with_spans([texts[i] for i in real], [spans[i] for i in real])
            vecs[real] = rv
            for i, p in zip(real, rp, strict=True):
                pooled[i] = p
        syn = [i for i, t in enumerate(texts) if t in self.table]
        if syn and out is not None:
            vecs[syn] = out
            for i in syn:
                pooled[i] = np.repeat(vecs[i][None], len(spans[i]), axis=0)
        return vecs, pooled


# ---------------------------------------------------------------- part 1: real model, real text


def varied_corpus(src: Path, dst: Path, n_texts: int, chunk_size: int, chunk_overlap: int) -> int:
    """Copies of the corpus's articles, each with its own title and paragraph order, until about
    `n_texts` chunks exist (so no two chunks embed the same text). Returns the chunk count."""
    from qa.corpus import chunk_documents, load_corpus

    docs, _ = load_corpus(src)
    per_round = max(1, len(chunk_documents(docs, chunk_size, chunk_overlap)))
    rounds = max(1, round(n_texts / per_round))
    dst.mkdir(parents=True, exist_ok=True)
    for r in range(rounds):
        for d in docs:
            lines = [ln for ln in d.text.split("\n") if ln.strip()]
            body = lines[1:] if len(lines) > 1 else lines
            k = r % max(1, len(body))
            body = body[k:] + body[:k]
            (dst / f"v{r:03d}_{d.doc_id}").write_text(f"{d.title} (edition {r})\n" + "\n".join(body) + "\n", encoding="utf-8")
    docs2, _ = load_corpus(dst)
    return len(chunk_documents(docs2, chunk_size, chunk_overlap))


class LangChainEmbeddings:
    """The adapter a user writes to give LangChain our model: same weights, same normalization."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.encode([text])[0].tolist()


def _lc_embeddings(embedder):
    from langchain_core.embeddings import Embeddings

    class _Adapter(LangChainEmbeddings, Embeddings):
        pass

    return _Adapter(embedder)


def bench_real(work: Path, source: Path, embedder, n_texts: int, langchain: bool, log: Log) -> dict:
    from qa.chat import Engine
    from qa.corpus import chunk_documents, load_corpus
    from qa.retrieve import Retriever
    from qa.embed import embed_text
    from qa.index import build_index, read_manifest

    home = work / "real"
    settings = Settings(corpus_dir=home / "corpus", index_dir=home / "index")
    n = varied_corpus(source, settings.corpus_dir, n_texts, settings.chunk_size, settings.chunk_overlap)
    docs, _ = load_corpus(settings.corpus_dir)
    texts = [embed_text(c) for c in chunk_documents(docs, settings.chunk_size, settings.chunk_overlap)]
    log(f"[real] {len(docs)} documents, {n} chunks: raw encode")
    embedder.encode(texts[:64])  # warm-up, both paths
    embedder.model.encode(texts[:16], batch_size=settings.batch_size, normalize_embeddings=True)
    t = time.perf_counter()
    embedder.model.encode(texts, batch_size=settings.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    raw_s = time.perf_counter() - t
    # The same texts through the embedder the build uses (ONNX Runtime by default): build time over
    # this is the pipeline's own overhead, apart from the backend's speed.
    t = time.perf_counter()
    embedder.encode(texts)
    backend_s = time.perf_counter() - t
    log(f"[real] raw encode {raw_s:.1f} s ({embedder.backend} backend {backend_s:.1f} s); build_index")
    t = time.perf_counter()
    first = build_index(settings, embedder)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    again = build_index(settings, embedder)
    unchanged_s = time.perf_counter() - t
    # One document changed: a new title line changes every chunk's embed text in that document.
    victim = sorted(settings.corpus_dir.iterdir())[0]
    text = victim.read_text(encoding="utf-8")
    victim.write_text("Revised: " + text, encoding="utf-8")
    t = time.perf_counter()
    changed = build_index(settings, embedder)
    changed_s = time.perf_counter() - t
    victim_chunks = read_manifest(settings.index_dir).documents[victim.name]["chunks"]
    out = {
        "documents": len(docs),
        "texts": n,
        "raw_encode_s": round(raw_s, 2),
        "raw_encode_per_s": round(n / raw_s, 1),
        "build_s": round(build_s, 2),
        "build_per_s": round(n / build_s, 1),
        "build_vs_raw": round(raw_s / build_s, 3),
        "backend": embedder.backend,
        "backend_encode_s": round(backend_s, 2),
        "build_vs_backend_encode": round(backend_s / build_s, 3),
        "build_embedded": first.embedded,
        "unchanged_rebuild_s": round(unchanged_s, 3),
        "unchanged_rebuild_embedded": again.embedded,
        "unchanged_rebuild_skipped_work": again.unchanged,
        "one_doc_changed_s": round(changed_s, 2),
        "one_doc_changed_embedded": changed.embedded,
        "one_doc_changed_doc_chunks": victim_chunks,
        "one_doc_changed_reused": changed.reused,
    }
    engine = Engine(settings, embedder)
    out["ask"] = _ms(_time_asks(engine, 3 * len(QUESTIONS)))
    # What LangChain's similarity_search does (embed + search) is our retrieval, without the answer.
    retriever = Retriever(engine.index, embedder, settings)
    ours = _time_calls(retriever.search, 3 * len(QUESTIONS))
    out["retrieve"] = _ms(ours)
    if langchain:
        log("[real] LangChain FAISS over the same chunks")
        from langchain_community.vectorstores import FAISS

        lc_emb = _lc_embeddings(embedder)
        t = time.perf_counter()
        store = FAISS.from_texts(texts, lc_emb)
        lc_build = time.perf_counter() - t
        lc = _time_calls(lambda q: store.similarity_search(q, k=settings.k), 3 * len(QUESTIONS))
        out["langchain"] = {
            "build_s": round(lc_build, 2),
            "query": _ms(lc),
            "build_time_ratio_langchain_over_ours": round(lc_build / build_s, 3),
            "query_p50_ratio_langchain_over_ours": round(_pct(lc, 50) / _pct(ours, 50), 3),
        }
    return out


def _time_calls(fn: Callable[[str], object], n: int, warm: int = 3) -> list[float]:
    for q in QUESTIONS[:warm]:
        fn(q)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(QUESTIONS[i % len(QUESTIONS)])
        out.append(time.perf_counter() - t)
    return out


def _time_asks(engine, n: int) -> list[float]:
    return _time_calls(engine.ask, n)


# ---------------------------------------------------------------- part 2: scale


def scale_settings(home: Path, ann_threshold: int | None = None) -> Settings:
    return Settings(corpus_dir=home / "corpus", index_dir=home / "index", chunk_size=SCALE_CHUNK_SIZE,
                    chunk_overlap=0).with_(ann_threshold=ann_threshold)


def bench_scale(work: Path, source: Path, embedder, n_chunks: int, queries: int, langchain: bool, log: Log,
                ann_threshold: int | None = None, seed: int = 0, topic_share: float = TOPIC_SHARE) -> dict:
    from qa.corpus import chunk_documents, load_corpus
    from qa.index import build_index

    home = work / "scale"
    settings = scale_settings(home, ann_threshold)
    settings.corpus_dir.mkdir(parents=True)
    real_docs, _ = load_corpus(source)
    for d in real_docs:
        shutil.copy(source / d.doc_id, settings.corpus_dir / d.doc_id)
    n_real = len(chunk_documents(real_docs, settings.chunk_size, settings.chunk_overlap))
    n_syn = max(0, n_chunks - n_real)
    log(f"[scale] writing {n_syn} synthetic chunks (+{n_real} real)")
    t = time.perf_counter()
    pieces = write_synthetic_corpus(settings.corpus_dir, n_syn, source, seed, topic_share)
    gen = SyntheticVectors(n_topics_for(n_chunks), embedder.dim, seed=seed)
    vectors = gen.sample(len(pieces), seed + 1)
    table = {text: i for i, (_, text) in enumerate(pieces)}
    gen_s = time.perf_counter() - t
    log(f"[scale] generated in {gen_s:.1f} s; build_index")
    t = time.perf_counter()
    report = build_index(settings, SyntheticEmbedder(embedder, table, vectors))
    build_s = time.perf_counter() - t
    del table, pieces
    root = settings.index_dir
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    faiss_mb = sum(p.stat().st_size for p in root.rglob("faiss.index")) / 2**20
    log(f"[scale] built {report.chunks} chunks [{report.index_type}] in {build_s:.1f} s; query process")
    args = {"corpus_dir": str(settings.corpus_dir), "index_dir": str(settings.index_dir),
            "ann_threshold": settings.ann_threshold, "queries": queries, "n_topics": n_topics_for(n_chunks),
            "seed": seed, "source_dir": str(source)}
    proc = subprocess.run([sys.executable, "-c", "import sys; from qa.bench import _worker_main; _worker_main()",
                           json.dumps(args)], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"query process failed:\n{proc.stderr[-3000:]}")
    worker = json.loads(proc.stdout.strip().splitlines()[-1])
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


def _langchain_at_scale(settings: Settings, embedder, worker: dict, log: Log) -> dict:
    """LangChain's FAISS store over the same chunks and vectors (from_embeddings: no re-embedding)."""
    from langchain_community.vectorstores import FAISS

    from qa.index import load_index

    idx = load_index(settings, check_fresh=False)
    log("[scale] LangChain FAISS.from_embeddings over the same chunks and vectors")
    vectors = np.asarray(idx.vectors)
    pairs = [(c.text, vectors[i]) for i, c in enumerate(idx.chunks)]
    t = time.perf_counter()
    store = FAISS.from_embeddings(pairs, _lc_embeddings(embedder))
    build = time.perf_counter() - t
    del pairs, idx, vectors
    lat = _time_calls(lambda q: store.similarity_search(q, k=settings.k), 2 * len(QUESTIONS))
    return {
        "build_from_vectors_s": round(build, 1),
        "index": type(store.index).__name__,
        "query": _ms(lat),
        "query_p50_ratio_langchain_over_ours": round(_pct(lat, 50) * 1e3 / worker["retrieve"]["p50_ms"], 2),
    }


def _worker_main() -> None:
    print(json.dumps(query_worker(json.loads(sys.argv[1]))))


def query_worker(args: dict) -> dict:
    """Runs in a fresh process: start-up cost, load, latency, then peak RSS, then recall."""
    t0 = time.perf_counter()
    from qa.chat import Engine
    from qa.embed import Embedder
    from qa.retrieve import Retriever

    import_s = time.perf_counter() - t0
    settings = Settings(corpus_dir=Path(args["corpus_dir"]), index_dir=Path(args["index_dir"]),
                        chunk_size=SCALE_CHUNK_SIZE, chunk_overlap=0, ann_threshold=args["ann_threshold"])
    t = time.perf_counter()
    embedder = Embedder(settings)
    embedder.encode(["warm up"])
    model_s = time.perf_counter() - t
    t = time.perf_counter()
    engine = Engine(settings, embedder)
    idx = engine.index
    load_s = time.perf_counter() - t
    n_q = int(args["queries"])
    ask = _time_asks(engine, n_q)
    answered = sum(not engine.ask(q).abstained for q in QUESTIONS)
    qv = embedder.encode(QUESTIONS)
    embed = _time_calls(lambda q: embedder.encode([q]), n_q)
    gen = SyntheticVectors(args["n_topics"], embedder.dim, seed=args["seed"])
    syn_q = gen.sample(200, args["seed"] + 7)
    dense = []
    for i in range(n_q):
        q = syn_q[i % len(syn_q)]
        t = time.perf_counter()
        idx.dense_search(q, settings.k * settings.fetch_factor)
        dense.append(time.perf_counter() - t)
    hybrid = []
    r = Retriever(idx, embedder, settings)
    retrieve = _time_calls(r.search, n_q)
    for i in range(n_q):
        t = time.perf_counter()
        r.search(QUESTIONS[i % len(QUESTIONS)], qvec=qv[i % len(qv)])
        hybrid.append(time.perf_counter() - t)
    rss_mb = peak_rss_mb()
    return {
        "import_s": round(import_s, 2),
        "model_load_s": round(model_s, 2),
        "index_load_s": round(load_s, 2),
        "ask": _ms(ask),
        "embed_query": _ms(embed),
        "dense_search": _ms(dense),
        "hybrid_search_given_vector": _ms(hybrid),
        "retrieve": _ms(retrieve),
        "questions_answered": f"{answered}/{len(QUESTIONS)}",
        "peak_rss_mb": round(rss_mb, 1),
        "recall_at_10": round(recall_at_k(idx, syn_q, 10), 4),
        "recall_at_10_real_questions": round(recall_at_k(idx, qv, 10), 4),
        "bm25_recall": bm25_recall(idx, QUESTIONS + word_queries(Path(args["source_dir"]), 60, args["seed"]),
                                   settings.k * settings.fetch_factor),
    }


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    worker started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def word_queries(corpus_dir: Path, n: int, seed: int) -> list[str]:
    """Queries of 3-6 words drawn by corpus frequency: only common words, BM25's hardest case."""
    words, p = _vocabulary(corpus_dir)
    rng = np.random.default_rng(seed + 11)
    return [" ".join(rng.choice(words, size=int(rng.integers(3, 7)), p=p)) for _ in range(n)]


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
        ids = idx.tokenizer.tokenize([q], update_vocab="never", return_as="ids", show_progress=False)[0]
        scores = sparse.full_scores(ids, sc["indptr"], sc["indices"], sc["data"], int(sc["num_docs"]))
        cand = np.flatnonzero(scores > 0)
        want = cand[np.lexsort((cand, -scores[cand]))[:n]].tolist()
        hits += len(set(got) & set(want))
        total += len(want)
        exact += got == want
    return {"n": n, "recall": round(hits / max(total, 1), 4), "exact_share": round(exact / max(len(queries), 1), 3),
            "queries": len(queries), "search": _ms(lat)}


def recall_at_k(idx, queries: np.ndarray, k: int) -> float:
    truth = exact_top_k(idx.vectors, queries, k)
    hits = 0
    for q, t in zip(queries, truth, strict=True):
        got = {cid for cid, _ in idx.dense_search(q, k)}
        hits += len(got & set(t.tolist()))
    return hits / (k * len(queries))


# ---------------------------------------------------------------- the whole run


def run_bench(settings: Settings, chunks: int = 100_000, texts: int = 2000, queries: int = 200,
              langchain: bool = True, log: Log | None = None, workdir: Path | None = None,
              ann_threshold: int | None = None, topic_share: float = TOPIC_SHARE) -> dict:
    """One benchmark run over copies of `settings.corpus_dir`; returns a JSON-ready dict.

    Temporary files (indexes of up to a few GB at 1M chunks) go under `workdir` (or the system's).
    """
    from qa.corpus import load_corpus
    from qa.embed import shared_embedder
    from qa.errors import CorpusError

    log = log or (lambda s: None)
    source = settings.corpus_dir
    if not load_corpus(source, settings.max_file_bytes)[0]:
        raise CorpusError(f"no usable documents in {source} to benchmark with")
    started = time.perf_counter()
    out: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="qa-bench-", dir=workdir) as tmp:
        work = Path(tmp)
        embedder = shared_embedder(settings)
        t = time.perf_counter()
        embedder.encode(["warm up"])
        out["model"] = {"name": embedder.name, "dim": embedder.dim, "load_s_in_process": round(time.perf_counter() - t, 2)}
        out["real"] = bench_real(work, source, embedder, texts, langchain, log)
        out["scale"] = bench_scale(work, source, embedder, chunks, queries, langchain, log, ann_threshold,
                                   topic_share=topic_share)
    out["total_s"] = round(time.perf_counter() - started, 1)
    return out


def format_report(r: dict) -> str:
    """The run as a few readable lines (the CLI's default output)."""
    m, real, sc = r["machine"], r["real"], r["scale"]
    lines = [
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB; load average at start {m['load_average_at_start']}",
        f"model: {r['model']['name']}; fresh process: import {sc['import_s']} s, model load {sc['model_load_s']} s",
        f"build throughput ({real['texts']} real chunks): raw encode {real['raw_encode_per_s']}/s, "
        f"build_index {real['build_per_s']}/s -> {real['build_vs_raw']:.0%} of raw; the same texts through the "
        f"{real['backend']} backend alone {real['backend_encode_s']} s -> build at {real['build_vs_backend_encode']:.0%} of it",
        f"unchanged rebuild: {real['unchanged_rebuild_s'] * 1e3:.0f} ms, {real['unchanged_rebuild_embedded']} embedded",
        f"one document changed: {real['one_doc_changed_embedded']} embedded (the document has "
        f"{real['one_doc_changed_doc_chunks']} chunks), {real['one_doc_changed_reused']} reused, {real['one_doc_changed_s']} s",
        f"index of {sc['chunks']} chunks [{sc['index_type']}] (synthetic words {sc['synthetic_topic_share']:.0%} "
        f"from the corpus's vocabulary): built in {sc['build_s']} s, "
        f"{sc['index_disk_mb']} MB on disk, loaded in {sc['index_load_s']} s",
        f"query end to end (embed + hybrid search + answer): p50 {sc['ask']['p50_ms']} ms, p95 {sc['ask']['p95_ms']} ms",
        f"  retrieval alone (embed + hybrid search): p50 {sc['retrieve']['p50_ms']} ms, p95 {sc['retrieve']['p95_ms']} ms",
        f"  embed {sc['embed_query']['p50_ms']} ms, dense search {sc['dense_search']['p50_ms']} ms "
        f"(p95 {sc['dense_search']['p95_ms']}), hybrid search {sc['hybrid_search_given_vector']['p50_ms']} ms (p50)",
        f"recall@10 vs exact: {sc['recall_at_10']} (synthetic queries), {sc['recall_at_10_real_questions']} (real questions)",
        f"BM25 top-{sc['bm25_recall']['n']} vs exact: recall {sc['bm25_recall']['recall']}, exact for "
        f"{sc['bm25_recall']['exact_share']:.0%} of {sc['bm25_recall']['queries']} queries (12 questions + common-word "
        f"queries); BM25 search p50 {sc['bm25_recall']['search']['p50_ms']} ms",
        f"peak RSS of the query process: {sc['peak_rss_mb']} MB",
    ]
    if "langchain" in real:
        lc = real["langchain"]
        lines.append(f"LangChain FAISS, {real['texts']} real chunks: build {lc['build_s']} s vs ours {real['build_s']} s "
                     f"(x{lc['build_time_ratio_langchain_over_ours']}); query p50 {lc['query']['p50_ms']} ms vs ours "
                     f"{real['retrieve']['p50_ms']} ms retrieval (x{lc['query_p50_ratio_langchain_over_ours']})")
    if "langchain" in sc:
        lc = sc["langchain"]
        lines.append(f"LangChain FAISS, {sc['chunks']} chunks ({lc['index']}): query p50 {lc['query']['p50_ms']} ms "
                     f"vs ours {sc['retrieve']['p50_ms']} ms retrieval (x{lc['query_p50_ratio_langchain_over_ours']})")
    lines.append(f"total {r['total_s']} s")
    return "\n".join(lines)
