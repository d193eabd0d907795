"""Load every supported file of the corpus folder into documents; list everything else with its reason.

Document ids are NFC-normalised relative paths ("sub/a.txt"), so a name typed on any system finds
its file; a file holding several articles (a feed, an export) gives "<file>#<n>" ids.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
import unicodedata
from collections import OrderedDict
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from qa.corpus.documents import Document, Part, Skipped, sha256_bytes, sha256_text
from qa.corpus.files import find_file, name_problem, scan_corpus
from qa.corpus.loaders import LOADERS
from qa.errors import CorpusError

# Larger files are skipped with a reason, never half-read. A news article is 5-50 KB; 5 MiB is a
# 1,000-page book (~11k chunks, a minute or more of embedding on 2 cores). Bigger files are nearly
# always logs or dumps, and a 50 MB one would hold the build for an hour. QA_MAX_FILE_MB raises it.
MAX_FILE_BYTES = 5 * 2**20
# Characters that show nothing: a file of only these (and whitespace) is empty.
INVISIBLE = {"\u2800", "\u3164", "\u115f", "\u1160", "\uffa0"}
# Extracted parts of the slow formats by (suffix, sha256 of the bytes): a status check or a viewer
# re-reading an unchanged page costs a hash, not another extraction. Bounded by characters held.
SLOW_SUFFIXES = {".html", ".htm", ".xhtml", ".pdf", ".rss", ".atom", ".xml"}
CACHE_CHARS = 32 * 2**20
_CACHE: OrderedDict[tuple[str, str], list[Part]] = OrderedDict()
_cached_chars = 0
# On disk (`cache_dir/extract/`, when the caller gives a cache folder): a build in a new process
# does not extract every unchanged page again. Entries are keyed by the bytes' SHA-256 and by the
# loader's code and library version; the folder can be deleted at any time.
EXTRACT_VERSION = 1
LIBRARIES = {".pdf": "pypdfium2", ".rss": "feedparser", ".atom": "feedparser", ".xml": "feedparser"}


def is_blank(text: str) -> bool:
    """True when nothing visible is left: whitespace, control and format characters (zero-width, BOM)."""
    return all(
        ch.isspace() or ch in INVISIBLE or unicodedata.category(ch) in ("Cc", "Cf") for ch in text
    )


def clear_cache() -> None:
    """Forget every remembered extraction (measurements; tests)."""
    global _cached_chars
    _CACHE.clear()
    _cached_chars = 0


@functools.cache
def _loader_tag(suffix: str) -> str:
    """Changes whenever the loader's code or its library's version does: old entries are not reused."""
    from importlib.metadata import PackageNotFoundError, version

    lib = LIBRARIES.get(suffix, "trafilatura")
    try:
        lib_version = version(lib)
    except PackageNotFoundError:
        lib_version = "?"
    module = sys.modules[LOADERS[suffix].__module__]
    try:
        code = Path(module.__file__ or "").read_bytes()
    except OSError:
        code = b""
    return sha256_text(f"{EXTRACT_VERSION} {suffix} {lib} {lib_version} {sha256_bytes(code)}")[:12]


def _disk_path(cache_dir: Path, suffix: str, digest: str) -> Path:
    return cache_dir / "extract" / digest[:2] / f"{digest}-{_loader_tag(suffix)}.json"


def _from_disk(path: Path) -> list[Part] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Part(p["title"], p["text"], p["meta"], p["key"], p["problem"]) for p in data]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: extract again


def _to_disk(path: Path, parts: list[Part]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps([asdict(p) for p in parts], ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def extract(raw: bytes, name: str, suffix: str, cache_dir: Path | None = None) -> list[Part]:
    """The loader's parts for these bytes. Slow formats are remembered by the bytes' SHA-256, in
    memory (`_CACHE`) and, given a cache folder, on disk."""
    global _cached_chars
    if suffix not in SLOW_SUFFIXES:
        return LOADERS[suffix](raw, name)
    key = (suffix, sha256_bytes(raw))
    parts = _CACHE.get(key)
    if parts is not None:
        _CACHE.move_to_end(key)
        return parts
    disk = _disk_path(cache_dir, suffix, key[1]) if cache_dir is not None else None
    parts = _from_disk(disk) if disk is not None and disk.exists() else None
    if parts is None:
        parts = LOADERS[suffix](raw, name)
        if disk is not None:
            _to_disk(disk, parts)
    size = sum(len(p.text) for p in parts)
    if size <= CACHE_CHARS // 4:
        _CACHE[key] = parts
        _cached_chars += size
        while _cached_chars > CACHE_CHARS:
            _, old = _CACHE.popitem(last=False)
            _cached_chars -= sum(len(p.text) for p in old)
    return parts


def _file_problem(path: Path, name: str, max_bytes: int) -> str | None:
    if path.is_symlink():
        return "symbolic link, not followed: copy the file into the corpus instead"
    if path.suffix.lower() not in LOADERS:
        kinds = ", ".join(sorted(LOADERS))
        return f"unsupported file type {path.suffix or '(none)'!r} (reads {kinds})"
    size = path.stat().st_size
    if size > max_bytes:
        return (
            f"too large ({size / 2**20:.1f} MiB, limit {max_bytes / 2**20:g} MiB): "
            "split it, or raise QA_MAX_FILE_MB to index it (embedding takes minutes per MiB)"
        )
    return None


def _mtime_date(path: Path) -> str | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).date().isoformat()
    except (OSError, OverflowError, ValueError):
        return None


def load_file(path: Path, name: str, cache_dir: Path | None = None) -> list[Part]:
    """The parts of one corpus file; a single-article file without a date gets its file's date, labelled."""
    parts = extract(path.read_bytes(), name, path.suffix.lower(), cache_dir)
    if len(parts) == 1 and parts[0].key is None and "published" not in parts[0].meta:
        day = _mtime_date(path)
        if day:
            p = parts[0]
            parts = [
                Part(p.title, p.text, {**p.meta, "published": day, "date_source": "file mtime"})
            ]
    return parts


def load_corpus(
    corpus_dir: Path, max_bytes: int = MAX_FILE_BYTES, cache_dir: Path | None = None
) -> tuple[list[Document], list[Skipped]]:
    """Load every supported file; anything unusable is returned in `skipped` with its reason and fix.

    `cache_dir` (Settings.cache_dir): keep extracted pages, PDFs and feeds there between processes."""
    docs: list[Document] = []
    files, skipped = scan_corpus(corpus_dir)
    seen: dict[str, str] = {}
    names: set[str] = set()
    for path in files:
        name, problem = name_problem(path.relative_to(corpus_dir).as_posix())
        if not problem and name in names:
            problem = "another file has the same name in another Unicode form: rename one"
        names.add(name)
        try:
            problem = problem or _file_problem(path, name, max_bytes)
            parts = [] if problem else load_file(path, name, cache_dir)
        except CorpusError as exc:
            reason = exc.message.split(": ", 1)[-1]
            problem = f"{reason}: {exc.hint}" if exc.hint else reason
        except OSError as exc:
            problem = f"cannot read ({exc.strerror or exc}): check its permissions"
        if problem:
            skipped.append(Skipped(name, problem))
            continue
        for part in parts:
            doc_id = name if part.key is None else f"{name}#{part.key}"
            if part.problem or is_blank(part.text):
                skipped.append(Skipped(doc_id, part.problem or "empty file"))
                continue
            digest = sha256_text(part.text)
            if digest in seen:
                skipped.append(Skipped(doc_id, f"duplicate of {seen[digest]}"))
                continue
            seen[digest] = doc_id
            docs.append(Document(doc_id, part.title, part.text, digest, dict(part.meta)))
    return docs, sorted(skipped, key=lambda s: s.name)


def _not_found(doc_id: str) -> CorpusError:
    return CorpusError(
        f"no document {doc_id!r} in the corpus", "run `qa index status` to list documents"
    )


def read_document(corpus_dir: Path, doc_id: str) -> Document:
    """One document by id, refusing anything that resolves outside the corpus folder (or via a symlink)."""
    root = corpus_dir.resolve()
    if not isinstance(doc_id, str) or not doc_id or "\x00" in doc_id:
        raise CorpusError(
            f"{doc_id!r} is not a document name", "ask for a document listed by `qa index status`"
        )
    file_id, key = doc_id, None
    if "#" in doc_id and not (root / doc_id).is_file():
        file_id, key = doc_id.rsplit("#", 1)
    path = (root / file_id).resolve()
    if root != path and root not in path.parents:
        raise CorpusError(
            f"{doc_id!r} is outside the corpus", "ask for a document listed by `qa index status`"
        )
    rel = path.relative_to(root).as_posix() if path != root else ""
    if not rel or any(part.startswith(".") for part in rel.split("/")):
        raise _not_found(doc_id)
    found = find_file(root, rel)
    if found is None:
        raise _not_found(doc_id)
    if found.suffix.lower() not in LOADERS:
        raise CorpusError(f"{doc_id!r} is not a supported document")
    for part in load_file(found, file_id):
        if part.key == key and not part.problem:
            return Document(doc_id, part.title, part.text, sha256_text(part.text), dict(part.meta))
    raise _not_found(doc_id)
