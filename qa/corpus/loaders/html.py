"""Saved web pages: the article's main text and metadata by trafilatura.

Navigation, ads, cookie banners, comment sections and "Related" lists are left out; the metadata
(title, publication date, author, site name, canonical URL) comes from the page's own markup
(JSON-LD, og:/article: meta tags, <link rel=canonical>, <time>). Nothing is guessed from the text:
a page without a date has none here (and gets its file's date, labelled as such, in `load_corpus`).
"""

from __future__ import annotations

from pathlib import Path

from qa.corpus.documents import Part, clean_meta, iso_date
from qa.corpus.loaders import register_loader
from qa.errors import CorpusError

NO_TEXT_HINT = (
    "save the article page itself (not a front page, login or consent page), "
    "or copy the article's text into a .txt file"
)


def extract(raw: bytes | str, name: str) -> Part:
    """One page's main text and metadata."""
    import trafilatura

    if (
        isinstance(raw, bytes)
        and b"\x00" in raw[:4096]
        and not raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    ):
        raise CorpusError(
            f"{name}: looks binary (contains NUL bytes)", "remove it or save the page as HTML"
        )
    try:
        doc = trafilatura.bare_extraction(
            raw,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            favor_precision=True,
            fast=True,  # no second opinion by readability/jusText: a third of the time, same text here
            deduplicate=False,
            # the page's own publication date only: no dates guessed from the body text or the URL
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # noqa: BLE001 (any parser failure on a damaged page is a skip, not a crash)
        raise CorpusError(f"{name}: the page cannot be parsed ({exc})", NO_TEXT_HINT) from None
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise CorpusError(f"{name}: no article text found in the page", NO_TEXT_HINT)
    meta = {"outlet": doc.sitename, "author": doc.author, "url": doc.url}
    published = iso_date(doc.date)
    if published:
        meta.update(published=published, date_source="page")
    title = (doc.title or "").strip() or text.strip().split("\n", 1)[0]
    return Part(title[:300] or Path(name).stem, text, clean_meta(meta))


@register_loader(".html", ".htm", ".xhtml")
def load_html(raw: bytes, name: str) -> list[Part]:
    return [extract(raw, name)]
