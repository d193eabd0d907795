"""One `qa bench` run (its parts in order) and its summary as readable lines."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from qa.bench.common import Log, machine
from qa.bench.synthetic import TOPIC_SHARE
from qa.config import Settings

PARTS = ("real", "backends", "scale", "cold")


def run_bench(
    settings: Settings,
    chunks: int = 100_000,
    texts: int = 2000,
    queries: int = 200,
    langchain: bool = True,
    log: Log | None = None,
    workdir: Path | None = None,
    ann_threshold: int | None = None,
    topic_share: float = TOPIC_SHARE,
    parts: tuple[str, ...] = PARTS,
    cold_runs: int = 5,
) -> dict:
    """One benchmark run over copies of `settings.corpus_dir`; returns a JSON-ready dict.

    Temporary files (indexes of up to a few GB at 1M chunks) go under `workdir` (or the system's).
    The cold part asks the real part's index, or without it the index `settings` point at.
    """
    from qa.bench.cold import bench_cold
    from qa.bench.real import bench_backends, bench_real
    from qa.bench.scale import bench_scale
    from qa.corpus import load_corpus
    from qa.embed import shared_embedder
    from qa.errors import CorpusError

    log = log or (lambda s: None)
    if not load_corpus(settings.corpus_dir, settings.max_file_bytes)[0]:
        raise CorpusError(f"no usable documents in {settings.corpus_dir} to benchmark with")
    started = time.perf_counter()
    out: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="qa-bench-", dir=workdir) as tmp:
        work = Path(tmp)
        embedder = shared_embedder(settings)
        out["model"] = _model_info(embedder)
        if "real" in parts:
            out["real"] = bench_real(work, settings, embedder, texts, langchain, log)
        if "backends" in parts:
            out["backends"] = bench_backends(work, settings, texts, log)
        if "scale" in parts:
            out["scale"] = bench_scale(
                work,
                settings,
                embedder,
                chunks,
                queries,
                langchain,
                log,
                ann_threshold,
                topic_share=topic_share,
            )
        if "cold" in parts and cold_runs > 0:
            out["cold"] = bench_cold(_cold_target(settings, work, parts), cold_runs, log)
    out["total_s"] = round(time.perf_counter() - started, 1)
    return out


def _model_info(embedder) -> dict:
    """What the model is and how long its first encode takes in this process (its load)."""
    t = time.perf_counter()
    embedder.encode(["warm up"])
    return {
        "name": embedder.name,
        "backend": embedder.backend,
        "dim": embedder.dim,
        "load_s_in_process": round(time.perf_counter() - t, 2),
    }


def _cold_target(settings: Settings, work: Path, parts: tuple[str, ...]) -> Settings:
    """The real part's index when it ran, else the one `settings` point at."""
    if "real" not in parts:
        return settings
    real = work / "real"
    return settings.with_(corpus_dir=real / "corpus", index_dir=real / "index")


def format_report(r: dict) -> str:
    """The run as a few readable lines (the CLI's default output)."""
    m = r["machine"]
    lines = [
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB; load average at start {m['load_average_at_start']}",
        f"model: {r['model']['name']} ({r['model']['backend']})",
    ]
    if "real" in r:
        lines += _real_lines(r["real"])
    if "backends" in r:
        lines += _backend_lines(r["backends"])
    if "scale" in r:
        lines += _scale_lines(r["scale"])
    if "cold" in r:
        c = r["cold"]
        lines.append(
            f"fresh `qa ask` process ({c['backend']}), wall p50 (p95) / CPU p50: plain question "
            f"{c['plain']['p50_ms']:.0f} ({c['plain']['p95_ms']:.0f}) / {c['plain']['cpu_p50_ms']:.0f} ms, "
            f"quantity question {c['quantity']['p50_ms']:.0f} ({c['quantity']['p95_ms']:.0f}) / "
            f"{c['quantity']['cpu_p50_ms']:.0f} ms, n {c['plain']['n']} each; heavy modules imported: "
            f"{', '.join(c['heavy_modules_imported']) or 'none'}"
        )
    lines.append(f"total {r['total_s']} s")
    return "\n".join(lines)


def _real_lines(real: dict) -> list[str]:
    lines = [
        f"build throughput ({real['texts']} real chunks): raw encode {real['raw_encode_per_s']}/s, "
        f"build_index {real['build_per_s']}/s -> {real['build_vs_raw']:.0%} of raw; the same texts through the "
        f"{real['backend']} backend alone {real['backend_encode_s']} s -> build at {real['build_vs_backend_encode']:.0%} of it",
        f"unchanged rebuild: {real['unchanged_rebuild_s'] * 1e3:.0f} ms, {real['unchanged_rebuild_embedded']} embedded",
        f"one document changed: {real['one_doc_changed_embedded']} embedded (the document has "
        f"{real['one_doc_changed_doc_chunks']} chunks), {real['one_doc_changed_reused']} reused, {real['one_doc_changed_s']} s",
    ]
    if "langchain" in real:
        lc = real["langchain"]
        lines.append(
            f"LangChain FAISS, {real['texts']} real chunks: build {lc['build_s']} s vs ours {real['build_s']} s "
            f"(x{lc['build_time_ratio_langchain_over_ours']}); query p50 {lc['query']['p50_ms']} ms vs ours "
            f"{real['retrieve']['p50_ms']} ms retrieval (x{lc['query_p50_ratio_langchain_over_ours']})"
        )
    return lines


def _backend_lines(b: dict) -> list[str]:
    if "error" in b:
        return [f"fp32 vs int8: not measured ({b['error']})"]
    f, q = b["onnx"], b["onnx-int8"]
    return (
        [
            f"build throughput ({b['texts']} chunks), fp32 ONNX {f['build_per_s']}/s vs int8 {q['build_per_s']}/s "
            f"(x{b['int8_build_speedup']}); encoder alone {f['encode_per_s']}/s vs {q['encode_per_s']}/s "
            f"(x{b['int8_encode_speedup']})"
        ]
        + (
            [
                f"build CPU per chunk: fp32 {f['build_cpu_ms_per_chunk']} ms vs int8 "
                f"{q['build_cpu_ms_per_chunk']} ms (x{b['int8_build_cpu_ratio']})"
            ]
            if "int8_build_cpu_ratio" in b
            else []
        )
        + (
            [
                f"one thread, CPU per chunk: fp32 {b['one_thread_cpu_ms_per_text']['onnx']} ms vs int8 "
                f"{b['one_thread_cpu_ms_per_text']['onnx-int8']} ms (x{b['int8_one_thread_cpu_speedup']})"
            ]
            if "one_thread_cpu_ms_per_text" in b
            else []
        )
    )


def _scale_lines(sc: dict) -> list[str]:
    bm = sc["bm25_recall"]
    lines = [
        f"fresh query process: import {sc['import_s']} s, model load {sc['model_load_s']} s",
        f"index of {sc['chunks']} chunks [{sc['index_type']}] (synthetic words {sc['synthetic_topic_share']:.0%} "
        f"from the corpus's vocabulary): built in {sc['build_s']} s, "
        f"{sc['index_disk_mb']} MB on disk, loaded in {sc['index_load_s']} s",
        f"query end to end (embed + hybrid search + answer): p50 {sc['ask']['p50_ms']} ms, p95 {sc['ask']['p95_ms']} ms "
        f"(quantity questions p50 {sc['ask_quantity']['p50_ms']} ms, p95 {sc['ask_quantity']['p95_ms']} ms)",
        f"  retrieval alone (embed + hybrid search): p50 {sc['retrieve']['p50_ms']} ms, p95 {sc['retrieve']['p95_ms']} ms",
        f"  embed {sc['embed_query']['p50_ms']} ms, dense search {sc['dense_search']['p50_ms']} ms "
        f"(p95 {sc['dense_search']['p95_ms']}), hybrid search {sc['hybrid_search_given_vector']['p50_ms']} ms (p50)",
        f"recall@10 vs exact: {sc['recall_at_10']} (synthetic queries), {sc['recall_at_10_real_questions']} (real questions)",
        f"BM25 top-{bm['n']} vs exact: recall {bm['recall']}, exact for {bm['exact_share']:.0%} of {bm['queries']} "
        f"queries (12 questions + common-word queries); BM25 search p50 {bm['search']['p50_ms']} ms",
        f"peak RSS of the query process: {sc['peak_rss_mb']} MB",
    ]
    if "langchain" in sc:
        lc = sc["langchain"]
        lines.append(
            f"LangChain FAISS, {sc['chunks']} chunks ({lc['index']}): query p50 {lc['query']['p50_ms']} ms "
            f"vs ours {sc['retrieve']['p50_ms']} ms retrieval (x{lc['query_p50_ratio_langchain_over_ours']})"
        )
    return lines
