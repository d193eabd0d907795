"""Building an index: read the corpus, embed what changed, write a new generation, swap the manifest.

Layout (plain files, no pickle):

    index/
      manifest.json          # format, model, chunking, per-document hash/size/mtime/metadata, files
      g-<stamp>-<rand>/      # one complete generation
        chunks.jsonl         # one chunk a line: id, doc_id, title, start, end, key, text
        chunk_offsets.npy    # int64 (n+1,): byte offset of each line, so a chunk is read on demand
        chunk_docs.npy       # int32 (n,): each chunk's document, as a position in sorted(documents)
        vectors.npy          # float32 (n, dim), L2-normalized; also the embedding cache
        sentence_ptr.npy     # int64 (n+1,): chunk i's quotable sentences are rows ptr[i]:ptr[i+1]
        sentence_spans.npy   # int32 (m, 2): each sentence's start/end in its chunk's text
        sentence_vectors.npy # float16 (m, dim): each sentence pooled from its chunk's forward pass
        faiss.index          # exact (flat) below `ann_threshold` chunks, IVF-PQ fast-scan above
        bm25/                # bm25s files, tokenizer vocabulary, impact_{indices,data}.npy

A build writes a new generation beside the old one and then swaps `manifest.json` with one atomic
`os.replace`: a build that dies at any point leaves the previous index loadable, and the next
build (even one with nothing to do) removes what the dead one left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.corpus import Chunk, Document, Skipped
from qa.errors import (
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
)
from qa.index import bm25 as bm25_files
from qa.index import dense
from qa.index.embedding import Cache, assemble, cached_rows, embed_new
from qa.index.files import build_lock, fsync_tree
from qa.index.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    Manifest,
    check_compatible,
    chunk_key,
    chunking_signature,
    file_entries,
    read_manifest,
    verify_files,
    write_manifest,
)
from qa.index.status import corpus_record
from qa.index.tables import (
    SentenceTable,
    read_chunk_keys,
    read_sentences,
    write_chunks,
    write_sentences,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class BuildReport:
    documents: int
    chunks: int
    embedded: int  # chunks whose vectors were computed (the rest came from the cache)
    reused: int
    skipped: list[Skipped]
    seconds: float
    index_type: str
    unchanged: bool = False  # nothing to do: the index already matched the corpus


def build_index(
    settings: Settings, embedder, progress: Progress | None = None, *, force: bool = False
) -> BuildReport:
    """Build (or incrementally update) the index for the corpus. Atomic: see the module docstring."""
    t0 = time.perf_counter()
    report = lambda stage, done, total: progress and progress(stage, done, total)  # noqa: E731
    index_dir = settings.index_dir
    if not _writable(index_dir):
        return _read_only(settings, t0)
    with build_lock(index_dir):
        remove_leftovers(index_dir)
        report("loading corpus", 0, 1)
        docs, skipped, stats = _read_corpus(settings)
        if not force:
            same = _unchanged(settings, docs, skipped, stats)
            if same is not None:
                return BuildReport(len(docs), same.n_chunks, 0, same.n_chunks, skipped,
                                   time.perf_counter() - t0, same.index_type, unchanged=True)  # fmt: skip
        from qa.corpus import chunk_documents

        chunks = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap)
        model_name = settings.resolved_model_name
        keys = [chunk_key(model_name, c) for c in chunks]
        cache = None if force else _load_cache(settings, model_name)
        ray = settings if settings.ray_address else None  # `--ray`: embed on a Ray cluster
        vectors, sentences, todo = _embed(chunks, keys, cache, embedder, report, ray)
        report("indexing", 0, 1)
        gen, index_type, files = _write_generation(
            index_dir, chunks, keys, vectors, sentences, docs, settings
        )
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            generation=gen,
            model={"name": model_name, "dim": int(vectors.shape[1]), "normalized": True},
            chunking=chunking_signature(settings),
            documents=_document_entries(docs, chunks, stats),
            skipped=[asdict(s) for s in skipped],
            n_chunks=len(chunks),
            index_type=index_type,
            files=files,
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - t0, 3),
            extra={"corpus": corpus_record(settings, stats)},
        )
        write_manifest(index_dir, manifest)
        remove_leftovers(index_dir, keep=gen)
        report("done", 1, 1)
        return BuildReport(len(docs), len(chunks), len(todo), len(chunks) - len(todo), skipped,
                           time.perf_counter() - t0, index_type)  # fmt: skip


def _embed(
    chunks: list[Chunk],
    keys: list[str],
    cache: Cache | None,
    embedder,
    report,
    ray: Settings | None = None,
) -> tuple[np.ndarray, SentenceTable, list[int]]:
    """Chunk vectors and sentence table: unchanged chunks (by key) from the cache, the rest from
    the model (`embed_new`). Returns the ids embedded too. The one place a build runs the model."""
    old = cached_rows(keys, cache)
    todo = [int(i) for i in np.flatnonzero(old < 0)]
    if ray is not None:  # the same rows, from actors on a cluster (qa/embed_ray.py, docs/scale.md)
        from qa.embed_ray import embed_new_on_ray
        from qa.index.embedding import EMBED_SLICE

        new = embed_new_on_ray(ray, chunks, todo, embedder, report, EMBED_SLICE)
    else:
        new = embed_new(chunks, todo, embedder, report)
    vectors, sentences = assemble(len(chunks), embedder.dim, old, cache, new)
    return vectors, sentences, todo


def _writable(index_dir: Path) -> bool:
    """Whether a build can write here: probed by creating a folder (permissions alone can lie).
    Outside the build lock, so another build's cleanup may remove the probe first: that is fine."""
    probe = index_dir / f"{TMP_PREFIX}probe-{secrets.token_hex(4)}"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def _read_only(settings: Settings, t0: float) -> BuildReport:
    """A build in a folder it cannot write: fine when there is nothing to do, else a typed error
    naming the folder, before any embedding work."""
    from qa.index.status import index_status

    status = index_status(settings)
    if status.state != "fresh":
        raise IndexWriteError(f"the index folder {settings.index_dir} is not writable")
    docs = [d for d in status.documents if d.status == "indexed"]
    skipped = [Skipped(s["name"], s["reason"]) for s in status.skipped]
    return BuildReport(len(docs), status.n_chunks, 0, status.n_chunks, skipped,
                       time.perf_counter() - t0, status.index_type, unchanged=True)  # fmt: skip


def _read_corpus(settings: Settings) -> tuple[list[Document], list[Skipped], dict]:
    """Documents, skipped files, and each file's [size, mtime_ns] taken BEFORE reading: a file
    changed while being read then looks changed to the next status check, never the reverse."""
    from qa.corpus import load_corpus
    from qa.index.status import corpus_snapshot

    stats = corpus_snapshot(settings.corpus_dir)
    docs, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes, settings.cache_dir)
    if not docs:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:5])
        raise CorpusError(
            f"no usable documents in {settings.corpus_dir}" + (f" ({reasons})" if reasons else "")
        )
    return docs, skipped, stats


def _document_entries(docs: list[Document], chunks: list[Chunk], stats: dict) -> dict[str, dict]:
    """The manifest's per-document entries: hash, size/mtime (freshness), chunk count, metadata."""
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    same_story = _same_story(docs)
    out = {}
    for d in docs:
        size, mtime = _file_stat(d.doc_id, stats)
        entry = {"sha256": d.sha256, "title": d.title, "chars": len(d.text),
                 "chunks": per_doc.get(d.doc_id, 0), "bytes": size, "mtime_ns": mtime,
                 "meta": dict(getattr(d, "meta", None) or {})}  # fmt: skip
        if d.doc_id in same_story:
            entry["same_story_as"] = same_story[d.doc_id]
        out[d.doc_id] = entry
    return out


def _same_story(docs: list[Document]) -> dict[str, str]:
    """doc id -> the document whose story it repeats (syndicated copies; `qa.corpus.group_duplicates`)."""
    from qa.corpus import group_duplicates

    return dict(group_duplicates(docs))


def _file_stat(doc_id: str, stats: dict) -> tuple[int, int]:
    """(size, mtime_ns) of the file a document came from ("name" or "name#part"); -1 if unknown."""
    found = stats.get(doc_id)
    if found is None and "#" in doc_id:
        found = stats.get(doc_id.rsplit("#", 1)[0])
    return (found[0], found[1]) if found else (-1, -1)


def _unchanged(
    settings: Settings, docs: list[Document], skipped: list[Skipped], stats: dict
) -> Manifest | None:
    """The current manifest when it already describes exactly this corpus with these settings.

    Files touched without changing (new mtime, same content) get their new size and mtime
    recorded, so later status checks need not read them again."""
    try:
        manifest = read_manifest(settings.index_dir)
        check_compatible(manifest, settings)
    except (IndexMissingError, IndexCorruptError, IndexMismatchError):
        return None
    current = {d.doc_id: d.sha256 for d in docs}
    indexed = {k: v["sha256"] for k, v in manifest.documents.items()}
    old_skips = [(s.get("name"), s.get("reason")) for s in manifest.skipped]
    if current != indexed or [(s.name, s.reason) for s in skipped] != old_skips:
        return None
    try:
        verify_files(manifest, settings.index_dir / manifest.generation)
    except IndexCorruptError:
        return None
    record = corpus_record(settings, stats)
    if manifest.extra.get("corpus") != record:
        for doc_id, entry in manifest.documents.items():
            entry["bytes"], entry["mtime_ns"] = _file_stat(doc_id, stats)
        manifest.extra = {**manifest.extra, "corpus": record}
        write_manifest(settings.index_dir, manifest)
    return manifest


def _load_cache(settings: Settings, model_name: str) -> Cache | None:
    """The current generation as an embedding cache, when it used the same model."""
    try:
        manifest = read_manifest(settings.index_dir)
    except (IndexMissingError, IndexCorruptError, IndexMismatchError):
        return None
    if manifest.model.get("name") != model_name:
        return None
    root = settings.index_dir / manifest.generation
    try:
        verify_files(manifest, root)  # damaged vectors must never be carried into a new build
        vectors = np.load(root / "vectors.npy", mmap_mode="r")
        keys = read_chunk_keys(root)
        sentences = read_sentences(root, len(keys), vectors.shape[1])
    except (IndexCorruptError, OSError, EOFError, ValueError, KeyError, TypeError):
        return None  # the cache is only a speed-up: anything wrong with it means re-embedding
    if len(keys) != vectors.shape[0]:
        return None
    return Cache({k: i for i, k in enumerate(keys)}, vectors, sentences)


def _write_generation(
    index_dir: Path, chunks, keys, vectors, sentences, docs, settings
) -> tuple[str, str, dict]:
    """Write a complete generation under a temporary name, fsync it, and rename it into place.
    Returns (generation name, index type, the manifest's file entries)."""
    gen = f"g-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = index_dir / f"{TMP_PREFIX}{gen}"
    try:
        tmp.mkdir(parents=True)
        write_chunks(tmp, chunks, keys, sorted(d.doc_id for d in docs))
        write_sentences(tmp, sentences)
        index_type = dense.write(tmp, vectors, settings)
        bm25_files.write(tmp, [c.text for c in chunks])
        files = file_entries(tmp)
        fsync_tree(tmp)
        os.replace(tmp, index_dir / gen)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return gen, index_type, files


def remove_leftovers(index_dir: Path, keep: str | None = None) -> None:
    """Remove what killed builds left: temporary generation folders, manifest temp files, and
    generations the manifest does not name. Only builds write here, and they hold the build lock."""
    prefixes: tuple[str, ...] = (TMP_PREFIX, "g-")
    if keep is None:
        try:
            keep = read_manifest(index_dir).generation
        except IndexMissingError:
            pass
        except (IndexCorruptError, IndexMismatchError):
            prefixes = (TMP_PREFIX,)  # an unreadable manifest: keep its generations for inspection
    for p in index_dir.iterdir():
        if p.name == keep:
            continue
        if p.is_dir() and p.name.startswith(prefixes):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and p.name.startswith(f".{MANIFEST}.") and p.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                p.unlink()
