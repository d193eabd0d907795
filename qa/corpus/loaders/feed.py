"""RSS and Atom feeds saved to disk: one document per entry, by feedparser.

An entry's text is its full content when the feed carries it, else its summary; its date, link and
author come from the entry and its outlet is the feed's title. Entry n (1-based, in file order) is
document "<file>#n".
"""

from __future__ import annotations

import time

from qa.corpus.documents import Part, clean_meta
from qa.corpus.loaders import fragment_text, register_loader
from qa.errors import CorpusError


def _date(entry) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = entry.get(key)
        if isinstance(t, time.struct_time):
            return time.strftime("%Y-%m-%d", t)
    return None


def _entry(entry, outlet: str | None, n: int) -> Part:
    contents = [c.get("value", "") for c in entry.get("content", []) if c.get("value")]
    body = max(contents, key=len) if contents else entry.get("summary", "")
    text = fragment_text(body or "")
    title = fragment_text(entry.get("title", "")).strip()
    meta = {"outlet": outlet, "url": entry.get("link"), "author": entry.get("author")}
    published = _date(entry)
    if published:
        meta.update(published=published, date_source="feed")
    if not text.strip():
        return Part(
            title, "", key=str(n), problem="entry has no text (neither content nor summary)"
        )
    return Part((title or text.strip().split("\n", 1)[0])[:300], text, clean_meta(meta), key=str(n))


@register_loader(".rss", ".atom", ".xml")
def load_feed(raw: bytes, name: str) -> list[Part]:
    import feedparser

    try:
        parsed = feedparser.parse(raw, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 (a damaged file must never crash a build: found by fuzzing)
        raise CorpusError(
            f"{name}: not a readable feed ({type(exc).__name__})",
            "save the feed's XML again, or remove the file",
        ) from None
    if not parsed.get("version") and not parsed.entries:
        why = parsed.get("bozo_exception")
        detail = f" ({type(why).__name__})" if why else ""
        raise CorpusError(
            f"{name}: not an RSS or Atom feed{detail}",
            "save the feed's XML again, or remove the file if it is other XML",
        )
    if not parsed.entries:
        raise CorpusError(
            f"{name}: the feed has no entries",
            "save the feed again when it lists articles, or remove the file",
        )
    outlet = fragment_text(parsed.feed.get("title", "")).strip() or None
    return [_entry(e, outlet, n) for n, e in enumerate(parsed.entries, 1)]
