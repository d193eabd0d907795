"""manifest.json: the schema of an index, its validation, and the cache keys it records.

The manifest is the one file a reader trusts first: it names the generation folder, the model and
chunking the vectors came from, every document (with its hash, size and mtime for freshness checks,
and its metadata), and every file of the generation with its size and hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.corpus import SEPARATORS, Chunk
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.index.files import atomic_write, sha256_file
from qa.sentences import SENTENCE_RULES

FORMAT_VERSION = 3  # 2: chunk_offsets.npy + chunk_docs.npy; 3: sentence spans and vectors
MANIFEST = "manifest.json"
HASH_LIMIT = (
    256 * 2**20
)  # files up to this size get a sha256 check on load; larger ones a size check


@dataclass
class Manifest:
    format_version: int
    generation: str
    model: dict
    chunking: dict
    documents: dict[str, dict]
    skipped: list[dict]
    n_chunks: int
    index_type: str
    files: dict[str, dict]
    built_at: str
    build_seconds: float
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        names = set(cls.__dataclass_fields__)
        missing = names - set(data) - {"extra"}
        if missing:
            raise IndexCorruptError(f"manifest.json lacks {sorted(missing)}")
        _check_types(data)
        return cls(**{k: v for k, v in data.items() if k in names})


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _doc_ok(m: object) -> bool:
    return (
        isinstance(m, dict)
        and isinstance(m.get("sha256"), str)
        and _is_int(m.get("chunks", 0))
        and _is_int(m.get("bytes", 0))
        and _is_int(m.get("mtime_ns", 0))
        and isinstance(m.get("meta", {}), dict)
    )


def _check_types(data: dict) -> None:
    """A hand-edited manifest with wrong types is damage, reported as such (never an AttributeError)."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise IndexCorruptError(f"manifest.json: {what} has the wrong type (edited by hand?)")

    model, docs, files = data["model"], data["documents"], data["files"]
    need(isinstance(data["generation"], str), "generation")
    need(
        isinstance(model, dict)
        and isinstance(model.get("name"), str)
        and _is_int(model.get("dim")),
        "model",
    )
    need(isinstance(data["chunking"], dict), "chunking")
    need(isinstance(docs, dict) and all(_doc_ok(m) for m in docs.values()), "documents")
    need(
        isinstance(data["skipped"], list) and all(isinstance(s, dict) for s in data["skipped"]),
        "skipped",
    )
    need(_is_int(data["n_chunks"]), "n_chunks")
    need(isinstance(data["index_type"], str), "index_type")
    need(
        isinstance(files, dict)
        and all(
            isinstance(m, dict)
            and _is_int(m.get("bytes"))
            and isinstance(m.get("sha256"), (str, type(None)))
            for m in files.values()
        ),
        "files",
    )
    need(isinstance(data["built_at"], str), "built_at")
    need(isinstance(data.get("extra", {}), dict), "extra")


def chunking_signature(settings: Settings) -> dict:
    return {
        "splitter": "langchain RecursiveCharacterTextSplitter",
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "separators": SEPARATORS,
        "embed_text": "title + newline + chunk, title omitted when the chunk starts the document",
    }


def content_key(model_name: str, text: str) -> str:
    """Cache key of one embedding: model and exact input text."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()


def chunk_key(model_name: str, chunk: Chunk) -> str:
    """Cache key of a chunk's vector, sentence spans and sentence vectors: everything they depend on
    (the model, the text it reads, the sentence rules, and the title, which decides whether a first
    line is quotable)."""
    from qa.embed import embed_text

    near_title = chunk.start < len(chunk.title) + 2
    key = f"{embed_text(chunk)}\x00{SENTENCE_RULES}\x00{chunk.title}\x00{near_title}"
    return content_key(model_name, key)


def read_manifest(index_dir: Path) -> Manifest:
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexMissingError(f"no index in {index_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # replaced between the check and the read: a build swapped it
        raise IndexMissingError(f"no index in {index_dir}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{path} is not a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index format {data.get('format_version')!r}, this version of qa reads format {FORMAT_VERSION}"
        )
    return Manifest.from_dict(data)


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Publish a manifest with one atomic replace (readers see the old or the new one)."""
    atomic_write(index_dir / MANIFEST, manifest.to_json())


def check_compatible(manifest: Manifest, settings: Settings) -> None:
    if manifest.model.get("name") != settings.resolved_model_name:
        raise IndexMismatchError(
            f"index built with model {manifest.model.get('name')!r}, settings use {settings.resolved_model_name!r}"
        )
    if manifest.chunking != chunking_signature(settings):
        raise IndexMismatchError("index built with other chunking settings")


def file_entries(root: Path) -> dict[str, dict]:
    """Size and (below HASH_LIMIT) sha256 of every file of a generation folder, for the manifest."""
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            files[p.relative_to(root).as_posix()] = {
                "bytes": size,
                "sha256": sha256_file(p) if size <= HASH_LIMIT else None,
            }
    return files


def verify_files(manifest: Manifest, root: Path) -> None:
    """Every file the manifest lists is there, whole and unmodified; the counts add up."""
    if not manifest.generation or "/" in manifest.generation or not root.is_dir():
        raise IndexCorruptError(f"index generation {manifest.generation!r} is missing")
    if manifest.n_chunks != sum(d.get("chunks", 0) for d in manifest.documents.values()):
        raise IndexCorruptError("manifest.json chunk counts disagree")
    for rel, meta in manifest.files.items():
        p = root / rel
        try:
            if not p.is_file() or p.stat().st_size != meta["bytes"]:
                raise IndexCorruptError(f"index file {rel} is missing or truncated")
            if meta.get("sha256") and sha256_file(p) != meta["sha256"]:
                raise IndexCorruptError(f"index file {rel} was modified after the build")
        except OSError as exc:  # removed while being read
            raise IndexCorruptError(f"index file {rel} is unreadable ({exc.strerror})") from None
    try:  # the header alone: the vectors match the manifest's chunk count and model dimensions
        shape = np.load(root / "vectors.npy", mmap_mode="r").shape
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"vectors.npy is unreadable ({exc})") from None
    want = (manifest.n_chunks, manifest.model["dim"])
    if shape != want:
        raise IndexCorruptError(f"vectors.npy holds {shape}, manifest.json says {want}")
