"""Exports from news APIs and tools: JSON Lines (one article per line) or JSON (a list of articles).

Fields read per record: title/headline; text/content/body (HTML is reduced to text); date/published;
url/link; source/outlet (a {"name": ...} object too); author. A bad record is skipped with its line
(JSONL) or position (JSON), never the whole file. Record n is document "<file>#n".
"""

from __future__ import annotations

import json

from qa.corpus.documents import Part, clean_meta, iso_date
from qa.corpus.loaders import fragment_text, register_loader
from qa.corpus.loaders.txt import decode_text
from qa.errors import CorpusError

FIELDS = {
    "title": ("title", "headline", "name"),
    "text": (
        "text",
        "content",
        "body",
        "article",
        "full_text",
        "fulltext",
        "description",
        "summary",
    ),
    "published": (
        "date",
        "published",
        "published_at",
        "publishedat",
        "pubdate",
        "datetime",
        "time",
    ),
    "url": ("url", "link", "uri", "canonical_url"),
    "outlet": ("source", "outlet", "publisher", "site", "sitename", "publication"),
    "author": ("author", "authors", "byline", "creator"),
}
LIST_KEYS = ("articles", "items", "data", "results", "documents", "entries")


def _field(record: dict, names: tuple[str, ...]) -> str | None:
    lowered = {str(k).lower(): v for k, v in record.items()}
    for n in names:
        v = lowered.get(n)
        if isinstance(v, dict):
            v = v.get("name") or v.get("title")
        if isinstance(v, list):
            v = ", ".join(str(x.get("name", "")) if isinstance(x, dict) else str(x) for x in v)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip():
            return str(v)
    return None


def record_part(record: object, key: str, where: str) -> Part:
    """One export record as a document, or a `Part` with the problem (named by `where`)."""
    if not isinstance(record, dict):
        return Part(
            "", "", key=key, problem=f"{where}: not a JSON object: fix or remove that record"
        )
    body = _field(record, FIELDS["text"])
    if not body or not body.strip():
        return Part(
            "",
            "",
            key=key,
            problem=f"{where}: no text (text, content or body): fix or remove that record",
        )
    text = fragment_text(body).replace("\r\n", "\n").replace("\r", "\n")
    meta = {k: _field(record, FIELDS[k]) for k in ("url", "outlet", "author")}
    published = iso_date(_field(record, FIELDS["published"]))
    if published:
        meta.update(published=published, date_source="page")
    title = _field(record, FIELDS["title"]) or text.strip().split("\n", 1)[0]
    return Part(" ".join(title.split())[:300], text, clean_meta(meta), key=key)


@register_loader(".jsonl", ".ndjson")
def load_jsonl(raw: bytes, name: str) -> list[Part]:
    parts = []
    for n, line in enumerate(decode_text(raw, name).split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except RecursionError:
            parts.append(
                Part(
                    "",
                    "",
                    key=str(n),
                    problem=f"line {n}: JSON nested too deeply: fix or remove that line",
                )
            )
            continue
        except json.JSONDecodeError as exc:
            parts.append(
                Part(
                    "",
                    "",
                    key=str(n),
                    problem=f"line {n}: not valid JSON ({exc.msg}, column {exc.colno}): fix or remove that line",
                )
            )
            continue
        parts.append(record_part(record, str(n), f"line {n}"))
    if not parts:
        raise CorpusError(
            f"{name}: no records", "export the articles again, one JSON object per line"
        )
    return parts


@register_loader(".json")
def load_json(raw: bytes, name: str) -> list[Part]:
    try:
        data = json.loads(decode_text(raw, name))
    except RecursionError:
        raise CorpusError(
            f"{name}: JSON nested too deeply", "export the articles as a flat list"
        ) from None
    except json.JSONDecodeError as exc:
        raise CorpusError(
            f"{name}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})",
            "fix the file or export it again (JSON Lines, .jsonl, keeps the good records of a damaged export)",
        ) from None
    if isinstance(data, dict):
        inner = next((data[k] for k in LIST_KEYS if isinstance(data.get(k), list)), None)
        data = inner if inner is not None else [data]
    if not isinstance(data, list) or not data:
        raise CorpusError(
            f"{name}: no article records", 'export a list of objects with "title" and "text"'
        )
    return [record_part(r, str(n), f"record {n}") for n, r in enumerate(data, 1)]
