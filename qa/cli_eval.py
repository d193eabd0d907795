"""`qa eval` and `qa bench`: measuring, with their optional dependencies checked first."""

from __future__ import annotations

import json
import os

import click

from qa.cli_common import _Bar, _require, _settings, handle_errors
from qa.config import MODES, Settings
from qa.errors import QAError


@click.command("eval")
@click.argument("questions_file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--beir",
    "beir_dir",
    type=click.Path(file_okay=False),
    help="Run a BEIR-format benchmark folder instead.",
)
@click.option("--k", "k", type=click.IntRange(1, 100), help="Passages per question (default QA_K).")
@click.option(
    "--mode",
    type=click.Choice(MODES),
    help="Retrieval mode (gold file: default QA_MODE; BEIR: all three).",
)
@click.option(
    "--split",
    default="test",
    show_default=True,
    help="BEIR qrels split (tune on train, report test).",
)
@click.option(
    "--limit-docs",
    type=click.IntRange(1),
    help="BEIR: keep the judged documents plus others up to N.",
)
@click.option(
    "--limit-queries", type=click.IntRange(1), help="BEIR: only the first N judged queries."
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="BEIR: embed the documents again instead of using ~/.cache/qa/beir.",
)
@click.option(
    "--articles", help="Gold file: only questions about these documents by number, e.g. 18-35."
)
@click.option(
    "--sources-glob",
    help="Gold file: only questions about documents matching this glob ('|' between).",
)
@click.option(
    "--every",
    type=click.IntRange(1),
    default=1,
    help="Gold file: every Nth question (after filters).",
)
@click.option(
    "--limit", type=click.IntRange(1), help="Gold file: the first N questions (after filters)."
)
@click.option("--details", is_flag=True, help="With --json: every question's result too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def eval_cmd(
    ctx: click.Context,
    questions_file: str | None,
    beir_dir: str | None,
    k: int | None,
    mode: str | None,
    split: str,
    limit_docs: int | None,
    limit_queries: int | None,
    no_cache: bool,
    articles: str | None,
    sources_glob: str | None,
    every: int,
    limit: int | None,
    details: bool,
    as_json: bool,
) -> None:
    """Score retrieval and answers on gold QUESTIONS_FILE (JSONL/YAML), or on a BEIR benchmark (--beir DIR)."""
    from qa.errors import EvalError

    settings = _settings(ctx)
    if bool(questions_file) == bool(beir_dir):
        raise EvalError(
            "give either a questions file or --beir DIR", "e.g. `qa eval tests/gold/corpus.jsonl`"
        )
    _require("ranx", "eval")
    if beir_dir:
        _eval_beir(settings, beir_dir, mode, split, limit_docs, limit_queries, no_cache, as_json)
        return
    from qa.chat import Engine
    from qa.evaluate import evaluate, format_report, load_gold, select
    from qa.gold import check_sources

    engine = Engine(settings)
    gold = select(
        load_gold(questions_file),
        sources_glob=sources_glob,
        articles=articles,
        every=every,
        limit=limit,
    )
    check_sources(gold, list(engine.index.documents), os.path.basename(questions_file))
    report = evaluate(engine, gold, k=k, mode=mode)
    if as_json:
        click.echo(json.dumps(report.to_dict(with_results=details), ensure_ascii=False))
        return
    click.echo(format_report(report))


def _eval_beir(
    settings: Settings,
    beir_dir: str,
    mode: str | None,
    split: str,
    limit_docs: int | None,
    limit_queries: int | None,
    no_cache: bool,
    as_json: bool,
) -> None:
    """`qa eval --beir DIR`: nDCG@10, recall@100 and MRR@10 per retrieval mode."""
    from qa.beir import MODES_ORDER, run_beir
    from qa.embed import shared_embedder

    modes = (mode,) if mode else MODES_ORDER
    bar = _Bar()
    try:
        res = run_beir(
            beir_dir,
            settings,
            shared_embedder(settings),
            split=split,
            limit_docs=limit_docs,
            limit_queries=limit_queries,
            modes=modes,
            cache=not no_cache,
            progress=bar,
        )
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(res.to_dict(), ensure_ascii=False))
        return
    click.echo(f"{res.name} ({res.split}): {res.documents} documents, {res.queries} queries")
    click.echo(f"{'mode':8} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}")
    for m, v in res.metrics.items():
        click.echo(f"{m:8} {v['ndcg@10']:8.4f} {v['recall@100']:8.4f} {v['mrr@10']:8.4f}")


@click.command("bench")
@click.option(
    "--chunks",
    type=click.IntRange(100, 5_000_000),
    default=100_000,
    show_default=True,
    help="Index size for the latency/recall/memory part (synthetic beyond the corpus).",
)
@click.option(
    "--texts",
    type=click.IntRange(20, 100_000),
    default=2000,
    show_default=True,
    help="Real-model chunks for the throughput/incremental/LangChain part.",
)
@click.option(
    "--queries",
    type=click.IntRange(10, 100_000),
    default=200,
    show_default=True,
    help="Timed questions per latency figure.",
)
@click.option("--no-langchain", is_flag=True, help="Skip the LangChain FAISS comparison.")
@click.option(
    "--topic-share",
    type=click.FloatRange(0.001, 1.0),
    default=0.05,
    show_default=True,
    help="Share of synthetic words taken from the corpus's vocabulary (the rest: a Zipf background); "
    "1 is BM25's worst case.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    help="Where temporary indexes go (default: system temp).",
)
@click.option(
    "--parts",
    default="real,backends,scale,cold",
    show_default=True,
    help="Comma-separated parts to run: real, backends (fp32 vs int8 build), scale, cold.",
)
@click.option(
    "--cold",
    "cold_runs",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    help="Fresh `qa ask` processes per question for the cold-start part (0 skips it).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Only the Ray comparison (docs/scale.md): --texts real chunks built locally and by 1 and 2 "
    "Ray workers; alone, a local cluster; else `auto` or an address.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def bench(
    ctx: click.Context,
    chunks: int,
    texts: int,
    queries: int,
    no_langchain: bool,
    topic_share: float,
    workdir: str | None,
    parts: str,
    cold_runs: int,
    as_json: bool,
    ray_address: str | None = None,
) -> None:
    """Measure model load, build throughput (raw, fp32 vs int8), rebuilds, latency, recall, memory, cold start.

    `qa bench --parts cold` times fresh `qa ask` processes against the index in ./index."""
    from pathlib import Path

    if ray_address is not None:  # the Ray part alone (qa/bench_ray.py)
        from qa.bench_ray import format_ray_report, run_ray_bench

        result = run_ray_bench(
            _settings(ctx).with_(ray_address=ray_address),
            texts=texts,
            log=lambda s: click.echo(s, err=True),
            workdir=Path(workdir) if workdir else None,
        )
        click.echo(json.dumps(result, indent=2) if as_json else format_ray_report(result))
        return
    from qa.bench import PARTS, format_report, run_bench

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown or not chosen:
        raise QAError(
            f"unknown bench part(s) {', '.join(unknown) or '(none given)'}",
            f"use some of {', '.join(PARTS)}",
        )
    if {"real", "scale"} & set(chosen) and not no_langchain:
        _require("langchain_community", "bench")
    _require("psutil", "bench")
    result = run_bench(
        _settings(ctx),
        chunks=chunks,
        texts=texts,
        queries=queries,
        langchain=not no_langchain,
        log=lambda s: click.echo(s, err=True),
        workdir=Path(workdir) if workdir else None,
        topic_share=topic_share,
        parts=chosen,
        cold_runs=cold_runs,
    )
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))
