"""The records every stage passes on: documents (with their metadata), chunks and skipped files.

`Document.meta` holds what the source says about itself, never a guess: keys among `published`
(ISO date), `outlet`, `author`, `url`, `date_source` ("page", "feed", "front matter", "header",
"file mtime") and `pages` (PDF: character offset where each page starts). Missing keys stay missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

META_KEYS = ("published", "outlet", "author", "url", "date_source", "pages")


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str  # file name relative to the corpus folder; "feed.xml#3" for the 3rd entry of a feed
    title: str
    text: str
    sha256: str
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Skipped:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Part:
    """What a loader extracts: one article of a file (a feed or an export holds several).

    `key` names the part inside its file ("3" -> doc_id "feed.xml#3"; None: the file is one
    document). `problem` set: this part is unusable and is listed as skipped with that reason.
    """

    title: str
    text: str
    meta: dict = field(default_factory=dict)
    key: str | None = None
    problem: str | None = None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def iso_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date, datetime or date string; None when it is not a date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    s = value.strip()
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    from dateutil import parser

    try:  # "18 October 2024", "Oct 18, 2024", RFC 822 ...; refuse anything without a year and day
        a = parser.parse(s, default=datetime(1, 1, 1))
        b = parser.parse(s, default=datetime(2, 1, 2))
    except (ValueError, OverflowError, parser.ParserError):
        return None
    return a.date().isoformat() if a == b else None


def clean_meta(meta: dict) -> dict:
    """Only known keys with real values (strings stripped and bounded)."""
    out: dict = {}
    for key in META_KEYS:
        value = meta.get(key)
        if isinstance(value, str):
            value = " ".join(value.split())[:500]
        if value not in (None, "", []):
            out[key] = value
    return out


def published_between(
    meta_by_id: dict[str, dict],
    since: str | None,
    until: str | None,
    among: Sequence[str] | None = None,
) -> list[str]:
    """Ids of the documents published in [since, until] (inclusive ISO dates), within `among` if given.

    Undated documents are left out of any range. No document in range is an error naming the fix.
    """
    from qa.errors import QuestionError

    bounds = []
    for label, value in (("--since", since), ("--until", until)):
        day = iso_date(value) if value else None
        if value and day is None:
            raise QuestionError(f"{label} {value!r} is not a date", "give a date as YYYY-MM-DD")
        bounds.append(day)
    low, high = bounds
    allowed = set(among) if among else None
    keep = sorted(
        doc_id
        for doc_id, meta in meta_by_id.items()
        if (allowed is None or doc_id in allowed)
        and (day := (meta or {}).get("published"))
        and (low is None or day >= low)
        and (high is None or day <= high)
    )
    if not keep:
        span = f"between {low or 'the first'} and {high or 'the latest'}"
        raise QuestionError(
            f"no document published {span}",
            "widen the date range; `qa index status` lists each document's date",
        )
    return keep
