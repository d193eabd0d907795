"""HTML of the page, from the Jinja2 templates in qa/web/templates (autoescape on).

Python only builds small view models (which span is marked, which [n] is a link); the markup lives in
the templates. Every value printed by a template goes through `esc`, a stricter autoescape: besides
HTML's own characters it turns the characters that mean something to Markdown or to Gradio's JS
templates (`$ { } * _ [ ]` ...) into numeric entities, so corpus text and questions stay text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'`{}$*_~[]\\|#"})
_CITE_RE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
UNEXPECTED = (
    "Something went wrong while answering. The details are in the server log; "
    "try again or rebuild the index."
)
CHANGED = "The document changed since the index was built: rebuild the index."
GONE = "This passage is no longer in the document: rebuild the index."


def esc(text: object) -> str:
    """Text -> inert HTML (shown verbatim in HTML, Markdown and Gradio templates)."""
    return str(text).translate(_ENTITIES)


def _finalize(value: object) -> object:
    if value is None or isinstance(value, Markup):
        return value
    return Markup(esc(value))


@lru_cache(maxsize=1)
def env():
    """The template environment (built once; templates are compiled on first use and kept: they are
    package files, so no per-render check of their modification time)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("qa.web", "templates"),
        autoescape=True,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def render(name: str, **context: Any) -> str:
    return env().get_template(name).render(**context)


# ---------------------------------------------------------------- view models


@dataclass(frozen=True)
class Highlight:
    """`text` cut around one marked span (document offsets in start/end), optionally a shaded passage."""

    before: str
    lead: str
    hit: str
    tail: str
    after: str
    start: int
    end: int
    passage: bool


def highlight_model(
    text: str, start: int, end: int, passage: tuple[int, int] | None = None, offset: int = 0
) -> Highlight:
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}-{end} is outside a text of {len(text)} characters")
    ok = passage is not None and passage[0] <= start and end <= passage[1] <= len(text)
    if ok and passage[0] < passage[1]:
        ps, pe = passage
        return Highlight(
            text[:ps], text[ps:start], text[start:end], text[end:pe], text[pe:],
            start + offset, end + offset, True,
        )  # fmt: skip
    return Highlight(
        text[:start], "", text[start:end], "", text[end:], start + offset, end + offset, False
    )


def highlight(
    text: str, start: int, end: int, passage: tuple[int, int] | None = None, offset: int = 0
) -> str:
    """`text` escaped, `text[start:end]` in <mark class="qa-hit">, the passage around it shaded."""
    h = highlight_model(text, start, end, passage, offset)
    return env().get_template("_macros.html").module.highlight(h)


def linked_pieces(text: str, known: set[int]) -> list[dict]:
    """`text` split into plain pieces and runs of [n] whose numbers are all known citations."""
    out: list[dict] = []
    pos = 0
    for m in _CITE_RE.finditer(text):
        nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
        if not all(n in known for n in nums):
            continue
        out += [{"text": text[pos : m.start()], "cites": None}, {"text": "", "cites": nums}]
        pos = m.end()
    out.append({"text": text[pos:], "cites": None})
    return out


def linked_text(text: str, turn: int, titles: dict[int, str], kind: str = "cite") -> str:
    """Escape `text`, turning each `[n]` whose n is a known citation into a clickable link."""
    macros = env().get_template("_macros.html").module
    parts = []
    for piece in linked_pieces(text, set(titles)):
        if piece["cites"]:
            parts += [macros.cite_link(turn, kind, n, titles[n]) for n in piece["cites"]]
        else:
            parts.append(macros.lines(piece["text"]))
    return "".join(str(p) for p in parts)


@dataclass(frozen=True)
class DocMeta:
    published: str = ""
    file_date: bool = False
    outlet: str = ""
    author: str = ""
    url: str = ""
    page: int | None = None  # a PDF citation's page


def doc_meta(c: Any, known: dict | None = None) -> DocMeta | None:
    """A citation's article metadata (its own fields, else `known`, the index manifest's entry), or
    None when neither carries any (an index built before metadata existed)."""
    keys = ("published", "outlet", "author", "url")
    known = known or {}
    if not any(hasattr(c, k) for k in keys) and not any(k in known for k in (*keys, "date_source")):
        return None

    def get(k: str) -> str:
        return str(getattr(c, k, None) or known.get(k) or "")

    url = get("url")
    if urlsplit(url).scheme not in ("http", "https"):
        url = ""  # never a javascript: or file: link
    file_date = (getattr(c, "date_source", None) or known.get("date_source")) == "file mtime"
    page = getattr(c, "page", None)
    return DocMeta(get("published"), file_date, get("outlet"), get("author"), url, page)


def _figure_dict(fig: Any) -> dict:
    if hasattr(fig, "to_dict"):
        return fig.to_dict()
    return dict(fig) if isinstance(fig, dict) else {"text": str(fig)}


def figures_model(answer: Any) -> dict | None:
    """The figures the sources give for the asked quantity, one row each, with their citations."""
    figs = [_figure_dict(f) for f in (getattr(answer, "figures", None) or [])]
    if not figs:
        return None
    known = {c.id for c in answer.citations}
    labels = {str(f.get("label") or f.get("kind") or "") for f in figs}
    one = len(labels) == 1
    rows = [
        {
            "text": f.get("text", ""),
            "label": None if one else (f.get("label") or f.get("kind") or ""),
            "cites": [i for i in f.get("citations", []) if isinstance(i, int) and i in known],
        }
        for f in figs
    ]
    disagree = getattr(answer, "figures_disagree", len({f.get("text") for f in figs}) > 1)
    what = f" for {next(iter(labels))}" if one and next(iter(labels)) else ""
    return {
        "rows": rows,
        "caption": f"Figures the sources give{what}" + (": they disagree" if disagree else ""),
    }


def copy_text(answer: Any) -> str:
    """What the Copy button puts on the clipboard: the answer and its sources, as plain text."""
    lines = [answer.answer.strip()]
    cites = answer.citations or getattr(answer, "closest", [])
    if cites:
        lines += ["", "Sources:" if answer.citations else "Closest, but not an answer:"]
        lines += [f"[{c.id}] {c.title} ({c.source}, characters {c.start}-{c.end})" for c in cites]
    return "\n".join(lines)


# ---------------------------------------------------------------- messages and panels


def question_html(question: str, seq: int = 0) -> str:
    """A question echoed in the chat: always text."""
    return render("question.html", question=question.strip(), seq=seq)


def error_html(message: str, heading: str = "Could not answer.", seq: int = 0) -> str:
    """An error as a message: what is wrong and how to fix it, never a stack trace."""
    return render("error.html", message=message, heading=heading, seq=seq)


def note_html(text: str, cls: str = "qa-meta", heading: str = "") -> str:
    return render("note.html", text=text, cls=cls, heading=heading)


def answer_html(answer: Any, turn: int, seq: int = 0, gone: list | None = None) -> str:
    """One assistant message: the answer with clickable [n], figures, closest passages, a copy button.

    `gone`: cited citations whose document is no longer in the corpus (the message says so)."""
    titles = {c.id: c.title for c in answer.citations}
    closest = list(getattr(answer, "closest", None) or [])
    resolved = getattr(answer, "resolved_question", None)
    paras = [p.strip() for p in re.split(r"\n\s*\n", answer.answer.strip()) if p.strip()]
    model = {
        "abstained": answer.abstained,
        "resolved": resolved if resolved and resolved.strip() != answer.question.strip() else "",
        "paragraphs": [linked_pieces(p, set(titles)) for p in paras],
        "figures": None if answer.abstained else figures_model(answer),
        "closest": closest if answer.abstained else [],
        "clip": copy_text(answer),
        "gone": gone or [],
    }
    for c in model["closest"]:
        titles.setdefault(c.id, c.title)
    return render("answer.html", a=model, turn=turn, titles=titles, seq=seq)


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


def source_item(c: Any, text: str | None, active: bool = False, known: dict | None = None) -> dict:
    """One entry of the sources panel: the passage around the quote, the quote marked."""
    item = {"c": c, "active": active, "meta": doc_meta(c, known), "h": None, "note": GONE}
    span = locate(text, c)
    if span is None or text is None:
        return item
    ps, pe = _passage_of(c)
    shift = span[0] - c.start
    ps, pe = max(0, ps + shift), min(len(text), pe + shift)
    item.update(
        h=highlight_model(text[ps:pe], span[0] - ps, span[1] - ps, offset=ps),
        cut_left=ps > 0,
        cut_right=pe < len(text),
        note="" if span == (c.start, c.end) else CHANGED,
    )
    return item


def sources_html(
    answer: Any | None,
    turn: int,
    texts: dict[str, str | None],
    active: tuple[str, int] | None = None,
    metas: dict[str, dict] | None = None,
) -> str:
    """The sources panel for one answer: its citations, or its closest passages when it abstained.

    `metas`: the index's metadata of each document (date source, ...), by document."""
    if answer is None:
        empty = (
            "The passages an answer quotes appear here, the quoted words highlighted. "
            "Click a citation or a passage to read the whole document."
        )
        return render("sources.html", head="Sources", empty=empty, items=[], turn=0, kind="cite")
    if answer.citations:
        kind, cites, head = "cite", answer.citations, "Sources"
    else:
        kind, head = "closest", "Closest, but not an answer"
        cites = list(getattr(answer, "closest", []) or [])
    metas = metas or {}
    items = [
        source_item(c, texts.get(c.source), active == (kind, c.id), metas.get(c.source))
        for c in cites
    ]
    empty = "" if items else "No passages."
    return render("sources.html", head=head, empty=empty, items=items, turn=turn, kind=kind)


def document_html(
    c: Any | None, text: str | None, title: str = "", problem: str = "", known: dict | None = None
) -> str:
    """The full document of citation `c`, the quoted span highlighted (the page scrolls to it)."""
    if c is None:
        return render("document.html", c=None, problem=problem)
    span = locate(text, c)
    ctx = {"c": c, "title": title, "meta": doc_meta(c, known), "h": None, "problem": problem}
    if text is None or span is None:
        why = problem or "the quoted passage is no longer in this document: rebuild the index"
        return render("document.html", note=why, **ctx)
    shift = span[0] - c.start
    ps, pe = _passage_of(c)
    h = highlight_model(text, span[0], span[1], (max(0, ps + shift), min(len(text), pe + shift)))
    note = "" if span == (c.start, c.end) else CHANGED
    return render("document.html", note=note, **{**ctx, "h": h})


def transcript_template(examples: list[str]) -> str:
    """The chat log's fixed HTML (the examples shown on an empty chat)."""
    return render("transcript.html", examples=examples)


def header_html() -> str:
    return render("header.html")
