"""A loaded index generation (`Index`) and `load_index`, which opens the current one.

Loading retries when a build swaps the manifest while it reads: a file that vanished because a
newer generation replaced it is not damage, so readers never call a healthy index damaged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.corpus import Chunk
from qa.errors import IndexCorruptError, IndexMissingError
from qa.index import bm25 as bm25_files
from qa.index import dense
from qa.index.manifest import Manifest
from qa.index.tables import ChunkTable, SentenceTable, load_rows, read_chunks, read_sentences


class Index:
    """A consistent index: chunks, their vectors and sentences, FAISS and BM25 over them.

    Built by `load_index` from a generation on disk, or by `Index.in_memory` from arrays (e.g. a
    benchmark's documents), which needs no manifest.
    """

    def __init__(self, chunks: Sequence[Chunk], faiss_index, bm25, tokenizer, vectors, *,
                 index_type: str, manifest: Manifest | None = None, root: Path | None = None,
                 sentences: SentenceTable | None = None, impacts=None) -> None:  # fmt: skip
        self.root = root
        self.manifest = manifest
        self.index_type = index_type
        self.chunks = chunks
        self.faiss = faiss_index
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.vectors = vectors  # (n, dim) float32: an array, or a RowFile for big indexes
        self.sentence_table = sentences
        self.impacts = impacts  # (indices, data): postings by weight; None: score every posting
        if isinstance(chunks, ChunkTable):
            self._doc_codes, self._doc_list = chunks.doc_codes, chunks.doc_ids
        else:
            self._doc_list = sorted({c.doc_id for c in chunks})
            pos = {d: i for i, d in enumerate(self._doc_list)}
            self._doc_codes = np.array([pos[c.doc_id] for c in chunks], dtype=np.int32)
        self._doc_pos = {d: i for i, d in enumerate(self._doc_list)}
        self.approximate = not index_type.startswith("FlatIP")

    @classmethod
    def in_memory(cls, chunks: Sequence[Chunk], vectors: np.ndarray, settings: Settings) -> Index:
        """An index over chunks and their vectors, held in RAM, built with the same FAISS factory,
        tokenizer and bm25s settings as an index build (no sentences: answers split on demand)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        fidx, kind = dense.make_faiss_index(vectors, settings)
        bm25, tokenizer = bm25_files.build([c.text for c in chunks])
        return cls(chunks, fidx, bm25, tokenizer, vectors, index_type=kind)

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def generation(self) -> str:
        return self.manifest.generation if self.manifest else "memory"

    @property
    def documents(self) -> dict[str, dict]:
        return self.manifest.documents if self.manifest else {}

    def mask_for(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        """Boolean mask over chunks restricted to `doc_ids` (None: no restriction)."""
        if doc_ids is None:
            return None
        codes = [self._doc_pos[d] for d in doc_ids if d in self._doc_pos]
        return np.isin(self._doc_codes, np.array(codes, dtype=np.int32))

    def dense_search(
        self, qvec: np.ndarray, n: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-n (chunk id, cosine); scores are exact cosines also on an approximate index."""
        return dense.search(self.faiss, self.vectors, self.approximate, qvec, n, mask)

    def bm25_search(
        self, query: str, n: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-n (chunk id, BM25 score > 0)."""
        return bm25_files.search(self.bm25, self.tokenizer, self.impacts, query, n, mask)

    def _bm25_scores(self, ids: Sequence[int]) -> np.ndarray:
        return bm25_files.all_scores(self.bm25, ids)

    def sentences(self, chunk_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(spans (k, 2) in the chunk's text, vectors (k, dim) float32) of its quotable sentences."""
        return self.sentence_table.of(chunk_id) if self.sentence_table is not None else None

    def cosine(self, qvec: np.ndarray, chunk_ids: Sequence[int]) -> np.ndarray:
        """Cosine similarity of the query to given chunks (exact, from the stored vectors)."""
        if len(chunk_ids) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.vectors[np.asarray(chunk_ids)] @ qvec.reshape(-1), dtype=np.float32)


def open_generation(root: Path, manifest: Manifest) -> Index:
    """Open the files of one generation (already verified against its manifest)."""
    n = manifest.n_chunks
    try:
        chunks = read_chunks(root, n, sorted(manifest.documents))
        vectors = load_rows(root / "vectors.npy")
        sentences = read_sentences(root, n, int(manifest.model["dim"]))
        fidx = dense.read(root)
        bm25, tokenizer, impacts = bm25_files.read(root)
    except (OSError, ValueError, RuntimeError, KeyError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"index files are unreadable ({exc})") from None
    if (
        not (len(chunks) == n == fidx.ntotal == vectors.shape[0])
        or vectors.shape[1] != manifest.model["dim"]
    ):
        raise IndexCorruptError("index files disagree on the number of chunks")
    return Index(chunks, fidx, bm25, tokenizer, vectors, index_type=manifest.index_type,
                 manifest=manifest, root=root, sentences=sentences, impacts=impacts)  # fmt: skip


def load_index(settings: Settings, *, check_fresh: bool = True) -> Index:
    """Load and verify the current generation; raise a typed error naming the fix otherwise.

    The checks are `qa.index.status`'s (one freshness/health check for every caller). When a build
    swaps the manifest mid-load, the load starts over on the new one (bounded)."""
    from qa.index.status import RETRIES, check, generation_now

    for _ in range(RETRIES):
        status, manifest = check(settings, verify=True, fresh=check_fresh)
        try:
            status.raise_for_state()  # anything but fresh (stale is not checked without check_fresh)
            assert manifest is not None
            return open_generation(settings.index_dir / manifest.generation, manifest)
        except (IndexCorruptError, IndexMissingError):
            seen = manifest.generation if manifest else None
            if generation_now(settings) in (None, seen):
                raise  # the same manifest still stands (or none): real damage
    raise IndexCorruptError("the index kept changing while it was loaded (builds running?)")
