"""The `qa` command. Thin: parses options, calls the library, prints. Only here do errors become messages."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from qa.config import MODES, Settings
from qa.errors import QAError


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QAError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _require(module: str, extra: str) -> None:
    """Fail before a long run when an optional dependency is missing, naming the extra to install."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise QAError(f"{module} is not installed", f"pip install -e '.[{extra}]'")


def _light_bm25s() -> None:
    """Import bm25s without numba, scipy and tqdm (~1 s of a fresh `qa ask` here).

    bm25s imports both if installed (numba comes with ranx, the [eval] extra) but a question needs
    none: the index scores BM25 with its own code (qa.index.sparse), loads plain arrays, shows no bar.
    bm25s treats a failed import as "not installed", so both are hidden while it loads and then
    made importable again for anything else in the process.
    """
    if "bm25s" in sys.modules:
        return
    hidden = [m for m in ("numba", "scipy", "tqdm") if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # import of m now raises ImportError
    try:
        import bm25s  # noqa: F401
    finally:
        for m in hidden:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False), help="Corpus folder (default ./corpus).")
@click.option("--index", "index_dir", type=click.Path(file_okay=False), help="Index folder (default ./index).")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False), help="Local sentence-transformers model folder.")
@click.pass_context
@handle_errors
def cli(ctx: click.Context, corpus_dir: str | None, index_dir: str | None, model_path: str | None) -> None:
    """Cited question answering over the documents in corpus/, offline."""
    from pathlib import Path

    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_env(
        corpus_dir=Path(corpus_dir).resolve() if corpus_dir else None,
        index_dir=Path(index_dir).resolve() if index_dir else None,
        model_path=model_path,
    )


@cli.group("index")
def index_group() -> None:
    """Build and inspect the index."""


class _Bar:
    """The library's progress callback as a tqdm bar (with its rate, e.g. chunks/s of a Ray
    cluster) for embedding stages, one line for the others."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            if stage.startswith("embedding") and total > 0:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=stage, unit="chunk", file=sys.stderr, dynamic_ncols=True)
            elif stage != "done":
                click.echo(f"{stage} ...", err=True)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@index_group.command("build")
@click.option("--force", is_flag=True, help="Re-embed everything, ignoring the embedding cache.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Embed on Ray (docs/scale.md): alone, a local cluster; `auto`, the running one; or "
                   "HOST:PORT / ray://HOST:PORT (default QA_RAY_ADDRESS).")
@click.option("--ray-workers", type=click.IntRange(1), help="Ray embedding workers of one CPU (default: all CPUs).")
@click.pass_context
@handle_errors
def index_build(ctx: click.Context, force: bool, ray_address: str | None, ray_workers: int | None) -> None:
    """Build or update the index (only new or changed documents are embedded)."""
    from qa.embed import shared_embedder
    from qa.index import build_index

    settings = _settings(ctx).with_(ray_address=ray_address, ray_workers=ray_workers)
    bar = _Bar()
    try:
        report = build_index(settings, shared_embedder(settings), bar, force=force)
    finally:
        bar.close()
    for s in report.skipped:
        click.echo(f"skipped {s.name}: {s.reason}", err=True)
    if report.unchanged:
        click.echo(f"index is up to date: {report.documents} documents, {report.chunks} chunks ({report.seconds:.2f} s)")
    else:
        click.echo(
            f"indexed {report.documents} documents, {report.chunks} chunks "
            f"({report.embedded} embedded, {report.reused} from cache) "
            f"into {settings.index_dir} [{report.index_type}] in {report.seconds:.1f} s"
        )


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def index_status(ctx: click.Context, as_json: bool) -> None:
    """Per document: indexed, stale, new, removed or skipped (with the reason)."""
    from qa.index.status import index_status as check

    status = check(_settings(ctx))
    if as_json:
        out = {**status.to_dict(), "fresh": status.fresh}
        click.echo(_json_line_safe(json.dumps(out, ensure_ascii=False, indent=2)))
        return
    if status.model:
        click.echo(
            f"index {status.index_dir}: {status.n_chunks} chunks, model {status.model.get('name')} "
            f"({status.model.get('dim')} dims), {status.index_type}, built {status.built_at}"
        )
    for s in status.documents:
        detail = s.reason or ", ".join(_doc_details(s))
        click.echo(f"  {s.status:8} {s.doc_id}" + (f"  ({detail})" if detail else ""))
    if status.state == "missing":
        click.echo(f"{status.message}: {status.hint}")
    elif status.state in ("damaged", "mismatch"):
        click.echo(f"the index cannot be used: {status.message}: {status.hint}")
    elif status.state == "stale":
        click.echo("the index is stale: run `qa index build`")


def _json_line_safe(text: str) -> str:
    """U+2028/U+2029 are line breaks to some readers: escaped, so one JSON object stays one line."""
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _doc_details(s) -> list[str]:
    """Chunks, date (saying when it is only the file's date), outlet and the story a copy repeats."""
    meta = s.meta or {}
    out = [f"{s.chunks} chunks"] if s.chunks else []
    if meta.get("published"):
        file_date = meta.get("date_source") == "file mtime"
        out.append(meta["published"] + (" (file date)" if file_date else ""))
    out += [meta["outlet"]] if meta.get("outlet") else []
    out += [f"same story as {meta['same_story_as']}"] if meta.get("same_story_as") else []
    return out


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        click.echo(_json_line_safe(json.dumps(answer.to_dict(), ensure_ascii=False)))
        return
    click.echo(answer.answer)
    cites = answer.citations or answer.closest
    if cites:
        click.echo("")
        click.echo("Sources:" if answer.citations else "Closest, but not an answer:")
        for c in cites:
            dated = ", ".join(v for v in (getattr(c, "published", None), getattr(c, "outlet", None)) if v)
            click.echo(f"  [{c.id}] {c.title} ({c.source}, chars {c.start}-{c.end}, score {c.score:.2f})"
                       + (f" {dated}" if dated else ""))


def _retrieval_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--k", "k", type=click.IntRange(1, 100), help="Number of passages to retrieve.")(fn)
    fn = click.option("--mode", type=click.Choice(MODES), help="Retrieval mode (default hybrid).")(fn)
    fn = click.option("--source", "sources", multiple=True, help="Only search this document (repeatable).")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)
    fn = click.option("--since", help="Only sources published on or after this date (YYYY-MM-DD).")(fn)
    fn = click.option("--until", help="Only sources published on or before this date (YYYY-MM-DD).")(fn)
    return fn


@cli.command("ask")
@click.argument("question")
@_retrieval_options
@click.pass_context
@handle_errors
def ask(ctx: click.Context, question: str, k: int | None, mode: str | None, sources: tuple[str, ...], as_json: bool,
        since: str | None, until: str | None) -> None:
    """Answer QUESTION from the corpus, with numbered citations."""
    _light_bm25s()
    from qa.chat import Engine

    engine = Engine(_settings(ctx))
    answer = engine.ask(question, k=k, mode=mode, sources=list(sources) or None, since=since, until=until)
    _print_answer(answer, as_json)


@cli.command("chat")
@_retrieval_options
@click.pass_context
@handle_errors
def chat(ctx: click.Context, k: int | None, mode: str | None, sources: tuple[str, ...], as_json: bool,
         since: str | None, until: str | None) -> None:
    """One conversation: one question per line on stdin; follow-ups refer to earlier turns."""
    _light_bm25s()
    from qa.chat import Conversation, Engine
    from qa.errors import QuestionError

    conv = Conversation(Engine(_settings(ctx)))
    interactive = sys.stdin.isatty() and not as_json
    stdin = sys.stdin
    if hasattr(stdin, "reconfigure"):  # bad bytes become U+FFFD, never a crash
        stdin.reconfigure(errors="replace")
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            answer = conv.ask(line, k=k, mode=mode, sources=list(sources) or None, since=since, until=until)
        except QuestionError as exc:
            if as_json:
                click.echo(_json_line_safe(json.dumps({"question": line.rstrip("\n"), "error": str(exc)}, ensure_ascii=False)))
            else:
                click.echo(f"error: {exc}", err=True)
            continue
        _print_answer(answer, as_json)
        if not as_json:
            click.echo("")
        sys.stdout.flush()


@cli.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--timeout", type=click.FloatRange(1, 300), default=20, show_default=True, help="Seconds to wait for each page.")
@click.option("--allow-private", is_flag=True, help="Also fetch from private addresses (intranet, 127.0.0.1).")
@click.pass_context
@handle_errors
def add(ctx: click.Context, urls: tuple[str, ...], timeout: float, allow_private: bool) -> None:
    """Download article pages (URLS) into the corpus folder, each saved as .html with its URL."""
    from qa.fetch import add_urls

    settings = _settings(ctx)

    def show(r) -> None:
        if r.error:
            click.echo(f"failed {r.error}", err=True)
        else:
            click.echo(f"{'already saved' if r.existed else 'saved'} {r.name}: {r.title}")

    results = add_urls(urls, settings.corpus_dir, timeout=timeout, allow_private=allow_private, progress=show)
    saved = sum(1 for r in results if not r.error)
    click.echo(f"{saved} of {len(results)} pages in {settings.corpus_dir}; run `qa index build` to index them")
    if saved < len(results):
        sys.exit(1)


@cli.command("serve")
@click.option("--host", help="Address to listen on (default 127.0.0.1, or QA_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default 7860, or QA_PORT).")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the chat UI in the browser (builds the index first when missing or stale)."""
    from qa.web import serve as serve_ui

    serve_ui(_settings(ctx).with_(host=host, port=port))


@cli.command("eval")
@click.argument("questions_file", required=False, type=click.Path(dir_okay=False))
@click.option("--beir", "beir_dir", type=click.Path(file_okay=False), help="Run a BEIR-format benchmark folder instead.")
@click.option("--k", "k", type=click.IntRange(1, 100), help="Passages per question (default QA_K).")
@click.option("--mode", type=click.Choice(MODES), help="Retrieval mode (gold file: default QA_MODE; BEIR: all three).")
@click.option("--split", default="test", show_default=True, help="BEIR qrels split (tune on train, report test).")
@click.option("--limit-docs", type=click.IntRange(1), help="BEIR: keep the judged documents plus others up to N.")
@click.option("--limit-queries", type=click.IntRange(1), help="BEIR: only the first N judged queries.")
@click.option("--no-cache", is_flag=True, help="BEIR: embed the documents again instead of using ~/.cache/qa/beir.")
@click.option("--articles", help="Gold file: only questions about these documents by number, e.g. 18-35.")
@click.option("--sources-glob", help="Gold file: only questions about documents matching this glob ('|' between).")
@click.option("--every", type=click.IntRange(1), default=1, help="Gold file: every Nth question (after filters).")
@click.option("--limit", type=click.IntRange(1), help="Gold file: the first N questions (after filters).")
@click.option("--details", is_flag=True, help="With --json: every question's result too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def eval_cmd(ctx: click.Context, questions_file: str | None, beir_dir: str | None, k: int | None, mode: str | None,
             split: str, limit_docs: int | None, limit_queries: int | None, no_cache: bool, articles: str | None,
             sources_glob: str | None, every: int, limit: int | None, details: bool, as_json: bool) -> None:
    """Score retrieval and answers on gold QUESTIONS_FILE (JSONL/YAML), or on a BEIR benchmark (--beir DIR)."""
    from qa.embed import shared_embedder
    from qa.errors import EvalError

    settings = _settings(ctx)
    if bool(questions_file) == bool(beir_dir):
        raise EvalError("give either a questions file or --beir DIR", "e.g. `qa eval tests/gold/corpus.jsonl`")
    _require("ranx", "eval")
    if beir_dir:
        from qa.beir import MODES_ORDER, run_beir

        modes = (mode,) if mode else MODES_ORDER
        bar = _Bar()
        try:
            res = run_beir(beir_dir, settings, shared_embedder(settings), split=split, limit_docs=limit_docs,
                           limit_queries=limit_queries, modes=modes, cache=not no_cache, progress=bar)
        finally:
            bar.close()
        if as_json:
            click.echo(json.dumps(res.to_dict(), ensure_ascii=False))
            return
        click.echo(f"{res.name} ({res.split}): {res.documents} documents, {res.queries} queries")
        click.echo(f"{'mode':8} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}")
        for m, v in res.metrics.items():
            click.echo(f"{m:8} {v['ndcg@10']:8.4f} {v['recall@100']:8.4f} {v['mrr@10']:8.4f}")
        return
    from qa.chat import Engine
    from qa.evaluate import evaluate, format_report, load_gold, select
    from qa.gold import check_sources

    engine = Engine(settings)
    gold = select(load_gold(questions_file), sources_glob=sources_glob, articles=articles, every=every, limit=limit)
    check_sources(gold, list(engine.index.documents), os.path.basename(questions_file))
    report = evaluate(engine, gold, k=k, mode=mode)
    if as_json:
        click.echo(json.dumps(report.to_dict(with_results=details), ensure_ascii=False))
        return
    click.echo(format_report(report))


@cli.command("bench")
@click.option("--chunks", type=click.IntRange(100, 5_000_000), default=100_000, show_default=True,
              help="Index size for the latency/recall/memory part (synthetic beyond the corpus).")
@click.option("--texts", type=click.IntRange(20, 100_000), default=2000, show_default=True,
              help="Real-model chunks for the throughput/incremental/LangChain part.")
@click.option("--queries", type=click.IntRange(10, 100_000), default=200, show_default=True,
              help="Timed questions per latency figure.")
@click.option("--no-langchain", is_flag=True, help="Skip the LangChain FAISS comparison.")
@click.option("--topic-share", type=click.FloatRange(0.001, 1.0), default=0.05, show_default=True,
              help="Share of synthetic words taken from the corpus's vocabulary (the rest: a Zipf background); "
                   "1 is BM25's worst case.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where temporary indexes go (default: system temp).")
@click.option("--parts", default="real,backends,scale,cold", show_default=True,
              help="Comma-separated parts to run: real, backends (fp32 vs int8 build), scale, cold.")
@click.option("--cold", "cold_runs", type=click.IntRange(0, 1000), default=5, show_default=True,
              help="Fresh `qa ask` processes per question for the cold-start part (0 skips it).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Only the Ray comparison (docs/scale.md): --texts real chunks built locally and by 1 and 2 "
                   "Ray workers; alone, a local cluster; else `auto` or an address.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@handle_errors
def bench(ctx: click.Context, chunks: int, texts: int, queries: int, no_langchain: bool, topic_share: float,
          workdir: str | None, parts: str, cold_runs: int, as_json: bool, ray_address: str | None = None) -> None:
    """Measure model load, build throughput (raw, fp32 vs int8), rebuilds, latency, recall, memory, cold start.

    `qa bench --parts cold` times fresh `qa ask` processes against the index in ./index."""
    from pathlib import Path

    if ray_address is not None:  # the Ray part alone (qa/bench_ray.py)
        from qa.bench_ray import format_ray_report, run_ray_bench

        result = run_ray_bench(_settings(ctx).with_(ray_address=ray_address), texts=texts,
                               log=lambda s: click.echo(s, err=True), workdir=Path(workdir) if workdir else None)
        click.echo(json.dumps(result, indent=2) if as_json else format_ray_report(result))
        return
    from qa.bench import PARTS, format_report, run_bench

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown or not chosen:
        raise QAError(f"unknown bench part(s) {', '.join(unknown) or '(none given)'}", f"use some of {', '.join(PARTS)}")
    if {"real", "scale"} & set(chosen) and not no_langchain:
        _require("langchain_community", "bench")
    _require("psutil", "bench")
    result = run_bench(_settings(ctx), chunks=chunks, texts=texts, queries=queries, langchain=not no_langchain,
                       log=lambda s: click.echo(s, err=True), workdir=Path(workdir) if workdir else None,
                       topic_share=topic_share, parts=chosen, cold_runs=cold_runs)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


def main() -> None:
    cli(prog_name="qa")


if __name__ == "__main__":
    main()
