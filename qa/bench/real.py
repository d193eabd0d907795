"""Part 1 of `qa bench`: the real model on real text (the corpus's articles, varied into a few
thousand chunks): raw `SentenceTransformer.encode` against `build_index` on the same texts (their
ratio is the pipeline's overhead), rebuilds, latency, LangChain's FAISS store on the same chunks,
and fp32 ONNX against int8 build throughput."""

from __future__ import annotations

import time
from pathlib import Path

from qa.bench.common import QUESTIONS, Log, ms, need, pct, time_asks, time_calls
from qa.config import Settings


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
            (dst / f"v{r:03d}_{d.doc_id}").write_text(
                f"{d.title} (edition {r})\n" + "\n".join(body) + "\n", encoding="utf-8"
            )
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


def lc_embeddings(embedder):
    from langchain_core.embeddings import Embeddings

    class _Adapter(LangChainEmbeddings, Embeddings):
        pass

    return _Adapter(embedder)


def bench_real(
    work: Path, base: Settings, embedder, n_texts: int, langchain: bool, log: Log
) -> dict:
    """Throughput (raw encode, the backend alone, build_index), rebuilds, latency, LangChain."""
    from qa.chat import Engine
    from qa.corpus import chunk_documents, load_corpus
    from qa.embed import embed_text
    from qa.retrieve import Retriever

    home = work / "real"
    settings = base.with_(corpus_dir=home / "corpus", index_dir=home / "index")
    n = varied_corpus(
        base.corpus_dir, settings.corpus_dir, n_texts, settings.chunk_size, settings.chunk_overlap
    )
    docs, _ = load_corpus(settings.corpus_dir)
    texts = [
        embed_text(c) for c in chunk_documents(docs, settings.chunk_size, settings.chunk_overlap)
    ]
    log(f"[real] {len(docs)} documents, {n} chunks: raw encode")
    embedder.encode(texts[:64])  # warm-up, both paths
    embedder.model.encode(texts[:16], batch_size=settings.batch_size, normalize_embeddings=True)
    t = time.perf_counter()
    embedder.model.encode(
        texts, batch_size=settings.batch_size, normalize_embeddings=True, convert_to_numpy=True
    )
    raw_s = time.perf_counter() - t
    # The same texts through the embedder the build uses (ONNX Runtime by default): build time over
    # this is the pipeline's own overhead, apart from the backend's speed.
    t = time.perf_counter()
    embedder.encode(texts)
    backend_s = time.perf_counter() - t
    log(
        f"[real] raw encode {raw_s:.1f} s ({embedder.backend} backend {backend_s:.1f} s); build_index"
    )
    out = {
        "documents": len(docs),
        "texts": n,
        "raw_encode_s": round(raw_s, 2),
        "raw_encode_per_s": round(n / raw_s, 1),
    }
    out.update(_rebuilds(settings, embedder, n))
    out.update(
        build_vs_raw=round(raw_s / out["build_s"], 3),
        backend=embedder.backend,
        backend_encode_s=round(backend_s, 2),
        build_vs_backend_encode=round(backend_s / out["build_s"], 3),
    )
    engine = Engine(settings, embedder)
    out["ask"] = ms(time_asks(engine, 3 * len(QUESTIONS)))
    # What LangChain's similarity_search does (embed + search) is our retrieval, without the answer.
    retriever = Retriever(engine.index, embedder, settings)
    ours = time_calls(retriever.search, 3 * len(QUESTIONS))
    out["retrieve"] = ms(ours)
    if langchain:
        log("[real] LangChain FAISS over the same chunks")
        out["langchain"] = _langchain_real(texts, embedder, settings, out["build_s"], ours)
    return out


def _rebuilds(settings: Settings, embedder, n: int) -> dict:
    """The first build, an unchanged rebuild, and a rebuild after one document changed."""
    from qa.index import build_index, read_manifest

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
    return {
        "build_s": round(build_s, 2),
        "build_per_s": round(n / build_s, 1),
        "build_embedded": first.embedded,
        "unchanged_rebuild_s": round(unchanged_s, 3),
        "unchanged_rebuild_embedded": again.embedded,
        "unchanged_rebuild_skipped_work": again.unchanged,
        "one_doc_changed_s": round(changed_s, 2),
        "one_doc_changed_embedded": changed.embedded,
        "one_doc_changed_doc_chunks": read_manifest(settings.index_dir).documents[victim.name][
            "chunks"
        ],
        "one_doc_changed_reused": changed.reused,
    }


def _langchain_real(
    texts: list[str], embedder, settings: Settings, build_s: float, ours: list[float]
) -> dict:
    faiss_store = need("langchain_community.vectorstores", "bench")
    lc_emb = lc_embeddings(embedder)
    t = time.perf_counter()
    store = faiss_store.FAISS.from_texts(texts, lc_emb)
    lc_build = time.perf_counter() - t
    lc = time_calls(lambda q: store.similarity_search(q, k=settings.k), 3 * len(QUESTIONS))
    return {
        "build_s": round(lc_build, 2),
        "query": ms(lc),
        "build_time_ratio_langchain_over_ours": round(lc_build / build_s, 3),
        "query_p50_ratio_langchain_over_ours": round(pct(lc, 50) / pct(ours, 50), 3),
    }


def bench_backends(work: Path, base: Settings, n_texts: int, log: Log, rounds: int = 2) -> dict:
    """fp32 ONNX against int8 in the same process on the same varied corpus: `build_index` with
    each, `rounds` times in alternating order (each build into a fresh index), wall and process
    CPU time; then the encoder alone with the two interleaved in slices, so a change in the
    machine's load hits both alike. `int8_build_speedup` is fp32 build time over int8's (sums over
    the rounds), `int8_build_cpu_ratio` the same for CPU time."""
    from qa.corpus import chunk_documents, load_corpus
    from qa.embed import Embedder, embed_text
    from qa.errors import ModelError

    corpus = work / "backends" / "corpus"
    n = varied_corpus(base.corpus_dir, corpus, n_texts, base.chunk_size, base.chunk_overlap)
    docs, _ = load_corpus(corpus)
    texts = [embed_text(c) for c in chunk_documents(docs, base.chunk_size, base.chunk_overlap)]
    out: dict = {"texts": n, "rounds": rounds, "load_average_at_start": _load()}
    embedders = {}
    for backend in ("onnx", "onnx-int8"):
        try:
            embedders[backend] = Embedder(base.with_(corpus_dir=corpus, embed_backend=backend))
            embedders[backend].encode(texts[:16])  # makes the file on first use, and warms up
        except ModelError as exc:
            return {**out, "error": f"{backend}: {exc.message}"}
    out.update(_builds(work / "backends", embedders, n, rounds, log))
    spent = dict.fromkeys(embedders, 0.0)
    for i in range(0, len(texts), 64):
        for backend, e in embedders.items():
            t = time.perf_counter()
            e.encode(texts[i : i + 64])
            spent[backend] += time.perf_counter() - t
    for backend, dt in spent.items():
        out[backend]["encode_per_s"] = round(len(texts) / dt, 1)
    out["int8_encode_speedup"] = round(spent["onnx"] / spent["onnx-int8"], 2)
    out.update(_one_thread_cpu(base, texts))
    out["load_average_at_end"] = _load()
    return out


def _load() -> list[float]:
    import os

    return [round(x, 2) for x in os.getloadavg()]


def _builds(home: Path, embedders: dict, n: int, rounds: int, log: Log) -> dict:
    """`build_index` with each embedder `rounds` times, alternating which goes first."""
    from qa.index import build_index

    # A first build imports what a build needs (bm25s, datasketch, scipy: seconds): not timed.
    warm = home / "warm"
    (warm / "corpus").mkdir(parents=True, exist_ok=True)
    first = embedders["onnx"].settings
    for p in sorted(first.corpus_dir.iterdir())[:2]:
        (warm / "corpus" / p.name).write_bytes(p.read_bytes())
    build_index(
        first.with_(corpus_dir=warm / "corpus", index_dir=warm / "index"), embedders["onnx"]
    )
    wall = {b: [] for b in embedders}
    cpu = {b: [] for b in embedders}
    for r in range(rounds):
        for backend in list(embedders)[:: 1 if r % 2 == 0 else -1]:
            e = embedders[backend]
            log(f"[backends] round {r + 1}: build_index with {backend} ({n} chunks)")
            s = e.settings.with_(index_dir=home / f"index-{backend}-{r}")
            t, c = time.perf_counter(), time.process_time()
            build_index(s, e)
            wall[backend].append(time.perf_counter() - t)
            cpu[backend].append(time.process_time() - c)
    out: dict = {
        b: {
            "build_s": round(sum(wall[b]) / rounds, 2),
            "build_per_s": round(n * rounds / sum(wall[b]), 1),
            "build_s_each": [round(x, 2) for x in wall[b]],
            "build_cpu_ms_per_chunk": round(sum(cpu[b]) / (n * rounds) * 1e3, 2),
        }
        for b in embedders
    }
    out["int8_workers"] = getattr(embedders["onnx-int8"]._onnx, "workers", 1)
    out["int8_build_speedup"] = round(sum(wall["onnx"]) / sum(wall["onnx-int8"]), 2)
    out["int8_build_cpu_ratio"] = round(sum(cpu["onnx"]) / sum(cpu["onnx-int8"]), 2)
    return out


def _one_thread_cpu(base: Settings, texts: list[str]) -> dict:
    """CPU seconds of the calling thread per text, each backend on one ONNX Runtime thread (which
    then runs on the caller's thread): the model's own cost, whatever the machine's load."""
    from qa.embed import Embedder

    one = {b: Embedder(base.with_(embed_backend=b, embed_threads=1)) for b in ("onnx", "onnx-int8")}
    cpu = dict.fromkeys(one, 0.0)
    for e in one.values():
        e.encode(texts[:4])  # warm-up
    for i in range(0, len(texts), 16):
        for backend, e in one.items():
            t = time.thread_time()
            e.encode(texts[i : i + 16])
            cpu[backend] += time.thread_time() - t
    return {
        "one_thread_cpu_ms_per_text": {b: round(c / len(texts) * 1e3, 2) for b, c in cpu.items()},
        "int8_one_thread_cpu_speedup": round(cpu["onnx"] / cpu["onnx-int8"], 2),
    }
