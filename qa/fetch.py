"""`qa add URL...`: download article pages into the corpus folder, each saved with its URL.

Pages are fetched one at a time by trafilatura's downloader (timeouts, size cap, redirects), kept
as the HTML the site sent, with a `<link rel="canonical">` added when the page names no URL of its
own, so the html loader reads the article's URL back. A page is saved only when an article text
can be extracted from it; every URL that fails gets its own reason.
"""

from __future__ import annotations

import html
import os
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from qa.errors import CorpusError

TIMEOUT_S = 20
HOST_DELAY_S = 1.0  # pause before a second request to the same site
MAX_PAGE_BYTES = 5 * 2**20
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HAS_URL = re.compile(
    rb"<link[^>]+rel=[\"']?canonical|<meta[^>]+property=[\"']?og:url", re.IGNORECASE
)


@dataclass(frozen=True)
class Fetched:
    url: str
    name: str | None = None  # file written (or already there) in the corpus folder
    error: str | None = None
    title: str = ""
    existed: bool = False


def file_name(url: str, suffix: str = ".html") -> str:
    """A readable, safe file name for a page: host and path, e.g. "news.example_2024_10_bridge.html"."""
    parts = urlsplit(url)
    raw = (parts.netloc + "_" + parts.path.strip("/")).lower()
    name = re.sub(r"[^a-z0-9._-]+", "_", raw).strip("._-")
    name = re.sub(r"\.(html?|php|aspx?|jsp)$", "", name)[:120].strip("._-")
    return (name or "page") + suffix


def is_feed(raw: bytes) -> bool:
    """An RSS or Atom document (saved as .rss and read entry by entry), not a page."""
    head = raw[:2000].lstrip().lower()
    return head.startswith(b"<?xml") and (
        b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head
    )


def with_url(raw: bytes, url: str) -> bytes:
    """The page with a comment saying where it came from and, if it names no URL, a canonical link."""
    safe = html.escape(quote(url, safe=":/?#[]@!$&'()*+,;=%~"), quote=True).encode("ascii")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode()
    note = (
        b"<!-- saved by qa add from " + safe.replace(b"--", b"%2D%2D") + b" at " + stamp + b" -->\n"
    )
    if _HAS_URL.search(raw[:200_000]):
        return note + raw
    link = b'<link rel="canonical" href="' + safe + b'">'
    m = _HEAD.search(raw[:200_000])
    if m:
        return note + raw[: m.end()] + link + raw[m.end() :]
    return note + b"<head>" + link + b"</head>\n" + raw


def _config(timeout: float, allow_private: bool):
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "DOWNLOAD_TIMEOUT", str(max(1, int(timeout))))
    config.set("DEFAULT", "MAX_FILE_SIZE", str(MAX_PAGE_BYTES))
    config.set("DEFAULT", "SSRF_PROTECTION", "off" if allow_private else "on")
    config.set("DEFAULT", "INSECURE_SSL_FALLBACK", "off")
    return config


def _download(url: str, config) -> bytes:
    from trafilatura.downloads import fetch_response

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CorpusError(
            f"{url}: not an http(s) address", "give the page's full address, e.g. https://..."
        )
    resp = fetch_response(url, config=config)
    if resp is None:
        raise CorpusError(
            f"{url}: no answer (refused, timed out, too large or a private address)",
            "check the address and the connection; intranet pages need --allow-private",
        )
    if resp.status != 200:
        raise CorpusError(
            f"{url}: the site answered HTTP {resp.status}", "check the address in a browser"
        )
    kind = (resp.headers or {}).get("content-type", "")
    if kind and "html" not in kind.lower() and "xml" not in kind.lower():
        raise CorpusError(
            f"{url}: not a web page ({kind})", "download the file yourself into corpus/"
        )
    return bytes(resp.data or b"")


def _save(corpus_dir: Path, name: str, data: bytes) -> tuple[str, bool]:
    """Write without overwriting a different file: (name used, whether the same page was there)."""
    stem, suffix = name.rsplit(".", 1)
    n = 1
    while (corpus_dir / name).exists():
        old = (corpus_dir / name).read_bytes()
        if old.split(b"\n", 1)[-1] == data.split(b"\n", 1)[-1]:  # same page, other download time
            return name, True
        n += 1
        name = f"{stem}-{n}.{suffix}"
    tmp = corpus_dir / f".{name}.{secrets.token_hex(4)}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, corpus_dir / name)
    return name, False


def add_urls(
    urls: Sequence[str],
    corpus_dir: Path,
    *,
    timeout: float = TIMEOUT_S,
    allow_private: bool = False,
    delay: float = HOST_DELAY_S,
    progress: Callable[[Fetched], object] | None = None,
) -> list[Fetched]:
    """Download each page into `corpus_dir`; one `Fetched` per URL, with the reason when it failed."""
    from qa.corpus.loaders.feed import load_feed
    from qa.corpus.loaders.html import extract

    config = _config(timeout, allow_private)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    last_hit: dict[str, float] = {}
    out: list[Fetched] = []
    for url in urls:
        url = url.strip()
        host = urlsplit(url).netloc
        wait = last_hit.get(host, -1e9) + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            raw = _download(url, config)
            last_hit[host] = time.monotonic()
            if is_feed(raw):  # a feed is kept as it is: one document per entry
                title = f"feed of {len(load_feed(raw, url))} entries"
                name, existed = _save(corpus_dir, file_name(url, ".rss"), raw)
            else:
                page = with_url(raw, url)
                title = extract(page, url).title  # refuses pages without an article text
                name, existed = _save(corpus_dir, file_name(url), page)
            result = Fetched(url, name, title=title, existed=existed)
        except CorpusError as exc:
            result = Fetched(
                url, error=str(exc) if exc.message.startswith(url) else f"{url}: {exc}"
            )
        except OSError as exc:
            result = Fetched(
                url, error=f"{url}: cannot save into {corpus_dir} ({exc.strerror or exc})"
            )
        out.append(result)
        if progress:
            progress(result)
    return out
