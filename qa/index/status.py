"""The one freshness and health check of an index, used by `qa index status`, `qa ask`, the UI and
`load_index` alike, so they can never disagree.

Fast: each document's file size and mtime are recorded in the manifest; when every corpus file
still has them, the corpus is not read at all. Only when some file's size or mtime changed (or a
file appeared or disappeared) is the corpus read and hashed to tell what changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.config import Settings
from qa.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexStaleError,
    QAError,
)
from qa.index.manifest import Manifest, check_compatible, read_manifest, verify_files

STATES = ("missing", "fresh", "stale", "mismatch", "damaged")
CHANGED = ("stale", "new", "removed")
RETRIES = 8  # manifests swapped under one check before giving up (each swap is a finished build)


@dataclass(frozen=True)
class DocStatus:
    doc_id: str
    status: str  # indexed | stale | new | removed | skipped
    title: str = ""
    chunks: int = 0
    reason: str = ""
    meta: dict = field(
        default_factory=dict
    )  # from the manifest: published, outlet, author, url, ...


@dataclass(frozen=True)
class IndexStatus:
    state: str  # missing | fresh | stale | mismatch | damaged
    message: str
    hint: str = ""
    documents: list[DocStatus] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"name", "reason"} of files not indexed
    n_chunks: int = 0
    built_at: str = ""
    index_type: str = ""
    index_dir: str = ""
    model: dict = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        return self.state == "fresh"

    @property
    def changed(self) -> list[DocStatus]:
        return [d for d in self.documents if d.status in CHANGED]

    def to_dict(self) -> dict:
        return asdict(self)

    def raise_for_state(self) -> None:
        """The typed error of an unusable state (missing, mismatch, damaged, stale); None if fresh."""
        errors = {
            "missing": IndexMissingError,
            "mismatch": IndexMismatchError,
            "damaged": IndexCorruptError,
            "stale": IndexStaleError,
        }
        if self.state in errors:
            raise errors[self.state](self.message)


def corpus_snapshot(corpus_dir: Path) -> dict[str, list[int] | None]:
    """[size, mtime_ns] of every corpus file by its name as `load_corpus` gives it (None: listed
    but not read, e.g. hidden). Costs a directory walk and a stat per file; reads no file."""
    from qa.corpus import name_problem, scan_corpus

    files, unread = scan_corpus(corpus_dir)
    out: dict[str, list[int] | None] = {s.name: None for s in unread}
    for p in files:
        name = name_problem(p.relative_to(corpus_dir).as_posix())[0]
        try:
            st = p.lstat()
        except OSError:
            out[name] = None
            continue
        out[name] = [st.st_size, st.st_mtime_ns]
    return out


def corpus_record(settings: Settings, snapshot: dict) -> dict:
    """What the manifest keeps (under extra.corpus) to tell later that nothing changed."""
    return {"max_file_bytes": settings.max_file_bytes, "files": snapshot}


def _unchanged_by_stats(settings: Settings, manifest: Manifest) -> bool:
    """True when every file has the size and mtime the manifest recorded (nothing to hash)."""
    recorded = manifest.extra.get("corpus")
    if not isinstance(recorded, dict):
        return False
    return recorded == corpus_record(settings, corpus_snapshot(settings.corpus_dir))


def _from_manifest(manifest: Manifest) -> list[DocStatus]:
    out = [
        DocStatus(d, "indexed", m.get("title", ""), m.get("chunks", 0), meta=_meta(m))
        for d, m in manifest.documents.items()
    ]
    out.extend(
        DocStatus(s.get("name", ""), "skipped", reason=s.get("reason", ""))
        for s in manifest.skipped
    )
    return sorted(out, key=lambda s: s.doc_id)


def _meta(entry: dict) -> dict:
    meta = dict(entry.get("meta") or {})
    if entry.get("same_story_as"):
        meta["same_story_as"] = entry["same_story_as"]
    return meta


def corpus_status(settings: Settings, manifest: Manifest | None) -> list[DocStatus]:
    """Per document: indexed / stale (changed) / new / removed / skipped (with the reason).

    Reads no file when sizes and mtimes match the manifest; else reads and hashes the corpus."""
    if manifest is not None and _unchanged_by_stats(settings, manifest):
        return _from_manifest(manifest)
    from qa.corpus import load_corpus

    docs, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes, settings.cache_dir)
    indexed = manifest.documents if manifest else {}
    out: list[DocStatus] = []
    for d in docs:
        m = indexed.get(d.doc_id)
        if m is None:
            out.append(DocStatus(d.doc_id, "new", d.title))
        else:
            state = "indexed" if m["sha256"] == d.sha256 else "stale"
            out.append(DocStatus(d.doc_id, state, d.title, m.get("chunks", 0), meta=_meta(m)))
    present = {d.doc_id for d in docs}
    for doc_id, m in indexed.items():
        if doc_id not in present:
            out.append(
                DocStatus(doc_id, "removed", m.get("title", ""), m.get("chunks", 0), meta=_meta(m))
            )
    out.extend(DocStatus(s.name, "skipped", reason=s.reason) for s in skipped)
    return sorted(out, key=lambda s: s.doc_id)


def is_fresh(statuses: list[DocStatus]) -> bool:
    return all(s.status in ("indexed", "skipped") for s in statuses)


def check(
    settings: Settings, verify: bool = True, fresh: bool = True
) -> tuple[IndexStatus, Manifest | None]:
    """The status and the manifest it was computed from (what `load_index` then opens).

    A build may swap the manifest and delete the old generation while this runs: files missing
    then are not damage, so the check starts over on the new manifest (bounded)."""
    for _ in range(RETRIES):
        status, manifest = _check_once(settings, verify, fresh)
        if status.state != "damaged" or generation_now(settings) == _generation(manifest):
            break
    return status, manifest


def _generation(manifest: Manifest | None) -> str | None:
    return manifest.generation if manifest is not None else None


def generation_now(settings: Settings) -> str | None:
    """The generation the manifest names right now (None: no readable manifest)."""
    try:
        return read_manifest(settings.index_dir).generation
    except QAError:
        return None


def _check_once(
    settings: Settings, verify: bool, fresh: bool
) -> tuple[IndexStatus, Manifest | None]:
    where = str(settings.index_dir)
    try:
        manifest = read_manifest(settings.index_dir)
    except IndexMissingError as exc:
        docs = corpus_status(settings, None) if fresh else []
        return _status("missing", exc, docs, where), None
    except QAError as exc:
        state = "mismatch" if isinstance(exc, IndexMismatchError) else "damaged"
        return _status(state, exc, [], where), None
    try:
        check_compatible(manifest, settings)
        if verify:
            verify_files(manifest, settings.index_dir / manifest.generation)
    except QAError as exc:
        state = "mismatch" if isinstance(exc, IndexMismatchError) else "damaged"
        docs = corpus_status(settings, manifest) if fresh else _from_manifest(manifest)
        return _status(state, exc, docs, where, manifest), manifest
    docs = corpus_status(settings, manifest) if fresh else _from_manifest(manifest)
    changed = [d for d in docs if d.status in CHANGED]
    if changed:
        names = ", ".join(f"{s.doc_id} ({s.status})" for s in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        exc = IndexStaleError(f"the index does not match the corpus: {names}{more}")
        return _status("stale", exc, docs, where, manifest), manifest
    msg = f"{manifest.n_chunks} chunks of {len(manifest.documents)} documents, up to date"
    return _status("fresh", QAError(msg, ""), docs, where, manifest), manifest


def _status(
    state: str, exc: QAError, docs: list[DocStatus], where: str, manifest: Manifest | None = None
) -> IndexStatus:
    skipped = [{"name": d.doc_id, "reason": d.reason} for d in docs if d.status == "skipped"]
    return IndexStatus(
        state=state,
        message=exc.message,
        hint=exc.hint,
        documents=docs,
        skipped=skipped,
        n_chunks=manifest.n_chunks if manifest else 0,
        built_at=manifest.built_at if manifest else "",
        index_type=manifest.index_type if manifest else "",
        index_dir=where,
        model=dict(manifest.model) if manifest else {},
    )


def index_status(settings: Settings, verify: bool = True) -> IndexStatus:
    """The state of the index in `settings.index_dir` against the corpus, with per-document detail.

    `verify` also checks every index file's size and hash (damage); without it only the manifest.
    """
    return check(settings, verify=verify)[0]


__all__ = [
    "DocStatus",
    "IndexStatus",
    "STATES",
    "corpus_snapshot",
    "corpus_status",
    "index_status",
    "is_fresh",
]
