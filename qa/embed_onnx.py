"""The ONNX Runtime side of the embedder: the model exported once to
`<cache_dir>/onnx/<fingerprint>.onnx` (transformer + mean pooling + normalization in one graph,
checked against PyTorch when made) and the encoder over it (the model's own `tokenizer.json` +
an InferenceSession). `QA_EMBED_BACKEND=onnx-int8` adds its quantized copy (qa/embed_int8.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.embed import ONNX_BATCH, _st_encode, _st_encode_with_spans, pool_spans
from qa.errors import ModelError

log = logging.getLogger(__name__)

EXPORT_VERSION = 2  # bump when the exported graph changes: old files are then ignored
_PROBES = [
    "warm up",
    "",
    "How many North Korean troops were deployed to Russia?",
    "Ünïcödé — “quotes”, 10,000 troops; 1.5% of GDP\n\tand a line break.",
    " ".join(["A very long paragraph that runs past the model's 256 word pieces."] * 40),
]


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
    """Tokenizer (the `tokenizers` library) + ONNX Runtime session giving pooled, normalized vectors.

    `workers` > 1: the session runs on one intra-op thread and the batches of a call go to that many
    Python threads at once (`session.run` releases the GIL and is safe from several threads). Why:
    the int8 model runs one text a batch (see `open`), and one short text cannot keep two intra-op
    threads busy; whole texts side by side can. Every batch still runs alone on one thread, so a
    vector does not depend on which thread or which call computed it.
    """

    def __init__(
        self,
        onnx_path: Path,
        model_path: Path,
        max_seq_length: int,
        lower: bool,
        threads: int = 0,
        *,
        workers: int = 1,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = onnx_path
        self.max_batch = ONNX_BATCH
        self.workers = max(1, workers)
        self._pool = None
        self._pool_lock = threading.Lock()
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
        opts.intra_op_num_threads = 1 if self.workers > 1 else (threads or os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # ~40% less CPU
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
            found = cls._cached(quantized, model_path, info, threads, one_by_one=True)
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
            return found
        found = cls._cached(target, model_path, info, threads)
        if found is not None:
            return found
        _export(model_path, target, info, load_model)
        return cls(target, model_path, info["max_seq_length"], info["lower"], threads)

    @classmethod
    def _one_by_one(cls, path: Path, model_path: Path, info: dict, threads: int) -> OnnxEncoder:
        """The encoder over `path` running one text a batch, `threads` (0: one per core) at a time.

        Dynamic quantization (int8) scales activations per batch, over every token of it padding
        included: in a batch a text's vector would depend on its neighbours. One text a run makes
        it a function of the text alone. Such runs leave two intra-op threads half idle on a short
        text, so the texts of a call run side by side instead, each on a one-thread session.
        """
        workers = threads or os.cpu_count() or 1
        enc = cls(path, model_path, info["max_seq_length"], info["lower"], 1, workers=workers)
        enc.max_batch = 1
        return enc

    @classmethod
    def _cached(
        cls, path: Path, model_path: Path, info: dict, threads: int, *, one_by_one: bool = False
    ) -> OnnxEncoder | None:
        """The encoder over a cached file; None when missing or damaged (a damaged one is removed:
        it is only derived data, made again by the caller)."""
        if not path.is_file():
            return None
        try:
            if one_by_one:
                return cls._one_by_one(path, model_path, info, threads)
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
        batches = [order[s : s + batch_size] for s in range(0, len(texts), batch_size)]
        out: np.ndarray | None = None
        pooled: list[np.ndarray] = []
        for rows, vecs, pools in self._map(lambda r: self._forward(encs, r, spans), batches):
            if out is None:
                out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
                pooled = [np.zeros((0, vecs.shape[1]), dtype=np.float32)] * len(texts)
            out[rows] = vecs
            for i, p in zip(rows, pools or [], strict=pools is not None):
                pooled[i] = p
        assert out is not None
        return out, pooled

    def _forward(self, encs, rows: np.ndarray, spans) -> tuple[np.ndarray, np.ndarray, list | None]:
        """One session run over the texts `rows` (padded to the longest): their vectors and, with
        `spans`, each text's pooled span vectors. Safe to call from several threads at once."""
        width = max(len(encs[i].ids) for i in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            e = encs[i]
            n = len(e.ids)
            ids[r, :n], mask[r, :n], types[r, :n] = e.ids, e.attention_mask, e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        outputs = ["embedding", "tokens"] if spans is not None else ["embedding"]
        result = self.session.run(outputs, {k: feed[k] for k in self.inputs})
        if spans is None:
            return rows, result[0], None
        pools = [
            pool_spans(
                result[1][r, : len(encs[i].ids)],
                np.asarray(encs[i].offsets, dtype=np.int64).reshape(-1, 2),
                np.asarray(encs[i].special_tokens_mask, dtype=bool),
                spans[i],
            )
            for r, i in enumerate(rows)
        ]
        return rows, result[0], pools

    def _map(self, fn: Callable, batches: list):
        """`map(fn, batches)` in order; on `workers` threads when there is more than one batch."""
        if self.workers <= 1 or len(batches) <= 1:
            return map(fn, batches)
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="qa-onnx")
        return self._pool.map(fn, batches)


def _export(model_path: Path, target: Path, info: dict, load_model) -> None:
    """Export transformer + mean pooling + normalize to ONNX, check it against PyTorch, then publish."""
    from filelock import FileLock  # imported here: ~0.1 s, only when exporting

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / ".lock"):  # two processes exporting at once: one does it
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
