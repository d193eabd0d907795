"""The row files of a generation: chunks (chunks.jsonl + offsets), sentences, and vectors.

Plain files, no pickle. Big arrays are read on demand (positional reads), small ones held in RAM.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.corpus import Chunk
from qa.errors import IndexCorruptError
from qa.index.files import PositionalReader

VECTORS_IN_RAM = 512 * 2**20  # vectors.npy up to this size (~350k chunks) is read into memory
_BAD = (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError)


def _chunk(i: int, r: dict) -> Chunk:
    return Chunk(i, r["doc_id"], r["title"], r["start"], r["end"], r["text"])


class ChunkTable(Sequence[Chunk]):
    """The chunks of a generation, read on demand from chunks.jsonl.

    Holds ~12 bytes per chunk (line offsets and document codes) instead of a Python object per
    chunk, so a million-chunk index costs megabytes, not gigabytes. Positional reads are safe to
    share between threads, and still valid after a later build removed the generation folder.
    """

    def __init__(
        self, path: Path, offsets: np.ndarray, doc_codes: np.ndarray, doc_ids: Sequence[str]
    ) -> None:
        self.path = path
        self.offsets = offsets  # int64 (n+1,)
        self.doc_codes = doc_codes  # int32 (n,), positions in doc_ids
        self.doc_ids = list(doc_ids)
        self._file = PositionalReader(path)

    def __len__(self) -> int:
        return int(self.doc_codes.shape[0])

    def _read(self, i: int) -> Chunk:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        try:
            r = json.loads(self._file.read(b - a, a))
            if r["id"] != i:
                raise ValueError(f"chunk id {r['id']} at position {i}")
            return _chunk(i, r)
        except _BAD as exc:
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
                    yield _chunk(n, json.loads(line))
        except _BAD as exc:
            raise IndexCorruptError(f"{self.path.name} is damaged ({exc})") from None


class RowFile:
    """Rows of a 2-D .npy file read on demand, for arrays too big to hold in RAM.

    Not a memory map: on ext4 with large folios each row touched through a map brought ~1.3 MB
    into the process's RSS (480 rows: +630 MB); a positional read copies only the rows asked for.
    A file truncated under a running app gives IndexCorruptError, not the SIGBUS a map would.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        header = np.load(path, mmap_mode="r")  # parses the header only
        self.shape: tuple[int, int] = tuple(header.shape)  # type: ignore[assignment]
        self.dtype = header.dtype
        self._offset = int(header.offset)
        self._row = int(self.dtype.itemsize * self.shape[1])
        del header
        self._file = PositionalReader(path)

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int) -> bytes:
        size = count * self._row
        data = self._file.read(size, self._offset + start * self._row)
        if len(data) != size:
            raise IndexCorruptError(f"{self.path.name} is shorter than its header says")
        return data

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            a, b, step = key.indices(self.shape[0])
            raw = self._read(a, max(0, b - a))
            return np.frombuffer(raw, dtype=self.dtype).reshape(-1, self.shape[1])[::step]
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


@dataclass(frozen=True)
class SentenceTable:
    """Quotable sentences of every chunk, computed at build time (see `qa.sentences`)."""

    ptr: np.ndarray  # int64 (n+1,)
    spans: np.ndarray  # int32 (m, 2)
    vectors: np.ndarray | RowFile  # float16 (m, dim)

    def of(self, chunk_id: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = int(self.ptr[chunk_id]), int(self.ptr[chunk_id + 1])
        return self.spans[a:b], np.asarray(self.vectors[a:b], dtype=np.float32)


def load_rows(path: Path) -> np.ndarray | RowFile:
    """A 2-D array in RAM up to VECTORS_IN_RAM bytes, else read on demand."""
    return np.load(path) if path.stat().st_size <= VECTORS_IN_RAM else RowFile(path)


def write_chunks(
    root: Path, chunks: Sequence[Chunk], keys: Sequence[str], doc_ids: Sequence[str]
) -> None:
    """chunks.jsonl, its line offsets and each chunk's document code."""
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    pos = {d: i for i, d in enumerate(doc_ids)}
    codes = np.fromiter((pos[c.doc_id] for c in chunks), dtype=np.int32, count=len(chunks))
    with (root / "chunks.jsonl").open("wb") as f:
        for i, (c, k) in enumerate(zip(chunks, keys, strict=True)):
            row = {"id": c.chunk_id, "doc_id": c.doc_id, "title": c.title, "start": c.start,
                   "end": c.end, "key": k, "text": c.text}  # fmt: skip
            f.write(data := (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
            offsets[i + 1] = offsets[i] + len(data)
    np.save(root / "chunk_offsets.npy", offsets)
    np.save(root / "chunk_docs.npy", codes)


def read_chunks(root: Path, n: int, doc_ids: Sequence[str]) -> ChunkTable:
    """The chunk table of a generation, checked against the manifest's counts."""
    offsets = np.load(root / "chunk_offsets.npy")
    doc_codes = np.load(root / "chunk_docs.npy")
    jsonl = root / "chunks.jsonl"
    if (
        offsets.shape != (n + 1,)
        or doc_codes.shape != (n,)
        or offsets[0] != 0
        or offsets[-1] != jsonl.stat().st_size
        or (n and np.any(np.diff(offsets) <= 0))
        or (n and not 0 <= int(doc_codes.min()) <= int(doc_codes.max()) < len(doc_ids))
    ):
        raise ValueError("chunk offsets or document codes disagree with chunks.jsonl")
    return ChunkTable(jsonl, offsets, doc_codes, doc_ids)


def read_chunk_keys(root: Path) -> list[str]:
    """Each chunk's cache key, in order (the embedding cache of the next build)."""
    with (root / "chunks.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["key"] for line in f]


def write_sentences(root: Path, sentences: SentenceTable) -> None:
    np.save(root / "sentence_ptr.npy", sentences.ptr)
    np.save(root / "sentence_spans.npy", sentences.spans)
    np.save(root / "sentence_vectors.npy", np.asarray(sentences.vectors))


def read_sentences(root: Path, n: int, dim: int) -> SentenceTable:
    ptr = np.load(root / "sentence_ptr.npy")
    spans = np.load(root / "sentence_spans.npy")
    vectors = load_rows(root / "sentence_vectors.npy")
    m = spans.shape[0] if spans.ndim == 2 else -1
    if (
        ptr.shape != (n + 1,)
        or ptr[0] != 0
        or ptr[-1] != m
        or (n and np.any(np.diff(ptr) < 0))
        or spans.shape != (m, 2)
        or tuple(vectors.shape) != (m, dim)
        or (m and (spans.min() < 0 or np.any(spans[:, 1] <= spans[:, 0])))
    ):
        raise ValueError("sentence files disagree with each other or with the chunks")
    return SentenceTable(ptr, spans, vectors)
