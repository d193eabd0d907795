"""Plain text: UTF-8 (BOM or not) or BOM-marked UTF-16; a leading "Title / Date / Outlet" header is metadata.

A header block is "Key: value" lines at the very top (Title, Date or Published, Source or Outlet,
Author or By, URL), followed by a blank line, naming at least a date or an outlet. It is metadata,
not text: the document's text (and every offset) starts after it.
"""

from __future__ import annotations

import re
from pathlib import Path

from qa.corpus.documents import Part, clean_meta, iso_date
from qa.corpus.loaders import register_loader
from qa.errors import CorpusError

HEADER_KEYS = {
    "title": "title", "headline": "title",
    "date": "published", "published": "published", "publication date": "published",
    "source": "outlet", "outlet": "outlet", "publication": "outlet", "publisher": "outlet",
    "author": "author", "by": "author", "byline": "author",
    "url": "url", "link": "url",
}  # fmt: skip
_HEADER_LINE = re.compile(r"([A-Za-z][A-Za-z ]{0,20}?)\s*:\s*(\S.*)")


def decode_text(raw: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16; refuse binary and other encodings."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM (Windows "Unicode" text)
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise CorpusError(f"{name}: damaged UTF-16 text", "re-save the file as UTF-8") from None
        if "\x00" in text:
            raise CorpusError(
                f"{name}: looks binary (contains NUL characters)", "remove it or convert it to text"
            )
    elif b"\x00" in raw:
        raise CorpusError(
            f"{name}: looks binary (contains NUL bytes)", "remove it or convert it to text"
        )
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"{name}: not valid UTF-8 (byte {exc.start})", "re-save the file as UTF-8"
            ) from None
    # One newline convention, so offsets mean the same thing in every viewer.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def first_line_title(text: str, fallback: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return fallback


def read_header(text: str) -> tuple[dict, int]:
    """(fields of a leading header block, offset where the body starts); ({}, 0) when there is none."""
    fields: dict = {}
    pos = len(text) - len(text.lstrip("\n"))
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        line = text[pos:end].strip()
        if not line:
            break
        m = _HEADER_LINE.fullmatch(line)
        key = HEADER_KEYS.get(m.group(1).strip().lower()) if m else None
        if key is None or key in fields:
            return {}, 0
        fields[key] = m.group(2).strip()
        pos = end + 1
    if not ({"published", "outlet"} & fields.keys()):
        return {}, 0
    return fields, min(pos, len(text))


def header_meta(fields: dict, date_source: str) -> dict:
    meta = {k: v for k, v in fields.items() if k in ("outlet", "author", "url")}
    published = iso_date(fields.get("published"))
    if published:
        meta.update(published=published, date_source=date_source)
    return clean_meta(meta)


@register_loader(".txt", ".text")
def load_txt(raw: bytes, name: str) -> list[Part]:
    text = decode_text(raw, name)
    fields, body_start = read_header(text)
    body = text[body_start:]
    title = fields.get("title") or first_line_title(body, Path(name).stem)
    return [Part(title[:300], body, header_meta(fields, "header"))]
