"""The int8 embedding model (`QA_EMBED_BACKEND=onnx-int8`): ONNX Runtime dynamic quantization of
the fp32 export, made once into the cache folder beside it and checked once against it.

Why: int8 weights with per-channel scales run the MiniLM forward pass ~2.5x faster per thread
on this CPU (the build's cost is embedding) and the file is 4x smaller; vectors stay within
cosine ~0.99 of fp32. The quality cost on SciFact is measured in docs/performance.md. Activations
are quantized per batch at run time (dynamic), so no calibration data is needed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.errors import ModelError

log = logging.getLogger(__name__)

QUANT_VERSION = 1  # bump when the quantization recipe changes: old files are then ignored
# Lowest cosine allowed between an int8 and an fp32 vector of the same probe text (measured
# ~0.989 worst, ~0.993 mean on news paragraphs); below it the file is not published.
MIN_COSINE = 0.97


def int8_path(fp32_path: Path) -> Path:
    """`<fingerprint>.int8-v<N>.onnx` beside `<fingerprint>.onnx`: the same content-hash name."""
    return fp32_path.with_name(f"{fp32_path.stem}.int8-v{QUANT_VERSION}.onnx")


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine between two sets of vectors (rows with NaN are skipped)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if not ok.any():
        return 1.0
    a, b = a[ok], b[ok]
    na = np.maximum(np.linalg.norm(a, axis=1), 1e-12)
    nb = np.maximum(np.linalg.norm(b, axis=1), 1e-12)
    return float(((a * b).sum(axis=1) / (na * nb)).min())


def quantize(
    fp32_path: Path, target: Path, make_encoder: Callable[[Path], object], probes: Sequence[str]
) -> None:
    """Quantize `fp32_path` into `target`, publishing it only if its vectors (whole texts and
    pooled spans) agree with fp32's on `probes` to MIN_COSINE."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnx (needed by the quantizer) is missing
        raise ModelError(f"ONNX Runtime's quantizer cannot load ({exc})") from None
    from filelock import FileLock  # imported here: ~0.1 s, only when quantizing

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / ".lock"):  # two processes at once: one quantizes
        if target.is_file():
            return
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            with _quiet_logs():
                quantize_dynamic(fp32_path, tmp, weight_type=QuantType.QInt8, per_channel=True)
            worst = _agreement(make_encoder(fp32_path), make_encoder(tmp), probes)
            if not worst >= MIN_COSINE:
                raise ModelError(f"the int8 model disagrees with fp32 (lowest cosine {worst:.3f})")
            os.replace(tmp, target)
            log.info(
                "quantized %s to %s (lowest probe cosine %.4f)", fp32_path.name, target.name, worst
            )
        except ModelError:
            raise
        except Exception as exc:  # the quantizer raises many kinds; all mean "not quantizable here"
            raise ModelError(f"int8 quantization failed ({type(exc).__name__}: {exc})") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _agreement(fp32, int8, probes: Sequence[str]) -> float:
    spans = [[(0, len(p) // 2), (len(p) // 3, len(p))] if p else [] for p in probes]
    want, want_pooled = fp32.encode_with_spans(probes, spans)
    got, got_pooled = int8.encode_with_spans(probes, spans)
    cos = [min_cosine(want, got)]
    cos += [min_cosine(a, b) for a, b in zip(want_pooled, got_pooled, strict=True) if len(a)]
    return min(cos)


@contextlib.contextmanager
def _quiet_logs():
    """The quantizer logs a pre-processing suggestion on the root logger at WARNING."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
