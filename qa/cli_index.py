"""`qa index build` and `qa index status`."""

from __future__ import annotations

import json

import click

from qa.cli_common import _Bar, _json_line_safe, _settings, handle_errors


@click.group("index")
def index_group() -> None:
    """Build and inspect the index."""


@index_group.command("build")
@click.option("--force", is_flag=True, help="Re-embed everything, ignoring the embedding cache.")
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Embed on Ray (docs/scale.md): alone, a local cluster; `auto`, the running one; or "
    "HOST:PORT / ray://HOST:PORT (default QA_RAY_ADDRESS).",
)
@click.option(
    "--ray-workers",
    type=click.IntRange(1),
    help="Ray embedding workers of one CPU (default: all CPUs).",
)
@click.pass_context
@handle_errors
def index_build(
    ctx: click.Context, force: bool, ray_address: str | None, ray_workers: int | None
) -> None:
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
        click.echo(
            f"index is up to date: {report.documents} documents, {report.chunks} chunks ({report.seconds:.2f} s)"
        )
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
