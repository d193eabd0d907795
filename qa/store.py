"""The index on disk: FAISS + BM25 + chunks + manifest. The only module that touches index files.

Layout (plain files, no pickle):

    index/
      manifest.json          # format, model, chunking, per-document hashes, files; names the generation
      g-<stamp>-<rand>/      # one complete generation
        chunks.jsonl         # one chunk a line: id, doc_id, title, start, end, key, text
        chunk_offsets.npy    # int64 (n+1,): byte offset of each line, so a chunk is read on demand
        chunk_docs.npy       # int32 (n,): each chunk's document, as a position in sorted(documents)
        vectors.npy          # float32 (n, dim), L2-normalized; also the embedding cache
        sentence_ptr.npy     # int64 (n+1,): chunk i's quotable sentences are rows ptr[i]:ptr[i+1]
        sentence_spans.npy   # int32 (m, 2): each sentence's start/end in its chunk's text
        sentence_vectors.npy # float16 (m, dim): each sentence pooled from its chunk's forward pass
        faiss.index          # exact (flat) below `ann_threshold` chunks, IVF-PQ fast-scan above (make_faiss_index)
        bm25/                # bm25s files (npy/json), tokenizer vocabulary, and impact_{indices,data}.npy:
                             #   each term's postings by weight, for early-stopping top-k (qa.sparse)

A build writes a new generation beside the old one and then swaps `manifest.json` with one atomic
`os.replace`: a build that dies at any point leaves the previous index loadable.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qa import sparse
from qa.config import Settings
from qa.corpus import SEPARATORS, Chunk, Document, Skipped, chunk_documents, load_corpus
from qa.errors import (
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexStaleError,
)

FORMAT_VERSION = 3  # 2: chunk_offsets.npy + chunk_docs.npy; 3: sentence spans and vectors
MANIFEST = "manifest.json"
VECTORS_IN_RAM = 512 * 2**20  # vectors.npy up to this size (~350k chunks) is read into memory
HASH_LIMIT = 256 * 2**20  # files up to this size get a sha256 check on load; larger ones a size check
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class DocStatus:
    doc_id: str
    status: str  # indexed | stale | new | removed | skipped
    title: str = ""
    chunks: int = 0
    reason: str = ""


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
        _check_manifest_types(data)
        return cls(**{k: v for k, v in data.items() if k in names})


def _check_manifest_types(data: dict) -> None:
    """A hand-edited manifest with wrong types is damage, reported as such (never an AttributeError)."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise IndexCorruptError(f"manifest.json: {what} has the wrong type (edited by hand?)")

    def is_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    need(isinstance(data["generation"], str), "generation")
    need(isinstance(data["model"], dict) and isinstance(data["model"].get("name"), str)
         and is_int(data["model"].get("dim")), "model")
    need(isinstance(data["chunking"], dict), "chunking")
    need(isinstance(data["documents"], dict) and all(
        isinstance(m, dict) and isinstance(m.get("sha256"), str) and is_int(m.get("chunks", 0))
        for m in data["documents"].values()), "documents")
    need(isinstance(data["skipped"], list) and all(isinstance(s, dict) for s in data["skipped"]), "skipped")
    need(is_int(data["n_chunks"]), "n_chunks")
    need(isinstance(data["index_type"], str), "index_type")
    need(isinstance(data["files"], dict) and all(
        isinstance(m, dict) and is_int(m.get("bytes")) and isinstance(m.get("sha256"), (str, type(None)))
        for m in data["files"].values()), "files")


def chunking_signature(settings: Settings) -> dict:
    return {
        "splitter": "langchain RecursiveCharacterTextSplitter",
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "separators": SEPARATORS,
        "embed_text": "title + newline + chunk, title omitted when the chunk starts the document",
    }


def embed_text(chunk: Chunk) -> str:
    """What the model reads for a chunk: the article title gives mid-article chunks their context."""
    if chunk.start == 0 or not chunk.title:
        return chunk.text
    return f"{chunk.title}\n{chunk.text}"


def embed_chunks(
    embedder, chunks: Sequence[Chunk], spans: Sequence[Sequence[tuple[int, int]]]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Chunk vectors (of `embed_text`) and, from the same forward pass, vectors of spans given as
    offsets in each chunk's own text (shifted past the title line the model reads before it)."""
    texts = [embed_text(c) for c in chunks]
    shifted = [
        [(a + len(t) - len(c.text), b + len(t) - len(c.text)) for a, b in sp]
        for t, c, sp in zip(texts, chunks, spans, strict=True)
    ]
    return embedder.encode_with_spans(texts, shifted)


def content_key(model_name: str, text: str) -> str:
    """Cache key of one embedding: model and exact input text."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()


SENTENCE_RULES = 1  # bump when qa.sentences changes which spans are quotable: cached spans are redone


def chunk_key(model_name: str, chunk: Chunk) -> str:
    """Cache key of a chunk's vector, sentence spans and sentence vectors: everything they depend on
    (the model, the text it reads, and the title, which decides whether a first line is quotable)."""
    near_title = chunk.start < len(chunk.title) + 2
    return content_key(model_name, f"{embed_text(chunk)}\x00{SENTENCE_RULES}\x00{chunk.title}\x00{near_title}")


# ---------------------------------------------------------------- low-level file helpers


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with p.open("rb+") as f:
                os.fsync(f.fileno())
    for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        _fsync_dir(d)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder (a second one waits)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# ---------------------------------------------------------------- the loaded index


class _Preader:
    """Owns one read-only file descriptor for `os.pread`, closed with the object. pread needs no
    shared file position (safe across threads) and keeps reading a file a later build unlinked."""

    def _open(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


class ChunkTable(Sequence[Chunk], _Preader):
    """The chunks of a generation, read on demand from chunks.jsonl.

    Holds ~12 bytes per chunk (line offsets and document codes) instead of a Python object per
    chunk, so a million-chunk index costs megabytes, not gigabytes. Reads use `os.pread`: safe to
    share between threads, and still valid after a later build removed the generation folder.
    """

    def __init__(self, path: Path, offsets: np.ndarray, doc_codes: np.ndarray, doc_ids: Sequence[str]) -> None:
        self.path = path
        self.offsets = offsets  # int64 (n+1,)
        self.doc_codes = doc_codes  # int32 (n,), positions in doc_ids
        self.doc_ids = list(doc_ids)
        self._open(path)

    def __len__(self) -> int:
        return int(self.doc_codes.shape[0])

    def _read(self, i: int) -> Chunk:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        try:
            r = json.loads(os.pread(self._fd, b - a, a))
            if r["id"] != i:
                raise ValueError(f"chunk id {r['id']} at position {i}")
            return Chunk(i, r["doc_id"], r["title"], r["start"], r["end"], r["text"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{self.path.name} is damaged ({exc})") from None

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self._read(j) for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"chunk {i} out of range")
        return self._read(i)

    def __iter__(self) -> Iterator[Chunk]:
        try:
            with self.path.open(encoding="utf-8") as f:
                for n, line in enumerate(f):
                    r = json.loads(line)
                    yield Chunk(n, r["doc_id"], r["title"], r["start"], r["end"], r["text"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{self.path.name} is damaged ({exc})") from None


@dataclass(frozen=True)
class SentenceTable:
    """Quotable sentences of every chunk, computed at build time (see `qa.sentences`)."""

    ptr: np.ndarray  # int64 (n+1,)
    spans: np.ndarray  # int32 (m, 2)
    vectors: np.ndarray | RowFile  # float16 (m, dim)

    def of(self, chunk_id: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = int(self.ptr[chunk_id]), int(self.ptr[chunk_id + 1])
        return self.spans[a:b], np.asarray(self.vectors[a:b], dtype=np.float32)


# Approximate search: candidates fetched per wanted result, then re-ranked exactly from vectors.npy.
RERANK_FACTOR = 4
RERANK_MIN = 64
# A source filter allowing at most this many chunks is searched exactly (brute force over those rows).
EXACT_FILTER_MAX = 32_768


class Index:
    """A loaded, consistent index generation."""

    def __init__(self, root: Path, manifest: Manifest, chunks: Sequence[Chunk], faiss_index, bm25, tokenizer, vectors,
                 sentences: SentenceTable | None = None, impacts: tuple[np.ndarray, np.ndarray] | None = None):
        self.root = root
        self.impacts = impacts  # (indices, data): each term's postings by weight; None: score every posting
        self.sentence_table = sentences
        self.manifest = manifest
        self.chunks = chunks
        self.faiss = faiss_index
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.vectors = vectors  # (n, dim) float32: an array, or a RowFile for big indexes
        if isinstance(chunks, ChunkTable):
            self._doc_codes, self._doc_list = chunks.doc_codes, chunks.doc_ids
        else:
            self._doc_list = sorted({c.doc_id for c in chunks})
            pos = {d: i for i, d in enumerate(self._doc_list)}
            self._doc_codes = np.array([pos[c.doc_id] for c in chunks], dtype=np.int32)
        self._doc_pos = {d: i for i, d in enumerate(self._doc_list)}
        self.approximate = not manifest.index_type.startswith("FlatIP")

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def generation(self) -> str:
        return self.manifest.generation

    @property
    def documents(self) -> dict[str, dict]:
        return self.manifest.documents

    def mask_for(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        """Boolean mask over chunks restricted to `doc_ids` (None: no restriction)."""
        if doc_ids is None:
            return None
        codes = [self._doc_pos[d] for d in doc_ids if d in self._doc_pos]
        return np.isin(self._doc_codes, np.array(codes, dtype=np.int32))

    def dense_search(self, qvec: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-n (chunk id, cosine) by inner product, optionally restricted to a mask.

        Exact on a flat index. On an approximate one, a wider candidate set is re-ranked with the
        exact vectors, so returned scores are always true cosines; a narrow filter is searched exactly.
        """
        import faiss

        n = min(n, len(self.chunks))
        if n <= 0:
            return []
        q = np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32)
        params = None
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if allowed.size == 0:
                return []
            n = min(n, allowed.size)
            if self.approximate and allowed.size <= EXACT_FILTER_MAX:
                return self._exact(q[0], allowed, n)
            bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            if self.approximate:
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.faiss.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        m = min(max(n * RERANK_FACTOR, RERANK_MIN), len(self.chunks)) if self.approximate else n
        scores, ids = self.faiss.search(q, m, params=params) if params else self.faiss.search(q, m)
        if not self.approximate:
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        return self._exact(q[0], np.sort(ids[0][ids[0] >= 0]), n)

    def _exact(self, q: np.ndarray, ids: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Exact top-n among the given chunk ids (sorted ids read the memory map in order)."""
        if ids.size == 0:
            return []
        scores = np.asarray(self.vectors[ids] @ q, dtype=np.float32)
        top = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
        top = top[np.lexsort((ids[top], -scores[top]))]
        return [(int(ids[t]), float(scores[t])) for t in top]

    def bm25_search(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-n (chunk id, BM25 score > 0)."""
        ids = self.tokenizer.tokenize([query], update_vocab="never", return_as="ids", show_progress=False)[0]
        empty = self.tokenizer.word_to_id.get("")
        ids = [i for i in ids if i != empty]
        if not ids:
            return []
        sc = self.bm25.scores
        if self.impacts is not None and getattr(self.bm25, "nonoccurrence_array", None) is None:
            return sparse.topk(ids, n, sc["indptr"], sc["indices"], sc["data"], *self.impacts, mask)
        scores = self._bm25_scores(ids)
        cand = np.flatnonzero(scores > 0)  # only chunks holding a query term compete: cheap at 1M chunks
        if mask is not None:
            cand = cand[mask[cand]]
        n = min(n, cand.size)
        if n == 0:
            return []
        sc = scores[cand]
        top = np.argpartition(-sc, n - 1)[:n] if n < sc.size else np.arange(sc.size)
        top = top[np.argsort(-sc[top], kind="stable")]
        return [(int(cand[t]), float(sc[t])) for t in top]

    def _bm25_scores(self, ids: Sequence[int]) -> np.ndarray:
        """BM25 of every chunk (the path for indexes without impact files, and BM25L/BM25+)."""
        if getattr(self.bm25, "nonoccurrence_array", None) is not None:  # BM25L/BM25+: not a plain sum
            return self.bm25.get_scores_from_ids(ids)
        sc = self.bm25.scores
        return sparse.full_scores(ids, sc["indptr"], sc["indices"], sc["data"], int(sc["num_docs"]))

    def sentences(self, chunk_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(spans (k, 2) in the chunk's text, vectors (k, dim) float32) of its quotable sentences."""
        return self.sentence_table.of(chunk_id) if self.sentence_table is not None else None

    def cosine(self, qvec: np.ndarray, chunk_ids: Sequence[int]) -> np.ndarray:
        """Cosine similarity of the query to given chunks (exact, from the stored vectors)."""
        if len(chunk_ids) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.vectors[np.asarray(chunk_ids)] @ qvec.reshape(-1), dtype=np.float32)


# ---------------------------------------------------------------- reading


def verify_files(manifest: Manifest, root: Path) -> None:
    """Every file the manifest lists is there, whole and unmodified; the counts add up."""
    if not manifest.generation or "/" in manifest.generation or not root.is_dir():
        raise IndexCorruptError(f"index generation {manifest.generation!r} is missing")
    if manifest.n_chunks != sum(d.get("chunks", 0) for d in manifest.documents.values()):
        raise IndexCorruptError("manifest.json chunk counts disagree")
    for rel, meta in manifest.files.items():
        p = root / rel
        if not p.is_file() or p.stat().st_size != meta["bytes"]:
            raise IndexCorruptError(f"index file {rel} is missing or truncated")
        if meta.get("sha256") and _sha256_file(p) != meta["sha256"]:
            raise IndexCorruptError(f"index file {rel} was modified after the build")
    try:  # the header alone: the vectors match the manifest's chunk count and model dimensions
        shape = np.load(root / "vectors.npy", mmap_mode="r").shape
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"vectors.npy is unreadable ({exc})") from None
    if shape != (manifest.n_chunks, manifest.model["dim"]):
        raise IndexCorruptError(f"vectors.npy holds {shape}, manifest.json says {(manifest.n_chunks, manifest.model['dim'])}")


def read_manifest(index_dir: Path) -> Manifest:
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexMissingError(f"no index in {index_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{path} is not a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index format {data.get('format_version')!r}, this version of qa reads format {FORMAT_VERSION}"
        )
    return Manifest.from_dict(data)


def check_compatible(manifest: Manifest, settings: Settings) -> None:
    if manifest.model.get("name") != settings.resolved_model_name:
        raise IndexMismatchError(
            f"index built with model {manifest.model.get('name')!r}, settings use {settings.resolved_model_name!r}"
        )
    if manifest.chunking != chunking_signature(settings):
        raise IndexMismatchError("index built with other chunking settings")


def corpus_status(settings: Settings, manifest: Manifest | None) -> list[DocStatus]:
    """Per document: indexed / stale (changed) / new / removed / skipped (with the reason)."""
    docs, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes)
    indexed = manifest.documents if manifest else {}
    out: list[DocStatus] = []
    for d in docs:
        meta = indexed.get(d.doc_id)
        if meta is None:
            out.append(DocStatus(d.doc_id, "new", d.title))
        elif meta["sha256"] != d.sha256:
            out.append(DocStatus(d.doc_id, "stale", d.title, meta.get("chunks", 0)))
        else:
            out.append(DocStatus(d.doc_id, "indexed", d.title, meta.get("chunks", 0)))
    present = {d.doc_id for d in docs}
    for doc_id, meta in indexed.items():
        if doc_id not in present:
            out.append(DocStatus(doc_id, "removed", meta.get("title", ""), meta.get("chunks", 0)))
    out.extend(DocStatus(s.name, "skipped", reason=s.reason) for s in skipped)
    return sorted(out, key=lambda s: s.doc_id)


def is_fresh(statuses: Sequence[DocStatus]) -> bool:
    return all(s.status in ("indexed", "skipped") for s in statuses)


def _read_chunks(path: Path) -> list[Chunk]:
    chunks: list[Chunk] = []
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f):
                r = json.loads(line)
                if r["id"] != n:
                    raise ValueError(f"chunk id {r['id']} on line {n + 1}")
                chunks.append(Chunk(n, r["doc_id"], r["title"], r["start"], r["end"], r["text"]))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{path.name} is damaged ({exc})") from None
    return chunks


def load_index(settings: Settings, *, check_fresh: bool = True) -> Index:
    """Load and verify the current generation; raise a typed error naming the fix otherwise."""
    import bm25s
    import faiss

    index_dir = settings.index_dir
    manifest = read_manifest(index_dir)
    check_compatible(manifest, settings)
    root = index_dir / manifest.generation
    verify_files(manifest, root)
    if check_fresh:
        statuses = corpus_status(settings, manifest)
        changed = [s for s in statuses if s.status in ("stale", "new", "removed")]
        if changed:
            names = ", ".join(f"{s.doc_id} ({s.status})" for s in changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            raise IndexStaleError(f"the index does not match the corpus: {names}{more}")
    n = manifest.n_chunks
    try:
        offsets = np.load(root / "chunk_offsets.npy")
        doc_codes = np.load(root / "chunk_docs.npy")
        jsonl = root / "chunks.jsonl"
        if (offsets.shape != (n + 1,) or doc_codes.shape != (n,) or offsets[0] != 0
                or offsets[-1] != jsonl.stat().st_size or (n and np.any(np.diff(offsets) <= 0))
                or (n and not 0 <= int(doc_codes.min()) <= int(doc_codes.max()) < len(manifest.documents))):
            raise ValueError("chunk offsets or document codes disagree with chunks.jsonl")
        chunks = ChunkTable(jsonl, offsets, doc_codes, sorted(manifest.documents))
        vec_path = root / "vectors.npy"
        # In RAM up to VECTORS_IN_RAM; above it, rows are read on demand (RAM matters more at that size).
        in_ram = vec_path.stat().st_size <= VECTORS_IN_RAM
        vectors = np.load(vec_path) if in_ram else RowFile(vec_path)
        sentences = _load_sentences(root, n, int(manifest.model["dim"]))
        fidx = faiss.read_index(str(root / "faiss.index"))
        bm25 = bm25s.BM25.load(str(root / "bm25"), mmap=False)
        impacts = (np.load(root / "bm25" / "impact_indices.npy"), np.load(root / "bm25" / "impact_data.npy"))
        if impacts[0].shape != bm25.scores["indices"].shape or impacts[1].shape != bm25.scores["data"].shape:
            raise ValueError("bm25 impact files disagree with the postings")
        tokenizer = make_tokenizer()
        tokenizer.load_vocab(str(root / "bm25"))
        tokenizer.load_stopwords(str(root / "bm25"))
    except (OSError, ValueError, RuntimeError, KeyError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"index files are unreadable ({exc})") from None
    if not (len(chunks) == n == fidx.ntotal == vectors.shape[0]) or vectors.shape[1] != manifest.model["dim"]:
        raise IndexCorruptError("index files disagree on the number of chunks")
    return Index(root, manifest, chunks, fidx, bm25, tokenizer, vectors, sentences, impacts)


def _load_sentences(root: Path, n: int, dim: int) -> SentenceTable:
    ptr = np.load(root / "sentence_ptr.npy")
    spans = np.load(root / "sentence_spans.npy")
    path = root / "sentence_vectors.npy"
    vectors = np.load(path) if path.stat().st_size <= VECTORS_IN_RAM else RowFile(path)
    m = spans.shape[0] if spans.ndim == 2 else -1
    if (ptr.shape != (n + 1,) or ptr[0] != 0 or ptr[-1] != m or (n and np.any(np.diff(ptr) < 0))
            or spans.shape != (m, 2) or tuple(vectors.shape) != (m, dim)
            or (m and (spans.min() < 0 or np.any(spans[:, 1] <= spans[:, 0])))):
        raise ValueError("sentence files disagree with each other or with the chunks")
    return SentenceTable(ptr, spans, vectors)


class RowFile(_Preader):
    """Rows of a 2-D .npy file read on demand with `os.pread`, for arrays too big to hold in RAM.

    Not a memory map: on this kernel (ext4 with large folios) each row touched through a map brought
    ~1.3 MB into the process's RSS (480 rows: +630 MB); pread copies only the rows asked for. A file
    truncated under a running app gives IndexCorruptError, not the SIGBUS a map would.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        header = np.load(path, mmap_mode="r")  # parses the header only
        self.shape: tuple[int, int] = tuple(header.shape)  # type: ignore[assignment]
        self.dtype = header.dtype
        self._offset = int(header.offset)
        self._row = int(self.dtype.itemsize * self.shape[1])
        del header
        self._open(path)

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int) -> bytes:
        size = count * self._row
        data = os.pread(self._fd, size, self._offset + start * self._row)
        if len(data) != size:
            raise IndexCorruptError(f"{self.path.name} is shorter than its header says")
        return data

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            a, b, step = key.indices(self.shape[0])
            rows = np.frombuffer(self._read(a, max(0, b - a)), dtype=self.dtype).reshape(-1, self.shape[1])
            return rows[::step]
        ids = np.asarray(key)
        if ids.ndim == 0:
            return self[ids.reshape(1)][0]
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.shape[0]):
            raise IndexError("row out of range")
        out = np.empty((ids.size, self.shape[1]), dtype=self.dtype)
        buf = out.view(np.uint8).reshape(ids.size, self._row)
        for j, i in enumerate(ids.tolist()):
            buf[j] = np.frombuffer(self._read(i, 1), dtype=np.uint8)
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[0 : self.shape[0]]
        return out.astype(dtype) if dtype is not None else out


# ---------------------------------------------------------------- building


def make_tokenizer():
    import Stemmer
    from bm25s.tokenization import Tokenizer

    return Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en", lower=True, splitter=r"(?u)\b\w+\b")


def ann_params(n: int) -> tuple[int, int]:
    """(nlist, nprobe) of the IVF index for n chunks: ~sqrt(n) lists of ~sqrt(n) chunks, 1/4 probed.

    Fast-scan codes make probing cheap (~2 ms for 250k codes), so we buy recall with a wide probe."""
    nlist = int(min(max(round(n**0.5), 16), 4096))
    return nlist, int(min(max(nlist // 4, 16), nlist))


def make_faiss_index(vectors: np.ndarray, settings: Settings):
    """Exact inner product below `ann_threshold` chunks; IVF with 4-bit fast-scan PQ codes above.

    Why: at 1M x 384 a flat scan costs ~50 ms a query on 2 cores, and HNSWFlat needs ~1.8 GB of RAM
    and a long build. IVF-PQ fast-scan keeps dim/4 bytes a chunk (96 MB at 1M), trains on a sample
    in seconds, and scans the probed lists in about a millisecond. Its scores are rough, so
    `Index.dense_search` re-ranks a wider candidate set exactly from vectors.npy: returned scores are
    true cosines. Measured at 1M (nprobe 250, 80 candidates re-ranked): recall@10 against exact
    search 0.947 with 4 dims a sub-quantizer, 0.987 with 2 (0.908 -> 0.983 for real questions), for
    +1 ms. `qa bench` reports recall@10 against exact search.
    """
    import faiss

    n, dim = vectors.shape
    if n < max(settings.ann_threshold, 1024):  # IVF needs enough points to train its lists
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return index, "FlatIP"
    nlist, nprobe = ann_params(n)
    codes = f"PQ{dim // 2}x4fs" if dim % 8 == 0 else "SQ8"  # 2 dims a sub-quantizer: see the docstring
    index = faiss.index_factory(dim, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # unit vectors: centroids stay on the sphere
    index.cp.niter = 12
    index.cp.seed = 1234
    index.cp.max_points_per_centroid = 48
    sample = np.sort(np.random.default_rng(1234).choice(n, size=min(n, nlist * 48), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    step = 65_536
    for s in range(0, n, step):
        index.add(np.ascontiguousarray(vectors[s : s + step], dtype=np.float32))
    index.nprobe = nprobe
    return index, f"IVF{nlist},{codes}(nprobe={nprobe})+rerank"


@dataclass(frozen=True)
class _Cache:
    """The current generation's vectors and sentences, by chunk key (reused when a chunk is unchanged)."""

    rows: dict[str, int]
    vectors: np.ndarray
    sentences: SentenceTable


def _load_cache(settings: Settings, model_name: str) -> _Cache | None:
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
        keys = []
        with (root / "chunks.jsonl").open(encoding="utf-8") as f:
            for line in f:
                keys.append(json.loads(line)["key"])
        sentences = _load_sentences(root, len(keys), vectors.shape[1])
    except (IndexCorruptError, OSError, EOFError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None  # the cache is only a speed-up: anything wrong with it means re-embedding
    if len(keys) != vectors.shape[0]:
        return None
    return _Cache({k: i for i, k in enumerate(keys)}, vectors, sentences)


def _concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """np.concatenate([arange(s, s + c) for s, c in zip(starts, counts)]), without the Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0 or counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - firsts, counts) + np.arange(int(counts.sum()))


def build_index(settings: Settings, embedder, progress: Progress | None = None, *, force: bool = False) -> BuildReport:
    """Build (or incrementally update) the index for the corpus. Atomic: see the module docstring."""
    t0 = time.perf_counter()
    report = lambda stage, done, total: progress and progress(stage, done, total)  # noqa: E731
    with build_lock(settings.index_dir):
        report("loading corpus", 0, 1)
        docs, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes)
        if not docs:
            reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:5])
            raise CorpusError(
                f"no usable documents in {settings.corpus_dir}" + (f" ({reasons})" if reasons else "")
            )
        model_name = settings.resolved_model_name
        if not force:
            unchanged = _unchanged(settings, docs, skipped)
            if unchanged is not None:
                return BuildReport(len(docs), unchanged.n_chunks, 0, unchanged.n_chunks, skipped,
                                   time.perf_counter() - t0, unchanged.index_type, unchanged=True)
        chunks = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap)
        texts = [embed_text(c) for c in chunks]
        keys = [chunk_key(model_name, c) for c in chunks]
        cache = None if force else _load_cache(settings, model_name)
        vectors, sentences, todo = _embed(chunks, texts, keys, cache, embedder, report)
        report("indexing", 0, 1)
        gen = f"g-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        tmp = settings.index_dir / f".tmp-{gen}"
        tmp.mkdir(parents=True)
        try:
            index_type = _write_generation(tmp, chunks, keys, vectors, sentences, settings,
                                           sorted(d.doc_id for d in docs))
            files = {}
            for p in sorted(tmp.rglob("*")):
                if p.is_file():
                    size = p.stat().st_size
                    files[p.relative_to(tmp).as_posix()] = {
                        "bytes": size,
                        "sha256": _sha256_file(p) if size <= HASH_LIMIT else None,
                    }
            _fsync_tree(tmp)
            final = settings.index_dir / gen
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        per_doc: dict[str, int] = {}
        for c in chunks:
            per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            generation=gen,
            model={"name": model_name, "dim": int(vectors.shape[1]), "normalized": True},
            chunking=chunking_signature(settings),
            documents={
                d.doc_id: {"sha256": d.sha256, "title": d.title, "chars": len(d.text), "chunks": per_doc.get(d.doc_id, 0)}
                for d in docs
            },
            skipped=[asdict(s) for s in skipped],
            n_chunks=len(chunks),
            index_type=index_type,
            files=files,
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - t0, 3),
        )
        _write_manifest(settings.index_dir, manifest)
        _remove_old_generations(settings.index_dir, keep=gen)
        report("done", 1, 1)
        return BuildReport(len(docs), len(chunks), len(todo), len(chunks) - len(todo), skipped,
                           time.perf_counter() - t0, index_type)


EMBED_SLICE = 128  # chunks per embedding step: the unit of progress and of splitting ahead


def _embed(chunks: list[Chunk], texts: list[str], keys: list[str], cache: _Cache | None, embedder,
           report: Callable[[str, int, int], object]) -> tuple[np.ndarray, SentenceTable, list[int]]:
    """Chunk vectors and sentence table; unchanged chunks come from the cache, the rest from the model.

    Returns the chunks embedded too. A new chunk's sentences are split (pysbd) and pooled from the
    chunk's own forward pass (`Embedder.encode_with_spans`): no extra model work per sentence. The
    next slice is split in a thread while the model embeds this one (ONNX Runtime releases the GIL),
    which hides most of pysbd's ~3 ms a chunk (README "Performance").
    """
    from concurrent.futures import ThreadPoolExecutor

    from qa.sentences import quotable_spans

    n = len(chunks)
    rows = cache.rows if cache is not None else {}
    old = np.array([rows.get(k, -1) for k in keys], dtype=np.int64)
    hit = np.flatnonzero(old >= 0)
    # Longest first, as SentenceTransformer.encode orders one call: batches of similar length pad
    # little, so embedding in slices (for progress) runs as fast as one big encode call.
    todo = sorted((int(i) for i in np.flatnonzero(old < 0)), key=lambda i: -len(texts[i]))
    vectors = np.zeros((n, embedder.dim), dtype=np.float32)
    new: dict[int, tuple[list[tuple[int, int]], np.ndarray]] = {}
    slices = [todo[s : s + EMBED_SLICE] for s in range(0, len(todo), EMBED_SLICE)]

    def split(ids: list[int]) -> list[list[tuple[int, int]]]:
        return [quotable_spans(chunks[i]) for i in ids]

    with ThreadPoolExecutor(1, thread_name_prefix="qa-split") as pool:
        ahead = pool.submit(split, slices[0]) if slices else None
        for k, ids in enumerate(slices):
            report("embedding", k * EMBED_SLICE, len(todo))
            assert ahead is not None
            spans_now = ahead.result()
            if k + 1 < len(slices):
                ahead = pool.submit(split, slices[k + 1])
            vecs, pooled = embed_chunks(embedder, [chunks[i] for i in ids], spans_now)
            vectors[ids] = vecs
            for i, sp, p in zip(ids, spans_now, pooled, strict=True):
                new[i] = (sp, p.astype(np.float16))
    report("embedding", len(todo), len(todo))
    counts = np.zeros(n, dtype=np.int64)
    if cache is not None and hit.size:
        counts[hit] = np.diff(cache.sentences.ptr)[old[hit]]
    for i, (sp, _) in new.items():
        counts[i] = len(sp)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    spans = np.zeros((int(ptr[-1]), 2), dtype=np.int32)
    svecs = np.zeros((int(ptr[-1]), vectors.shape[1]), dtype=np.float16)
    if cache is not None and hit.size:
        vectors[hit] = cache.vectors[old[hit]]
        src = _concat_ranges(cache.sentences.ptr[old[hit]], counts[hit])
        dst = _concat_ranges(ptr[hit], counts[hit])
        spans[dst] = cache.sentences.spans[src]
        svecs[dst] = np.asarray(cache.sentences.vectors[src])
    for i, (sp, p) in new.items():
        if sp:
            spans[ptr[i] : ptr[i + 1]] = sp
            svecs[ptr[i] : ptr[i + 1]] = p
    return vectors, SentenceTable(ptr, spans, svecs), todo


def _unchanged(settings: Settings, docs: list[Document], skipped: list[Skipped]) -> Manifest | None:
    """The current manifest when it already describes exactly this corpus with these settings."""
    try:
        manifest = read_manifest(settings.index_dir)
        check_compatible(manifest, settings)
    except (IndexMissingError, IndexCorruptError, IndexMismatchError):
        return None
    current = {d.doc_id: d.sha256 for d in docs}
    indexed = {k: v["sha256"] for k, v in manifest.documents.items()}
    if current != indexed or [asdict(s) for s in skipped] != manifest.skipped:
        return None
    try:
        verify_files(manifest, settings.index_dir / manifest.generation)
    except IndexCorruptError:
        return None
    return manifest


def _write_generation(root: Path, chunks: list[Chunk], keys: list[str], vectors: np.ndarray,
                      sentences: SentenceTable, settings: Settings, doc_ids: Sequence[str]) -> str:
    import bm25s
    import faiss

    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    pos = {d: i for i, d in enumerate(doc_ids)}
    codes = np.fromiter((pos[c.doc_id] for c in chunks), dtype=np.int32, count=len(chunks))
    with (root / "chunks.jsonl").open("wb") as f:
        for i, (c, k) in enumerate(zip(chunks, keys, strict=True)):
            line = json.dumps({"id": c.chunk_id, "doc_id": c.doc_id, "title": c.title, "start": c.start,
                               "end": c.end, "key": k, "text": c.text}, ensure_ascii=False) + "\n"
            f.write(data := line.encode("utf-8"))
            offsets[i + 1] = offsets[i] + len(data)
    np.save(root / "chunk_offsets.npy", offsets)
    np.save(root / "chunk_docs.npy", codes)
    np.save(root / "vectors.npy", vectors)
    np.save(root / "sentence_ptr.npy", sentences.ptr)
    np.save(root / "sentence_spans.npy", sentences.spans)
    np.save(root / "sentence_vectors.npy", np.asarray(sentences.vectors))
    index, kind = make_faiss_index(vectors, settings)
    faiss.write_index(index, str(root / "faiss.index"))
    tokenizer = make_tokenizer()
    tokens = tokenizer.tokenize([c.text for c in chunks], update_vocab=True, return_as="tuple", show_progress=False)
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    (root / "bm25").mkdir()
    bm25.save(str(root / "bm25"))
    sc = bm25.scores
    if not sparse.postings_sorted(sc["indptr"], sc["indices"]):  # bm25s keeps them sorted; never trust it blindly
        sc["indices"], sc["data"] = sparse.sort_postings(sc["indptr"], sc["indices"], sc["data"])
        bm25.save(str(root / "bm25"))
    imp_indices, imp_data = sparse.impact_order(sc["indptr"], sc["indices"], sc["data"])
    np.save(root / "bm25" / "impact_indices.npy", imp_indices)
    np.save(root / "bm25" / "impact_data.npy", imp_data)
    tokenizer.save_vocab(str(root / "bm25"))
    tokenizer.save_stopwords(str(root / "bm25"))
    return kind


def _write_manifest(index_dir: Path, manifest: Manifest) -> None:
    tmp = index_dir / f".{MANIFEST}.{secrets.token_hex(4)}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        f.write(manifest.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / MANIFEST)
    _fsync_dir(index_dir)


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        if p.name == keep or not p.is_dir():
            continue
        if p.name.startswith(("g-", ".tmp-g-")):
            shutil.rmtree(p, ignore_errors=True)
