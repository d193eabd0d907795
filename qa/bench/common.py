"""What every part of `qa bench` shares: the questions, timing helpers, the machine, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

Log = Callable[[str], None]
# Questions about the shipped corpus; the scale index contains those articles, so answers are real.
QUESTIONS = [
    "Who is Ryu Seong-hyeon?",
    "How many North Korean troops were deployed to Russia?",
    "Why are North Korean soldiers ordered to commit suicide if captured?",
    "What did John Kirby say about North Korean losses?",
    "What injuries did the two captured soldiers have?",
    "Which fighter jets will Russia provide to North Korea?",
    "Did Putin deny the involvement of North Korean troops?",
    "How many casualties did North Korean forces suffer near Kursk?",
    "What happened to the families of soldiers who surrendered?",
    "Is this North Korea's largest deployment since the Korean War?",
    "What did the defector say about self-detonation?",
    "Where were the North Korean soldiers captured?",
]
# Quantity questions parse numbers in their candidate sentences: timed apart from the others.
QUANTITY = [q for q in QUESTIONS if q.lower().startswith(("how many", "how much"))]
SCALE_CHUNK_SIZE = 200  # synthetic paragraphs are 110-199 characters: one paragraph, one chunk
PIECES_PER_DOC = 200


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def ms(values: Sequence[float]) -> dict:
    return {
        "p50_ms": round(pct(values, 50) * 1e3, 2),
        "p95_ms": round(pct(values, 95) * 1e3, 2),
        "n": len(values),
    }


def machine() -> dict:
    model = platform.processor() or ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")),
            model,
        )
    except (OSError, subprocess.SubprocessError):
        pass
    psutil = need("psutil", "bench")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def time_calls(fn: Callable[[str], object], n: int, warm: int = 3) -> list[float]:
    for q in QUESTIONS[:warm]:
        fn(q)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(QUESTIONS[i % len(QUESTIONS)])
        out.append(time.perf_counter() - t)
    return out


def time_asks(engine, n: int) -> list[float]:
    """Seconds of uncached answers: with the answer cache on (qa/cache.py), an engine without it."""
    if engine.settings.answer_cache:
        from qa.chat import Engine

        engine = Engine(engine.settings.with_(answer_cache=0), engine.embedder)
    return time_calls(engine.ask, n)


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    worker started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def need(module: str, extra: str):
    """Import an optional dependency, or say which extra installs it."""
    import importlib

    from qa.errors import QAError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise QAError(f"{module} is not installed", f"pip install 'qa[{extra}]'") from None
