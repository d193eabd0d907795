"""The browser chat (Gradio). Wiring only: answers come from `qa.chat`, documents from `qa.corpus`.

Three layers:
- pure HTML builders (`answer_html`, `sources_html`, `document_html`, `status_html`, ...), testable
  without a browser. Every piece of corpus text and every question goes through `esc`, so a document
  holding `<script>` or markup renders as text;
- `ChatSession`: one browser session's `Conversation` and transcript, no Gradio types;
- `build_app` / `serve` / `main`: the Gradio page.

Citations `[n]` in chat messages are `<a class="qa-cite" href="#qa-cite-TURN-KIND-N">`. A click handler
installed by the document viewer's `js_on_load` sends those numbers to the server, which answers with
the full document, the quoted span in `<mark class="qa-hit">`, scrolled into view.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.config import MODES, Settings
from qa.errors import QAError

log = logging.getLogger("qa.ui")

EXAMPLES = [
    "How many troops were deployed?",
    "Who is Ryu Seong-hyeon?",
    "Why do North Korean soldiers choose suicide over capture?",
    "What injuries did the two captured soldiers have?",
]
UNEXPECTED = "Something went wrong while answering. The details are in the server log; try again or rebuild the index."

# Characters that mean something to HTML, to Markdown (the chat renders Markdown) or to Gradio's
# JS templates become numeric entities: the browser shows them as the characters, nothing interprets them.
_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'`{}$*_~[]\\|#"})
_CITE_RE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def esc(text: str) -> str:
    """Text -> inert HTML (shown verbatim in HTML, Markdown and Gradio templates)."""
    return str(text).translate(_ENTITIES)


def esc_lines(text: str) -> str:
    """Like `esc`, newlines as <br> (chat messages must not contain raw newlines: Markdown would split them)."""
    return "<br>".join(esc(line) for line in str(text).split("\n"))


def attr(text: object) -> str:
    """A value for a double-quoted HTML attribute (newlines kept, as entities)."""
    return esc(str(text)).replace("\n", "&#10;")


# ---------------------------------------------------------------- citations and answers


def _cite_link(turn: int, kind: str, n: int, title: str = "") -> str:
    tip = f' title="{attr(title)}"' if title else ""
    # The chat's sanitizer drops data-* attributes, so the link's address carries the numbers too.
    return (
        f'<a class="qa-cite" href="#qa-cite-{turn}-{kind}-{n}" role="button" data-turn="{turn}" '
        f'data-kind="{kind}" data-cite="{n}"{tip}>[{n}]</a>'
    )


def linked_text(text: str, turn: int, titles: dict[int, str], kind: str = "cite") -> str:
    """Escape `text`, turning each `[n]` whose n is a known citation into a clickable link."""
    out: list[str] = []
    pos = 0
    for m in _CITE_RE.finditer(text):
        nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
        if not all(n in titles for n in nums):
            continue
        out.append(esc_lines(text[pos : m.start()]))
        out.append("".join(_cite_link(turn, kind, n, titles[n]) for n in nums))
        pos = m.end()
    out.append(esc_lines(text[pos:]))
    return "".join(out)


def _paragraphs(text: str, turn: int, titles: dict[int, str]) -> str:
    paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{linked_text(p.strip(), turn, titles)}</p>" for p in paras)


def _figure_dict(fig: Any) -> dict:
    return (
        fig.to_dict()
        if hasattr(fig, "to_dict")
        else dict(fig)
        if isinstance(fig, dict)
        else {"text": str(fig)}
    )


def figures_html(answer: Any, turn: int) -> str:
    """The figures the sources give for the asked quantity, one row each, with their citations."""
    figs = [_figure_dict(f) for f in (getattr(answer, "figures", None) or [])]
    if not figs:
        return ""
    titles = {c.id: c.title for c in answer.citations}
    labels = {str(f.get("label") or f.get("kind") or "") for f in figs}
    one_label = len(labels) == 1
    rows = []
    for f in figs:
        ids = [i for i in f.get("citations", []) if isinstance(i, int) and i in titles]
        cites = "".join(_cite_link(turn, "cite", i, titles[i]) for i in ids)
        label = (
            ""
            if one_label
            else f'<td class="qa-meta">{esc(f.get("label") or f.get("kind") or "")}</td>'
        )
        rows.append(
            f'<tr><td class="qa-fig-value">{esc(f.get("text", ""))}</td>{label}<td>{cites}</td></tr>'
        )
    disagree = getattr(answer, "figures_disagree", len({f.get("text") for f in figs}) > 1)
    what = f" for {next(iter(labels))}" if one_label and next(iter(labels)) else ""
    caption = f"Figures the sources give{what}" + (": they disagree" if disagree else "")
    return (
        f'<div class="qa-figures"><div class="qa-figures-caption">{esc(caption)}</div>'
        f"<table><tbody>{''.join(rows)}</tbody></table></div>"
    )


def copy_text(answer: Any) -> str:
    """What the Copy button puts on the clipboard: the answer and its sources, as plain text."""
    lines = [answer.answer.strip()]
    cites = answer.citations or getattr(answer, "closest", [])
    if cites:
        lines += ["", "Sources:" if answer.citations else "Closest, but not an answer:"]
        lines += [f"[{c.id}] {c.title} ({c.source}, characters {c.start}-{c.end})" for c in cites]
    return "\n".join(lines)


def question_html(question: str) -> str:
    """A question echoed in the chat: always text."""
    return f'<div class="qa-question">{esc_lines(question.strip())}</div>'


def answer_html(answer: Any, turn: int) -> str:
    """One assistant message: the answer with clickable [n], figures, closest passages, a copy button."""
    parts = [
        f'<div class="qa-answer{" qa-abstained" if answer.abstained else ""}" data-turn="{turn}">'
    ]
    resolved = getattr(answer, "resolved_question", None)
    if resolved and resolved.strip() != answer.question.strip():
        parts.append(f'<div class="qa-resolved">Searched for: {esc(resolved)}</div>')
    titles = {c.id: c.title for c in answer.citations}
    parts.append(f'<div class="qa-text">{_paragraphs(answer.answer, turn, titles)}</div>')
    if not answer.abstained:
        parts.append(figures_html(answer, turn))
    closest = list(getattr(answer, "closest", None) or [])
    if answer.abstained and closest:
        items = "".join(
            f"<li>{_cite_link(turn, 'closest', c.id, c.title)} {esc(c.title or c.source)} "
            f'<span class="qa-meta">{esc(c.source)} · relevance {c.score:.2f}</span></li>'
            for c in closest
        )
        parts.append(
            '<div class="qa-closest"><div class="qa-closest-label">Closest, but not an answer</div>'
            f"<ul>{items}</ul></div>"
        )
    parts.append(
        f'<div class="qa-actions"><span class="qa-copy-text">{attr(copy_text(answer))}</span>'
        '<button class="qa-copy" type="button" title="Copy the answer and its sources">Copy</button></div></div>'
    )
    return "".join(parts)


def error_html(message: str, heading: str = "Could not answer.") -> str:
    """An error as a message: what is wrong and how to fix it, never a stack trace."""
    return f'<div class="qa-error" role="alert"><strong>{esc(heading)}</strong> {esc_lines(message)}</div>'


# ---------------------------------------------------------------- highlighting


def highlight(
    text: str, start: int, end: int, passage: tuple[int, int] | None = None, offset: int = 0
) -> str:
    """`text` escaped, `text[start:end]` in <mark class="qa-hit">, the passage around it shaded.

    `offset` is where `text` begins in its document: the mark's data-start/data-end are document offsets.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}-{end} is outside a text of {len(text)} characters")
    mark = (
        f'<mark class="qa-hit" data-start="{start + offset}" data-end="{end + offset}">'
        f"{esc(text[start:end])}</mark>"
    )
    if (
        passage is not None
        and passage[0] <= start
        and end <= passage[1] <= len(text)
        and passage[0] < passage[1]
    ):
        ps, pe = passage
        return (
            f'{esc(text[:ps])}<span class="qa-passage">{esc(text[ps:start])}{mark}'
            f"{esc(text[end:pe])}</span>{esc(text[pe:])}"
        )
    return f"{esc(text[:start])}{mark}{esc(text[end:])}"


def locate(text: str | None, c: Any) -> tuple[int, int] | None:
    """Where citation `c` is in the current `text`: its own offsets, or the quote found again when the
    document changed since indexing; None when it is gone."""
    if text is None:
        return None
    if text[c.start : c.end] == c.text:
        return c.start, c.end
    at = text.find(c.text) if c.text else -1
    return (at, at + len(c.text)) if at >= 0 else None


def _passage_of(c: Any) -> tuple[int, int]:
    ps, pe = getattr(c, "passage_start", 0), getattr(c, "passage_end", 0)
    if pe > ps and ps <= c.start and c.end <= pe:
        return ps, pe
    return c.start, c.end


def source_item_html(c: Any, turn: int, kind: str, text: str | None, active: bool = False) -> str:
    """One entry of the sources panel: number, title, file, and the passage with the quote marked."""
    span = locate(text, c)
    if span is not None and text is not None:
        ps, pe = _passage_of(c)
        shift = span[0] - c.start
        ps, pe = max(0, ps + shift), min(len(text), pe + shift)
        body = highlight(text[ps:pe], span[0] - ps, span[1] - ps, offset=ps)
        body = ("… " if ps > 0 else "") + body + (" …" if pe < len(text) else "")
        note = (
            ""
            if span == (c.start, c.end)
            else (
                '<div class="qa-warn">The document changed since the index was built: rebuild the index.</div>'
            )
        )
    else:
        body = f'<mark class="qa-hit">{esc(c.text)}</mark>'
        note = '<div class="qa-warn">This passage is no longer in the document: rebuild the index.</div>'
    return (
        f'<div class="qa-source{" qa-active" if active else ""}" role="button" tabindex="0" '
        f'data-turn="{turn}" data-kind="{kind}" data-cite="{c.id}" data-source="{attr(c.source)}" '
        f'title="Open the full document">'
        f'<div class="qa-source-head"><span class="qa-num">[{c.id}]</span> '
        f'<span class="qa-title">{esc(c.title or c.source)}</span></div>'
        f'<div class="qa-meta">{esc(c.source)} · characters {c.start}–{c.end} · relevance {c.score:.2f}</div>'
        f'{note}<div class="qa-passage-text">{body}</div></div>'
    )


def sources_html(
    answer: Any | None,
    turn: int,
    texts: dict[str, str | None],
    active: tuple[str, int] | None = None,
) -> str:
    """The sources panel for one answer: its citations, or its closest passages when it abstained."""
    if answer is None:
        return (
            '<div class="qa-sources"><div class="qa-panel-head">Sources</div><div class="qa-empty">'
            "The passages an answer quotes appear here, the quoted words highlighted. "
            "Click a citation or a passage to read the whole document.</div></div>"
        )
    if answer.citations:
        kind, cites, head = "cite", answer.citations, "Sources"
    else:
        kind, cites, head = (
            "closest",
            list(getattr(answer, "closest", []) or []),
            "Closest, but not an answer",
        )
    if not cites:
        return f'<div class="qa-sources"><div class="qa-panel-head">{esc(head)}</div><div class="qa-empty">No passages.</div></div>'
    items = "".join(
        source_item_html(c, turn, kind, texts.get(c.source), active == (kind, c.id)) for c in cites
    )
    return f'<div class="qa-sources"><div class="qa-panel-head">{esc(head)}</div>{items}</div>'


def document_html(c: Any | None, text: str | None, title: str = "", problem: str = "") -> str:
    """The full document of citation `c`, the quoted span highlighted (the page scrolls to it)."""
    if c is None:
        msg = problem or "Click a citation [n] or a source to read the whole document here."
        cls = "qa-error" if problem else "qa-empty"
        return f'<div class="qa-doc"><div class="qa-panel-head">Document</div><div class="{cls}">{esc(msg)}</div></div>'
    head = (
        f'<div class="qa-doc-head"><div class="qa-panel-head">Document</div><span class="qa-num">[{c.id}]</span> '
        f'<span class="qa-title">{esc(title or c.title or c.source)}</span>'
        f'<div class="qa-meta">{esc(c.source)} · quoted characters {c.start}–{c.end}</div></div>'
    )
    span = locate(text, c)
    if text is None or span is None:
        why = problem or "the quoted passage is no longer in this document: rebuild the index"
        return f'<div class="qa-doc">{head}<div class="qa-warn">{esc(why)}</div></div>'
    note = (
        ""
        if span == (c.start, c.end)
        else (
            '<div class="qa-warn">The document changed since the index was built: rebuild the index.</div>'
        )
    )
    shift = span[0] - c.start
    ps, pe = _passage_of(c)
    body = highlight(text, span[0], span[1], (max(0, ps + shift), min(len(text), pe + shift)))
    return f'<div class="qa-doc">{head}{note}<div class="qa-doc-text">{body}</div></div>'


# ---------------------------------------------------------------- index status


@dataclass(frozen=True)
class IndexInfo:
    built: bool
    documents: int = 0
    chunks: int = 0
    model: str = ""
    built_at: str = ""
    fresh: bool = False
    changed: list[str] = field(default_factory=list)  # "name (new)", "name (stale)", ...
    skipped: list[str] = field(default_factory=list)  # "name: reason"
    titles: dict[str, str] = field(default_factory=dict)  # indexed document -> title
    problem: str = ""


def index_info(settings: Settings) -> IndexInfo:
    """What the status line shows: the manifest compared with the corpus on disk."""
    from qa.errors import IndexMissingError
    from qa.index import check_compatible, read_manifest
    from qa.index.status import corpus_status, is_fresh

    try:
        manifest = read_manifest(settings.index_dir)
        check_compatible(manifest, settings)
    except IndexMissingError:
        return IndexInfo(built=False, problem="no index yet: press Rebuild index")
    except QAError as exc:
        return IndexInfo(built=False, problem=str(exc))
    try:
        statuses = corpus_status(settings, manifest)
    except QAError as exc:
        statuses, problem = [], str(exc)
    else:
        problem = ""
    titles = {d: (m.get("title") or d) for d, m in sorted(manifest.documents.items())}
    return IndexInfo(
        built=True,
        documents=len(manifest.documents),
        chunks=manifest.n_chunks,
        model=str(manifest.model.get("name", "")),
        built_at=manifest.built_at,
        fresh=not problem and is_fresh(statuses),
        changed=[
            f"{s.doc_id} ({s.status})" for s in statuses if s.status in ("new", "stale", "removed")
        ],
        skipped=[f"{s.doc_id}: {s.reason}" for s in statuses if s.status == "skipped"],
        titles=titles,
        problem=problem,
    )


def status_html(info: IndexInfo) -> str:
    """One line: documents, chunks, model, build time, fresh or stale (and what to do)."""
    if not info.built:
        return f'<div class="qa-status"><span class="qa-badge qa-bad">no index</span> {esc(info.problem)}</div>'
    badge = (
        '<span class="qa-badge qa-ok">fresh</span>'
        if info.fresh
        else '<span class="qa-badge qa-bad">stale</span>'
    )
    built = info.built_at.replace("T", " ").replace("+00:00", " UTC")
    parts = [
        f"{info.documents} document{'s' if info.documents != 1 else ''}",
        f"{info.chunks} chunks",
        f"model {info.model.rsplit('/', 1)[-1]}",
        f"built {built}",
    ]
    line = " · ".join(esc(p) for p in parts)
    extra = ""
    if not info.fresh:
        what = info.problem or "the corpus changed: " + ", ".join(info.changed[:5]) + (
            " …" if len(info.changed) > 5 else ""
        )
        extra = f' <span class="qa-stale">{esc(what)} — press Rebuild index.</span>'
    if info.skipped:
        extra += f' <span class="qa-meta" title="{attr(chr(10).join(info.skipped))}">{len(info.skipped)} file(s) skipped</span>'
    return f'<div class="qa-status">{badge} <span class="qa-status-line">{line}</span>{extra}</div>'


def source_choices(info: IndexInfo) -> list[tuple[str, str]]:
    """(label, document id) for the source filter."""
    return [
        (f"{title} — {doc}" if title != doc else doc, doc) for doc, title in info.titles.items()
    ]


# ---------------------------------------------------------------- session logic (no Gradio types)


def read_texts(settings: Settings, sources: Sequence[str]) -> dict[str, str | None]:
    """Current text of each document (None when it cannot be read), through `read_document` only."""
    from qa.corpus import read_document

    out: dict[str, str | None] = {}
    for s in dict.fromkeys(sources):
        try:
            out[s] = read_document(settings.corpus_dir, s).text
        except QAError as exc:
            log.warning("cannot read %s: %s", s, exc)
            out[s] = None
    return out


def find_citation(conv: Any, turn: int, kind: str, n: int) -> Any | None:
    """The citation (or closest passage) number n of answer number `turn` of this conversation."""
    turns = getattr(conv, "turns", None) or []
    if not 0 <= turn < len(turns):
        return None
    answer = turns[turn]
    pool = answer.closest if kind == "closest" else answer.citations
    return next((c for c in pool if c.id == n), None)


class ChatSession:
    """One browser session: its Conversation and its transcript (the chat's messages, kept server-side so
    that overlapping requests cannot drop a message)."""

    def __init__(self, engine: Any, settings: Settings) -> None:
        from qa.chat import Conversation

        self.settings = settings
        self.conv = Conversation(engine)
        self.messages: list[dict] = []

    def ask(
        self,
        question: str,
        k: int | None = None,
        sources: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> str | None:
        """Answer into the transcript; return the sources panel (None when the question failed)."""
        self.messages.append({"role": "user", "content": question_html(question or "")})
        try:
            a = self.conv.ask(question, k=k, sources=list(sources or []) or None, mode=mode)
        except QAError as exc:  # a typed error names its fix
            self.messages.append({"role": "assistant", "content": error_html(str(exc))})
            return None
        except Exception:  # the user sees a message; the trace goes to the server log
            log.exception("answering %r failed", question)
            self.messages.append({"role": "assistant", "content": error_html(UNEXPECTED)})
            return None
        turn = len(self.conv.turns) - 1
        self.messages.append({"role": "assistant", "content": answer_html(a, turn)})
        return sources_html(
            a, turn, read_texts(self.settings, [c.source for c in a.citations or a.closest])
        )

    def open(self, turn: int, kind: str, n: int) -> tuple[str, str | None]:
        """(document viewer, sources panel) for citation n of answer `turn`."""
        from qa.corpus import read_document

        c = find_citation(self.conv, turn, kind, n)
        if c is None:
            return document_html(
                None, None, problem="That citation is not in this conversation: ask again."
            ), None
        a = self.conv.turns[turn]
        panel = sources_html(
            a,
            turn,
            read_texts(self.settings, [x.source for x in a.citations or a.closest]),
            (kind, n),
        )
        try:
            doc = read_document(self.settings.corpus_dir, c.source)
        except QAError as exc:
            return document_html(c, None, problem=str(exc)), panel
        return document_html(c, doc.text, doc.title), panel


def progress_printer(stream: Any = None) -> Callable[[str, int, int], None]:
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


def ensure_index(settings: Settings, embedder: Any, stream: Any = None) -> str:
    """Build the index when it is missing, stale or incompatible (unchanged indexes return at once)."""
    from qa.index import build_index

    stream = stream or sys.stderr
    print(
        f"checking the index in {settings.index_dir} against {settings.corpus_dir} ...",
        file=stream,
        flush=True,
    )
    report = build_index(settings, embedder, progress_printer(stream))
    for s in report.skipped:
        print(f"  skipped {s.name}: {s.reason}", file=stream, flush=True)
    if report.unchanged:
        return f"index is up to date: {report.documents} documents, {report.chunks} chunks"
    return (
        f"indexed {report.documents} documents, {report.chunks} chunks ({report.embedded} embedded, "
        f"{report.reused} from cache) in {report.seconds:.1f} s"
    )


# ---------------------------------------------------------------- the page

CSS = """
.gradio-container { max-width: 1400px !important; margin: 0 auto; }
#qa-header h1 { font-size: 1.35rem; margin: 0; }
#qa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: .9rem; }
.qa-status { font-size: .85rem; padding: 6px 10px; border-radius: 8px; background: var(--background-fill-secondary); }
.qa-badge { display: inline-block; font-weight: 600; font-size: .75rem; padding: 1px 8px; border-radius: 999px; margin-right: 4px; }
.qa-ok { background: #dcfce7; color: #166534; }
.qa-bad { background: #fee2e2; color: #991b1b; }
.qa-stale { color: #991b1b; }
.qa-meta { color: var(--body-text-color-subdued); font-size: .8rem; }
.qa-answer p { margin: 0 0 .6em; }
.qa-answer p:last-child { margin-bottom: 0; }
a.qa-cite { cursor: pointer; font-weight: 600; font-size: .8em; vertical-align: super; line-height: 0;
  color: var(--color-accent); text-decoration: none; padding: 0 1px; border-radius: 3px; }
a.qa-cite:hover, a.qa-cite:focus { background: var(--color-accent-soft); text-decoration: underline; }
.qa-resolved { font-size: .8rem; color: var(--body-text-color-subdued); margin-bottom: 4px; font-style: italic; }
.qa-figures { margin-top: 8px; font-size: .9rem; }
.qa-figures-caption { font-weight: 600; margin-bottom: 2px; }
.qa-figures table { border-collapse: collapse; margin: 0; width: auto; }
.qa-figures td { padding: 2px 12px 2px 0; border: none; border-bottom: 1px solid var(--border-color-primary); }
.qa-closest { margin-top: 8px; font-size: .9rem; }
.qa-closest ul { margin: 2px 0 0; padding-left: 1.2em; }
.qa-closest-label, .qa-panel-head { font-weight: 600; }
.qa-abstained .qa-text { color: var(--body-text-color-subdued); }
.qa-actions { margin-top: 6px; text-align: right; }
.qa-copy-text { display: none; }
button.qa-copy { font-size: .75rem; padding: 1px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary); }
button.qa-copy:hover { background: var(--background-fill-secondary); }
.qa-error { color: #991b1b; }
.qa-warn { color: #92400e; font-size: .8rem; margin: 2px 0; }
.qa-empty { color: var(--body-text-color-subdued); font-size: .9rem; padding: 8px 4px; }
.qa-sources { max-height: 440px; overflow-y: auto; padding-right: 4px; }
.qa-doc { max-height: 420px; overflow-y: auto; padding-right: 4px; margin-top: 10px; }
.qa-panel-head { margin: 0 0 6px; font-size: 1rem; }
.qa-sources > .qa-panel-head { position: sticky; top: 0; z-index: 1; padding-bottom: 4px;
  background: var(--body-background-fill); }
.qa-doc-head .qa-title { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin-bottom: 8px; cursor: pointer; background: var(--background-fill-primary); }
.qa-source:hover, .qa-source:focus { border-color: var(--color-accent); }
.qa-source.qa-active { border-color: var(--color-accent); box-shadow: 0 0 0 1px var(--color-accent); }
.qa-num { font-weight: 600; color: var(--color-accent); }
.qa-title { font-weight: 600; }
.qa-passage-text { font-size: .85rem; margin-top: 4px; white-space: pre-wrap; line-height: 1.45; }
mark.qa-hit { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.qa-passage { background: #eff6ff; }
.qa-doc-head { position: sticky; top: 0; background: var(--background-fill-primary); padding-bottom: 6px;
  border-bottom: 1px solid var(--border-color-primary); margin-bottom: 6px; }
.qa-doc-text { white-space: pre-wrap; font-size: .9rem; line-height: 1.5; }
"""

# Installed once by the document viewer: routes clicks on citations/sources to the server and
# handles the Copy buttons (clipboard API, or a textarea fallback when the page is not a secure context).
VIEWER_JS = r"""
window.__qaOpen = (data) => trigger('click', data);
if (!window.__qaInstalled) {
  window.__qaInstalled = true;
  const pick = (ev, sel) => {
    for (const el of ev.composedPath ? ev.composedPath() : [ev.target]) {
      if (el instanceof Element && el.matches(sel)) return el;
    }
    return null;
  };
  const copy = async (text, btn) => {
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const ta = document.createElement('textarea');
      ta.value = text; ta.style.position = 'fixed'; ta.style.left = '-9999px';
      document.body.appendChild(ta); ta.select(); document.execCommand('copy'); ta.remove();
    }
    const old = btn.textContent; btn.textContent = 'Copied'; setTimeout(() => { btn.textContent = old; }, 1500);
  };
  const act = (ev) => {
    const cite = pick(ev, '[data-cite], a.qa-cite');
    if (cite) {
      ev.preventDefault(); ev.stopPropagation();
      let d = cite.dataset;
      const m = /#qa-cite-(\d+)-(\w+)-(\d+)$/.exec(cite.getAttribute('href') || '');
      if (d.cite === undefined && m) d = {turn: m[1], kind: m[2], cite: m[3]};
      window.__qaOpen({turn: Number(d.turn), kind: d.kind || 'cite', cite: Number(d.cite)});
      return;
    }
    const btn = pick(ev, 'button.qa-copy');
    if (btn) {
      ev.preventDefault(); ev.stopPropagation();
      const src = btn.closest('.qa-answer')?.querySelector('.qa-copy-text');
      copy(src ? src.textContent : '', btn);
    }
  };
  document.addEventListener('click', act, true);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') act(ev); }, true);
}
watch('value', () => {
  // Scroll the document box to the quote, then bring the box itself into view if it is off screen.
  const m = element.querySelector('mark.qa-hit'), box = element.querySelector('.qa-doc');
  if (!m || !box) return;
  const head = box.querySelector('.qa-doc-head'), below = (head ? head.offsetHeight : 0) + 24;
  const top = m.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  box.scrollTop = Math.max(0, top - below - Math.max(0, box.clientHeight - below - m.offsetHeight) / 4);
  box.scrollIntoView({block: 'nearest'});
});
"""


# The sources panel keeps the passage being read in view inside its own scroll box.
SOURCES_JS = r"""
watch('value', () => {
  const a = element.querySelector('.qa-source.qa-active'), box = element.querySelector('.qa-sources');
  if (!a || !box) return;
  const head = box.querySelector('.qa-panel-head'), below = (head ? head.offsetHeight : 0) + 8;
  const top = a.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  if (top - below < box.scrollTop || top + a.offsetHeight > box.scrollTop + box.clientHeight) {
    box.scrollTop = Math.max(0, top - below);
  }
});
"""


def build_app(settings: Settings, engine: Any = None):
    """The Gradio Blocks page. `engine` is shared by every session; each session has its own Conversation."""
    import gradio as gr

    from qa.chat import Engine

    engine = engine or Engine(settings)
    first = index_info(settings)

    def add_question(question: str, history: list) -> tuple:
        """Show the question at once; the answer follows (and replaces the chat with the session's transcript)."""
        q = (question or "").strip()
        return "", [*(history or []), {"role": "user", "content": question_html(q)}], q

    def answer(
        question: str, sess: ChatSession | None, k: float, sources: list[str] | None, mode: str
    ) -> tuple:
        sess = sess or ChatSession(engine, settings)
        panel = sess.ask(question, k=int(k), sources=sources, mode=mode)
        return list(sess.messages), sess, gr.skip() if panel is None else panel

    def open_citation(sess: ChatSession | None, evt: gr.EventData) -> tuple:
        data = getattr(evt, "_data", None) or {}
        try:
            turn, kind, n = (
                int(data.get("turn", -1)),
                str(data.get("kind", "cite")),
                int(data.get("cite", -1)),
            )
        except (TypeError, ValueError):
            return gr.skip(), gr.skip()
        if sess is None:
            return document_html(None, None, problem="Ask a question first."), gr.skip()
        doc, panel = sess.open(turn, kind, n)
        return doc, gr.skip() if panel is None else panel

    def new_chat() -> tuple:
        return [], None, sources_html(None, 0, {}), document_html(None, None)

    def refresh() -> tuple:
        info = index_info(settings)
        return status_html(info), gr.Dropdown(choices=source_choices(info))

    def rebuild(progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008 (Gradio's idiom)
        from qa.index import build_index

        def cb(stage: str, done: int, total: int) -> None:
            if stage == "embedding" and total:
                progress(done / total, desc=f"embedding chunks {done}/{total}")
            else:
                progress(None, desc=stage)

        try:
            progress(0, desc="loading corpus")
            report = build_index(settings, engine.embedder, cb)
            engine.reload()
            note = (
                f"Index is up to date: {report.documents} documents, {report.chunks} chunks."
                if report.unchanged
                else f"Indexed {report.documents} documents, {report.chunks} chunks "
                f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s."
            )
            note_html = f'<div class="qa-meta">{esc(note)}</div>'
        except QAError as exc:
            note_html = error_html(str(exc), "Could not rebuild the index.")
        except Exception:
            log.exception("rebuilding the index failed")
            note_html = error_html(
                "The details are in the server log.", "Could not rebuild the index."
            )
        info = index_info(settings)
        return status_html(info), gr.Dropdown(choices=source_choices(info)), note_html

    with gr.Blocks(title="qa — cited answers from your documents", analytics_enabled=False) as demo:
        session_state = gr.State(None)  # a ChatSession, created by the first question
        # The question being answered. A component, not a State: its value travels with the request,
        # so a second question typed meanwhile cannot replace it.
        pending = gr.Textbox(visible=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, elem_id="qa-header"):
                gr.HTML(
                    "<h1>qa — answers quoted from your documents</h1>"
                    "<p>Every sentence comes from the corpus, with a numbered citation. "
                    "Click a number to read it in its source.</p>"
                )
            with gr.Column(scale=2):
                status = gr.HTML(status_html(first), elem_id="qa-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    label="Chat",
                    show_label=False,
                    height=560,
                    buttons=[],
                    feedback_options=None,
                    latex_delimiters=[],
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="<b>Ask a question about the documents in the corpus.</b><br>"
                    "The answer quotes the sources; it says so when they do not answer.",
                    autoscroll=True,
                )
                with gr.Row():
                    box = gr.Textbox(
                        elem_id="qa-question",
                        placeholder="Ask a question about the documents…",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=5,
                        autofocus=True,
                        submit_btn=False,
                    )
                    ask_btn = gr.Button(
                        "Ask", variant="primary", scale=1, min_width=80, elem_id="qa-ask"
                    )
                    new_btn = gr.Button("New chat", scale=1, min_width=80, elem_id="qa-new")
                with gr.Accordion("Settings and index", open=False, elem_id="qa-settings"):
                    with gr.Row():
                        k_slider = gr.Slider(
                            1,
                            20,
                            value=settings.k,
                            step=1,
                            label="Passages to retrieve",
                            elem_id="qa-k",
                        )
                        mode_radio = gr.Radio(
                            list(MODES),
                            value=settings.mode,
                            label="Retrieval mode",
                            elem_id="qa-mode",
                        )
                    source_filter = gr.Dropdown(
                        choices=source_choices(first),
                        value=[],
                        multiselect=True,
                        label="Search only these documents (empty: all)",
                        elem_id="qa-filter",
                    )
                    with gr.Row():
                        rebuild_btn = gr.Button("Rebuild index", elem_id="qa-rebuild", scale=1)
                        rebuild_note = gr.HTML("", elem_id="qa-rebuild-note", min_height=48)
            with gr.Column(scale=2, min_width=360):
                sources = gr.HTML(
                    sources_html(None, 0, {}), elem_id="qa-sources", js_on_load=SOURCES_JS
                )
                viewer = gr.HTML(document_html(None, None), elem_id="qa-doc", js_on_load=VIEWER_JS)

        ask_inputs = [pending, session_state, k_slider, source_filter, mode_radio]
        ask_outputs = [chatbot, session_state, sources]
        for trigger in (box.submit, ask_btn.click):
            trigger(add_question, [box, chatbot], [box, chatbot, pending], queue=False).then(
                answer, ask_inputs, ask_outputs, show_progress_on=chatbot
            )

        def pick_example(history: list, evt: gr.SelectData) -> tuple:
            value = evt.value if isinstance(evt.value, dict) else {"text": str(evt.value)}
            return add_question(value.get("text", ""), history)

        pick_example.__annotations__["evt"] = gr.SelectData
        chatbot.example_select(pick_example, [chatbot], [box, chatbot, pending], queue=False).then(
            answer, ask_inputs, ask_outputs, show_progress_on=chatbot
        )
        # `from __future__ import annotations` hides the types Gradio looks for: name them explicitly.
        open_citation.__annotations__["evt"] = gr.EventData
        viewer.click(open_citation, [session_state], [viewer, sources], show_progress="hidden")
        new_btn.click(new_chat, None, [chatbot, session_state, sources, viewer], queue=False)
        chatbot.clear(new_chat, None, [chatbot, session_state, sources, viewer], queue=False)
        rebuild_btn.click(
            rebuild, None, [status, source_filter, rebuild_note], show_progress_on=rebuild_note
        )
        demo.load(refresh, None, [status, source_filter], show_progress="hidden")
    return demo


def theme():
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    # System fonts only: the default theme would fetch Google Fonts, and the app runs offline.
    return gr.themes.Soft(primary_hue="blue", neutral_hue="slate", font=system, font_mono=mono)


def serve(settings: Settings) -> None:
    """Build the index when missing or stale, then serve the page on settings.host:settings.port."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "bm25s", "faiss.loader", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from qa.chat import Engine

    engine = Engine(settings)
    try:
        print(ensure_index(settings, engine.embedder), file=sys.stderr, flush=True)
        engine.reload()
    except QAError as exc:  # still serve: the page shows the problem, and Rebuild index retries
        print(f"error: {exc}", file=sys.stderr, flush=True)
    demo = build_app(settings, engine)
    where = f"http://{settings.host}:{settings.port}"
    print(f"serving {where} (Ctrl+C stops)", file=sys.stderr, flush=True)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.auth is None:
        print(
            "warning: the UI is open to the network without a password: set QA_AUTH=user:password",
            file=sys.stderr,
            flush=True,
        )
    try:
        demo.queue(default_concurrency_limit=1).launch(
            server_name=settings.host,
            server_port=settings.port,
            auth=settings.auth,
            share=False,
            inbrowser=False,
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            run_history=False,
            footer_links=[],
            show_error=False,
            max_file_size=0,  # the app takes no uploads: refuse Gradio's upload route (files it would serve)
            quiet=True,
            theme=theme(),
            css=CSS,
        )
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
