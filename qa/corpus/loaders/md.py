"""Markdown: a YAML front matter block (title, date, source/outlet, url, author) is metadata, the body is text."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from qa.corpus.documents import Part, clean_meta, iso_date
from qa.corpus.loaders import register_loader
from qa.corpus.loaders.txt import decode_text, first_line_title
from qa.errors import CorpusError

_FRONT = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
KEYS = {
    "published": ("date", "published", "pubdate", "published_at", "publishdate"),
    "outlet": ("source", "outlet", "publisher", "site", "sitename", "publication"),
    "url": ("url", "link", "canonical", "canonical_url", "source_url"),
    "author": ("author", "authors", "byline"),
}


def _first(data: dict, names: tuple[str, ...]) -> object:
    lowered = {str(k).lower(): v for k, v in data.items()}
    for n in names:
        v = lowered.get(n)
        if isinstance(v, dict):
            v = v.get("name")
        if isinstance(v, list):  # only plain values: an alias-heavy YAML list must not blow up here
            v = ", ".join(str(x) for x in v[:20] if isinstance(x, (str, int, float)) and x)
        if isinstance(v, (str, int, float, date)) and not isinstance(v, bool) and v != "":
            return v
    return None


def front_matter(text: str, name: str) -> tuple[dict, int]:
    """(front matter fields, offset where the body starts)."""
    import yaml

    m = _FRONT.match(text)
    if not m:
        return {}, 0
    try:
        data = yaml.safe_load(m.group(1) or "") or {}
    except RecursionError:
        raise CorpusError(
            f"{name}: front matter nested too deeply", "fix the block between the `---` lines"
        ) from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 2})" if line is not None else ""
        raise CorpusError(
            f"{name}: front matter is not valid YAML{where}",
            "fix the block between the `---` lines",
        ) from None
    if not isinstance(data, dict):
        raise CorpusError(
            f"{name}: front matter is not a list of `key: value` fields",
            "fix the block between the `---` lines",
        )
    return data, m.end()


@register_loader(".md", ".markdown")
def load_md(raw: bytes, name: str) -> list[Part]:
    text = decode_text(raw, name)
    data, body_start = front_matter(text, name)
    body = text[body_start:]
    meta = {k: _first(data, names) for k, names in KEYS.items()}
    meta = {k: str(v) if k != "published" else v for k, v in meta.items() if v is not None}
    published = iso_date(meta.pop("published", None))
    if published:
        meta.update(published=published, date_source="front matter")
    title = _first(data, ("title", "headline"))
    title = str(title) if title else first_line_title(body, Path(name).stem)
    return [Part(title[:300], body, clean_meta(meta))]
