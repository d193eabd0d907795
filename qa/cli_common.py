"""What the `qa` commands share: error handling, optional-dependency checks, the progress bar."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from qa.config import Settings
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


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _json_line_safe(text: str) -> str:
    """U+2028/U+2029 are line breaks to some readers: escaped, so one JSON object stays one line."""
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


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

                self.bar = tqdm(
                    total=total, desc=stage, unit="chunk", file=sys.stderr, dynamic_ncols=True
                )
            elif stage != "done":
                click.echo(f"{stage} ...", err=True)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
