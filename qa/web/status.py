"""The status line's view of the index: `qa.index.status.index_status`, the same check as
`qa index status`, shaped for the template. No status logic of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.config import Settings
from qa.errors import QAError

BADGES = {"fresh": "fresh", "stale": "stale", "missing": "no index", "mismatch": "mismatch",
          "damaged": "damaged"}  # fmt: skip


@dataclass(frozen=True)
class StatusView:
    state: str  # missing | fresh | stale | mismatch | damaged
    message: str
    badge: str
    line: str = ""  # "4 documents · 12 chunks · model ... · built ..."
    chunks: int = 0
    changed: list[str] = field(default_factory=list)  # "name (new)", "name (stale)", ...
    skipped: list[str] = field(default_factory=list)  # "name: reason"
    titles: dict[str, str] = field(default_factory=dict)  # indexed document -> title

    def choices(self) -> list[tuple[str, str]]:
        """(label, document id) for the source filter."""
        return [(f"{t} — {d}" if t != d else d, d) for d, t in self.titles.items()]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def raw_status(settings: Settings) -> Any:
    """The one status check, shared with `qa index status`."""
    from qa.index.status import index_status

    return index_status(settings)


def index_view(settings: Settings) -> StatusView:
    """What the status line shows."""
    try:
        st = raw_status(settings)
    except QAError as exc:
        return StatusView("damaged", str(exc), BADGES["damaged"])
    state = str(_get(st, "state", "missing"))
    docs = list(_get(st, "documents", None) or [])
    indexed = [d for d in docs if _get(d, "status") in ("indexed", "stale", "removed")]
    titles = {str(_get(d, "doc_id")): str(_get(d, "title") or _get(d, "doc_id")) for d in indexed}
    changed = [f"{_get(d, 'doc_id')} ({_get(d, 'status')})" for d in docs
               if _get(d, "status") in ("new", "stale", "removed")]  # fmt: skip
    skipped = [f"{_get(s, 'doc_id', None) or _get(s, 'name', '')}: {_get(s, 'reason', '')}"
               for s in (_get(st, "skipped", None) or [d for d in docs if _get(d, "status") == "skipped"])]  # fmt: skip
    n_docs = len([d for d in indexed if _get(d, "status") != "removed"]) or len(titles)
    chunks = int(_get(st, "n_chunks", 0) or 0)
    message = str(_get(st, "message", "") or "")
    hint = str(_get(st, "hint", "") or "")
    if state == "stale" and changed:
        message = (
            "the corpus changed: " + ", ".join(changed[:5]) + (" …" if len(changed) > 5 else "")
        )
    elif hint and hint not in message:
        message = f"{message}: {hint}" if message else hint
    line = ""
    if chunks:
        built = str(_get(st, "built_at", "") or "").replace("T", " ").replace("+00:00", " UTC")
        model = _get(st, "model", "") or ""
        model = str(model.get("name", "") if isinstance(model, dict) else model).rsplit("/", 1)[-1]
        parts = [f"{n_docs} document{'s' if n_docs != 1 else ''}", f"{chunks} chunks"]
        parts += [f"model {model}"] if model else []
        parts += [f"built {built}"] if built else []
        line = " · ".join(parts)
    return StatusView(
        state, message, BADGES.get(state, state), line, chunks, changed, skipped, titles
    )
