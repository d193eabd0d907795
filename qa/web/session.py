"""Conversations kept server-side: one `ChatSession` per browser session, `Conversations` for the API.

Nothing here knows Gradio. A turn costs the same at turn 300 as at turn 3: each answer renders only
its own message, and the page appends it to the log (the transcript is never re-sent).
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import stat
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import QAError
from qa.web import render

log = logging.getLogger("qa.web")

MAX_QUESTION_CHARS = 2000  # the same cut as the engine's; longer questions are refused at the edge
MAX_TURNS = (
    200  # answers kept per conversation (older ones' citations stop opening): memory is bounded
)


def keep_last(conv: Any, limit: int | None = None) -> int:
    """Drop a conversation's oldest answers beyond `limit` (MAX_TURNS); return how many were dropped."""
    drop = max(0, len(conv.turns) - (MAX_TURNS if limit is None else limit))
    if drop:
        del conv.turns[:drop]
    return drop


def question_problem(question: object) -> str:
    """Why a question is refused before it reaches the engine ('' when it is fine)."""
    if not isinstance(question, str):
        return "the question must be text"
    if len(question) > MAX_QUESTION_CHARS:
        return f"the question is too long ({len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,})"
    return ""


class Documents:
    """Documents as `read_document` gives them, kept while their file is unchanged: an answer shows
    the current text of every document it cites, and re-reading (and re-parsing) them for each answer
    cost more than the answer. A file whose lstat (inode, size, mtime, ctime) changed is read again,
    through `read_document` and its checks; at most `max_chars` characters of text are kept."""

    def __init__(self, max_chars: int = 32_000_000) -> None:
        self.max_chars = max_chars
        self._items: OrderedDict[tuple[str, str], tuple[tuple, Any]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    @staticmethod
    def stamp(corpus_dir: Path, doc_id: str) -> tuple | None:
        """The file's identity and version, or None when it cannot be told (never cached then)."""
        for name in (doc_id, doc_id.rsplit("#", 1)[0]):
            try:
                st = os.lstat(corpus_dir / name)
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(st.st_mode):
                return name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns
        return None

    def read(self, corpus_dir: Path, doc_id: str) -> Any:
        """The document (a `qa.corpus.Document`); raises what `read_document` raises."""
        from qa.corpus import read_document

        key = (str(corpus_dir), doc_id)
        before = self.stamp(corpus_dir, doc_id) if isinstance(doc_id, str) and doc_id else None
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and before is not None and hit[0] == before:
                self._items.move_to_end(key)
                return hit[1]
        doc = read_document(corpus_dir, doc_id)
        if before is None or before != self.stamp(corpus_dir, doc_id):
            return doc  # unknown or changed while being read: not kept
        with self._lock:
            old = self._items.pop(key, None)
            self._chars -= len(old[1].text) if old else 0
            if len(doc.text) <= self.max_chars:
                self._items[key] = (before, doc)
                self._chars += len(doc.text)
            while self._chars > self.max_chars:
                self._chars -= len(self._items.popitem(last=False)[1][1].text)
        return doc


DOCUMENTS = Documents()


def read_texts(settings: Settings, sources: Sequence[str]) -> dict[str, str | None]:
    """Current text of each document (None when it cannot be read), through `read_document` only."""
    out: dict[str, str | None] = {}
    for s in dict.fromkeys(sources):
        try:
            out[s] = DOCUMENTS.read(settings.corpus_dir, s).text
        except QAError as exc:
            log.warning("cannot read %s: %s", s, exc)
            out[s] = None
    return out


@dataclass(frozen=True)
class Click:
    turn: int
    kind: str
    n: int


def parse_click(data: object) -> Click | None:
    """A citation click from the page ({turn, kind, cite}); None for anything else (lists, strings,
    Infinity, NaN, huge numbers): the page's payload is untrusted."""
    if not isinstance(data, dict):
        return None
    vals = []
    for key in ("turn", "cite"):
        v = data.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            return None
        try:
            f = float(v)
        except (TypeError, ValueError, OverflowError):
            return None
        if not math.isfinite(f) or f != int(f) or not 0 <= f < 1_000_000:
            return None
        vals.append(int(f))
    kind = data.get("kind", "cite")
    if kind not in ("cite", "closest"):
        kind = "cite"  # the kind only picks a list, never a path
    return Click(vals[0], kind, vals[1])


class ChatSession:
    """One browser session: its Conversation; messages are rendered one at a time."""

    def __init__(self, engine: Any, settings: Settings) -> None:
        from qa.chat import Conversation

        self.settings = settings
        self.conv = Conversation(engine)
        self.seq = 0  # message counter: each rendered message is distinct, so the page appends it
        self.base = 0  # number of the oldest answer kept (older ones were dropped, see MAX_TURNS)
        self.lock = threading.Lock()  # one question at a time per conversation

    def metas(self, sources: Sequence[str]) -> dict[str, dict]:
        """The index's metadata of these documents (published, outlet, date_source, ...)."""
        try:
            docs = getattr(self.conv.engine.index, "documents", None) or {}
        except (QAError, AttributeError):  # no index (the answer said so), or an engine without one
            return {}
        out = {}
        for s in sources:
            entry = docs.get(s) if isinstance(docs, dict) else None
            if isinstance(entry, dict):
                out[s] = entry["meta"] if isinstance(entry.get("meta"), dict) else entry
        return out

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def question(self, question: str) -> str:
        """The question's echo (shown at once, before the answer)."""
        q = question or ""
        if len(q) > MAX_QUESTION_CHARS:
            q = q[:200] + " …"  # never echo a huge paste back
        return render.question_html(q, self.next_seq())

    def ask(self, question: str, **kwargs: Any) -> tuple[str, str | None]:
        """(the answer's message, the sources panel or None when the question failed)."""
        problem = question_problem(question)
        if problem:
            return render.error_html(problem + ": shorten it", seq=self.next_seq()), None
        try:
            with self.lock:
                a = self.conv.ask(question, **kwargs)
        except QAError as exc:  # a typed error names its fix
            return render.error_html(str(exc), seq=self.next_seq()), None
        except Exception:  # the user sees a message; the trace goes to the server log
            log.exception("answering %r failed", question[:200])
            return render.error_html(render.UNEXPECTED, seq=self.next_seq()), None
        self.base += keep_last(self.conv)
        turn = self.base + len(self.conv.turns) - 1
        cites = a.citations or a.closest
        texts = read_texts(self.settings, [c.source for c in cites])
        gone = [c for c in a.citations if texts.get(c.source) is None]
        msg = render.answer_html(a, turn, self.next_seq(), gone=gone)
        return msg, render.sources_html(a, turn, texts, metas=self.metas(list(texts)))

    def find(self, click: Click) -> Any | None:
        turns, i = self.conv.turns, click.turn - self.base
        if not 0 <= i < len(turns):
            return None
        a = turns[i]
        pool = a.closest if click.kind == "closest" else a.citations
        return next((c for c in pool if c.id == click.n), None)

    def open(self, turn: int, kind: str, n: int) -> tuple[str, str | None]:
        """(document viewer, sources panel) for citation n of answer `turn`."""
        click = parse_click({"turn": turn, "kind": kind, "cite": n})
        c = self.find(click) if click else None
        if c is None:
            problem = "That citation is not in this conversation: ask again."
            return render.document_html(None, None, problem=problem), None
        a = self.conv.turns[click.turn - self.base]
        texts = read_texts(self.settings, [x.source for x in a.citations or a.closest])
        metas = self.metas(list(texts))
        panel = render.sources_html(a, click.turn, texts, (click.kind, click.n), metas)
        known = metas.get(c.source)
        try:
            doc = DOCUMENTS.read(self.settings.corpus_dir, c.source)
        except QAError as exc:
            return render.document_html(c, None, problem=str(exc), known=known), panel
        return render.document_html(c, doc.text, doc.title, known=known), panel


@dataclass
class ApiChat:
    """One API conversation: its Conversation, a lock (one question at a time, turns in order) and
    how many questions it has answered (the turn number, older answers being dropped)."""

    conv: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    asked: int = 0


class Conversations:
    """API conversations by id: at most `limit` kept (least recently used dropped), thread-safe."""

    def __init__(self, engine: Any, limit: int = 1000) -> None:
        from qa.chat import Conversation

        self._new = lambda: ApiChat(Conversation(engine))
        self._items: OrderedDict[str, ApiChat] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def has(self, cid: str) -> bool:
        with self._lock:
            return cid in self._items

    def get(self, cid: str | None) -> tuple[str, ApiChat]:
        """(id, chat): the known one, or a new one when `cid` is None or unknown."""
        with self._lock:
            if cid and cid in self._items:
                self._items.move_to_end(cid)
                return cid, self._items[cid]
            cid = secrets.token_urlsafe(12)
            self._items[cid] = self._new()
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
            return cid, self._items[cid]
