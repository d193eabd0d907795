"""PDF: the text layer of every page by pypdf; `meta["pages"]` keeps where each page starts.

Pages are joined with a blank line; `pages[i]` is the character offset where page i+1 starts, so a
citation's offset finds its page (see `page_of`).
"""

from __future__ import annotations

import bisect
import io
from pathlib import Path

from qa.corpus.documents import Part, clean_meta, iso_date
from qa.corpus.loaders import register_loader
from qa.errors import CorpusError

PAGE_BREAK = "\n\n"


def page_of(pages: list[int], offset: int) -> int:
    """The 1-based page number holding character `offset` of a PDF document's text."""
    return max(1, bisect.bisect_right(pages, offset))


def _meta(reader) -> tuple[str | None, dict]:
    try:
        info = reader.metadata or {}
    except Exception:  # pypdf raises many kinds on a damaged info dictionary; metadata is optional
        return None, {}
    title = str(info.get("/Title") or "").strip() or None
    meta = {"author": str(info.get("/Author") or "").strip() or None}
    raw_date = str(info.get("/CreationDate") or "")
    if raw_date.startswith("D:") and len(raw_date) >= 10:  # PDF date D:YYYYMMDD...
        published = iso_date(f"{raw_date[2:6]}-{raw_date[6:8]}-{raw_date[8:10]}")
        if published:
            meta.update(published=published, date_source="pdf metadata")
    return title, meta


@register_loader(".pdf")
def load_pdf(raw: bytes, name: str) -> list[Part]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not raw.lstrip()[:5].startswith(b"%PDF"):
        raise CorpusError(
            f"{name}: not a PDF file (no %PDF header)",
            "export the document as PDF again, or rename it",
        )
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(
                f"{name}: the PDF is password-protected", "save an unprotected copy of it"
            )
        texts = [(page.extract_text() or "") for page in reader.pages]
    except CorpusError:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        RecursionError,
    ) as exc:
        raise CorpusError(
            f"{name}: damaged or truncated PDF ({type(exc).__name__})",
            "download or export the PDF again",
        ) from None
    pages, parts, pos = [], [], 0
    for t in texts:
        t = t.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        pages.append(pos)
        parts.append(t)
        pos += len(t) + len(PAGE_BREAK)
    text = PAGE_BREAK.join(parts)
    if not text.strip():
        raise CorpusError(
            f"{name}: the PDF has no text layer (scanned pages?)",
            "run OCR on it first (e.g. `ocrmypdf`), or copy its text into a .txt file",
        )
    title, meta = _meta(reader)
    if not title:
        title = text.strip().split("\n", 1)[0].strip()[:300] or Path(name).stem
    meta["pages"] = pages
    return [Part(title[:300], text, clean_meta(meta))]
