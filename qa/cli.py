"""The `qa` command. Thin: parses options, calls the library, prints. Only here do errors become messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from qa.cli_common import _Bar, _json_line_safe, _light_bm25s, _settings, handle_errors
from qa.cli_eval import bench, eval_cmd
from qa.cli_index import index_group
from qa.config import MODES, Settings

__all__ = ["_Bar", "_light_bm25s", "cli", "main"]  # _Bar, _light_bm25s: tests import them here


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(file_okay=False),
    help="Corpus folder (default ./corpus).",
)
@click.option(
    "--index", "index_dir", type=click.Path(file_okay=False), help="Index folder (default ./index)."
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, file_okay=False),
    help="Local sentence-transformers model folder.",
)
@click.pass_context
@handle_errors
def cli(
    ctx: click.Context, corpus_dir: str | None, index_dir: str | None, model_path: str | None
) -> None:
    """Cited question answering over the documents in corpus/, offline."""
    from pathlib import Path

    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_env(
        corpus_dir=Path(corpus_dir).resolve() if corpus_dir else None,
        index_dir=Path(index_dir).resolve() if index_dir else None,
        model_path=model_path,
    )


cli.add_command(index_group)
cli.add_command(eval_cmd)
cli.add_command(bench)


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
            page = f"p. {c.page}" if getattr(c, "page", None) else None
            dated = ", ".join(
                v for v in (getattr(c, "published", None), getattr(c, "outlet", None), page) if v
            )
            click.echo(
                f"  [{c.id}] {c.title} ({c.source}, chars {c.start}-{c.end}, score {c.score:.2f})"
                + (f" {dated}" if dated else "")
            )


def _retrieval_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--k", "k", type=click.IntRange(1, 100), help="Number of passages to retrieve."
    )(fn)
    fn = click.option("--mode", type=click.Choice(MODES), help="Retrieval mode (default hybrid).")(
        fn
    )
    fn = click.option(
        "--source", "sources", multiple=True, help="Only search this document (repeatable)."
    )(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)
    fn = click.option("--since", help="Only sources published on or after this date (YYYY-MM-DD).")(
        fn
    )
    fn = click.option(
        "--until", help="Only sources published on or before this date (YYYY-MM-DD)."
    )(fn)
    return fn


@cli.command("ask")
@click.argument("question")
@_retrieval_options
@click.pass_context
@handle_errors
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    mode: str | None,
    sources: tuple[str, ...],
    as_json: bool,
    since: str | None,
    until: str | None,
) -> None:
    """Answer QUESTION from the corpus, with numbered citations."""
    _light_bm25s()
    from qa.chat import Engine

    engine = Engine(_settings(ctx))
    answer = engine.ask(
        question, k=k, mode=mode, sources=list(sources) or None, since=since, until=until
    )
    _print_answer(answer, as_json)


@cli.command("chat")
@_retrieval_options
@click.pass_context
@handle_errors
def chat(
    ctx: click.Context,
    k: int | None,
    mode: str | None,
    sources: tuple[str, ...],
    as_json: bool,
    since: str | None,
    until: str | None,
) -> None:
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
            answer = conv.ask(
                line, k=k, mode=mode, sources=list(sources) or None, since=since, until=until
            )
        except QuestionError as exc:
            if as_json:
                click.echo(
                    _json_line_safe(
                        json.dumps(
                            {"question": line.rstrip("\n"), "error": str(exc)}, ensure_ascii=False
                        )
                    )
                )
            else:
                click.echo(f"error: {exc}", err=True)
            continue
        _print_answer(answer, as_json)
        if not as_json:
            click.echo("")
        sys.stdout.flush()


@cli.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 300),
    default=20,
    show_default=True,
    help="Seconds to wait for each page.",
)
@click.option(
    "--allow-private", is_flag=True, help="Also fetch from private addresses (intranet, 127.0.0.1)."
)
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

    results = add_urls(
        urls, settings.corpus_dir, timeout=timeout, allow_private=allow_private, progress=show
    )
    saved = sum(1 for r in results if not r.error)
    click.echo(
        f"{saved} of {len(results)} pages in {settings.corpus_dir}; run `qa index build` to index them"
    )
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


def main() -> None:
    cli(prog_name="qa")


if __name__ == "__main__":
    main()
