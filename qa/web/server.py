"""Serving: the index made ready (or served as it is), then one FastAPI app holding the HTTP API
(/api/*) and the Gradio page, behind the request guard, run by uvicorn."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import QAError

log = logging.getLogger("qa.web")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def progress_printer(stream: Any = None) -> Any:
    """A `build_index` progress callback printing stages and embedding counts to the terminal."""
    stream = stream or sys.stderr
    state = {"stage": None}

    def cb(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and total:
            print(f"  embedding chunks {done}/{total}", file=stream, flush=True)
        elif stage != state["stage"]:
            print(f"  {stage} ...", file=stream, flush=True)
        state["stage"] = stage

    return cb


def _build_index() -> Any:
    try:
        from qa.index import build_index
    except ImportError:  # until the qa.index package lands
        from qa.index import build_index
    return build_index


def writable(folder: Path) -> bool:
    """Can files be created in `folder` (or, when it does not exist yet, in its parent)?"""
    target = folder if folder.exists() else folder.parent
    try:
        with tempfile.TemporaryFile(dir=target):
            return True
    except OSError:
        return False


def build_note(report: Any) -> str:
    if report.unchanged:
        return f"Index is up to date: {report.documents} documents, {report.chunks} chunks."
    return (
        f"Indexed {report.documents} documents, {report.chunks} chunks ({report.embedded} embedded, "
        f"{report.reused} reused) in {report.seconds:.1f} s."
    )


def rebuild_index(settings: Settings, engine: Any, progress: Any = None) -> Any:
    """The Rebuild button: build (the build's own lock keeps it exclusive), then swap the index in."""

    def cb(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        if stage == "embedding" and total:
            progress(done / total, desc=f"embedding chunks {done}/{total}")
        else:
            progress(None, desc=stage)

    if not writable(settings.index_dir):
        raise QAError(f"the index folder {settings.index_dir} is not writable",
                      "make it writable, or set QA_INDEX_DIR to a writable folder")  # fmt: skip
    report = _build_index()(settings, engine.embedder, cb)
    engine.reload()
    return report


def ensure_index(settings: Settings, embedder: Any, stream: Any = None) -> str:
    """Build the index when it is missing, stale or incompatible (unchanged indexes return at once).

    An index folder that cannot be written is not an error when an index is there: it is served as
    it is, and the message says why it was not rebuilt."""
    from qa.web.status import index_view

    stream = stream or sys.stderr
    where = f"{settings.index_dir} against {settings.corpus_dir}"
    print(f"checking the index in {where} ...", file=stream, flush=True)
    if not writable(settings.index_dir):
        view = index_view(settings)
        why = f"the index folder {settings.index_dir} is not writable"
        if view.chunks:
            return f"not rebuilding the index: {why}; serving the existing index ({view.state})"
        raise QAError(why, "make it writable, or set QA_INDEX_DIR to a writable folder")
    report = _build_index()(settings, embedder, progress_printer(stream))
    for s in report.skipped:
        print(f"  skipped {s.name}: {s.reason}", file=stream, flush=True)
    if report.unchanged:
        return f"index is up to date: {report.documents} documents, {report.chunks} chunks"
    return (
        f"indexed {report.documents} documents, {report.chunks} chunks ({report.embedded} embedded, "
        f"{report.reused} from cache) in {report.seconds:.1f} s"
    )


def make_app(settings: Settings, engine: Any) -> Any:
    """The ASGI app: /api/* and the Gradio page on one FastAPI app, wrapped by the guard."""
    import gradio as gr
    from fastapi import FastAPI
    from starlette.routing import Mount

    from qa.web.api import api_router, install_error_handlers
    from qa.web.app import STATIC, build_app, static_text, theme
    from qa.web.guard import Guard

    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)  # no API description served
    root.include_router(api_router(settings, engine))
    install_error_handlers(root)
    demo = build_app(settings, engine)
    demo.queue(default_concurrency_limit=os.cpu_count() or 1)
    gr.mount_gradio_app(
        root, demo, path="/", auth=settings.auth, show_error=False, ssr_mode=False,
        mcp_server=False, pwa=False, run_history=False, footer_links=[],
        max_file_size=0,  # no uploads: Gradio's upload route refuses (no files it would serve)
        theme=theme(), css_paths=[STATIC / "qa.css"], js=static_text("qa.js"),
    )  # fmt: skip
    gradio_app = [r.app for r in root.routes if isinstance(r, Mount)][-1]
    return Guard(root, settings, gradio_app)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "bm25s", "faiss.loader", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve(settings: Settings) -> None:
    """Make the index ready (or serve it as it is), then serve page and API on host:port."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _logging()
    from qa.chat import Engine

    engine = Engine(settings)
    try:
        print(ensure_index(settings, engine.embedder), file=sys.stderr, flush=True)
        engine.reload()
    except (QAError, OSError) as exc:  # still serve: the page shows the problem, Rebuild retries
        print(f"error: {exc}", file=sys.stderr, flush=True)
    app = make_app(settings, engine)
    print(f"serving http://{settings.host}:{settings.port} (page /, API /api) (Ctrl+C stops)",
          file=sys.stderr, flush=True)  # fmt: skip
    if settings.host not in LOOPBACK and settings.auth is None:
        print("warning: the UI and API are open to the network without a password: "
              "set QA_AUTH=user:password", file=sys.stderr, flush=True)  # fmt: skip
    _run(app, settings)


def _run(app: Any, settings: Settings) -> None:
    """uvicorn with httptools and uvloop when installed (its "auto"), else h11 and asyncio."""
    import uvicorn

    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                    timeout_keep_alive=5, limit_concurrency=512, h11_max_incomplete_event_size=65536)  # fmt: skip
    except OSError as exc:
        raise QAError(
            f"cannot listen on {settings.host}:{settings.port} ({exc})",
            "choose another port with QA_PORT or `qa serve --port`",
        ) from None


def main() -> None:
    """`python app.py`: settings from QA_* environment variables."""
    try:
        serve(Settings.from_env())
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
