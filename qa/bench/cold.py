"""Cold start: `qa ask` in fresh processes, as a user runs it from a shell.

Why apart from the in-process latency: a one-off question pays for Python, the imports, the model
and the index load; the fix is importing only what the question needs (no torch, gradio, pandas,
ranx or LangChain), which this part checks as well as times.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from qa.bench.common import QUANTITY, QUESTIONS, Log, ms, pct
from qa.config import Settings
from qa.errors import QAError

# Modules a question never needs; any of them in a `qa ask` process is a cold-start defect.
HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "gradio",
    "fastapi",
    "pandas",
    "ranx",
    "langchain_core",
    "langchain_community",
    "ray",
    "quantulum3",
)
PLAIN_QUESTION = QUESTIONS[0]
QUANTITY_QUESTION = QUANTITY[0]
_PROBE = """
import json, sys
sys.argv = ["qa", *json.loads(sys.argv[1])]
from qa.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
print("\\n" + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
sys.exit(code)
"""


def ask_command(settings: Settings, question: str) -> list[str]:
    """The `qa` arguments that ask `question` of the index `settings` point at."""
    args = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    if settings.model_path:
        args += ["--model", settings.model_path]
    return [*args, "ask", question]


def _env(settings: Settings) -> dict[str, str]:
    """The user's environment for the child, less PYTHONDONTWRITEBYTECODE: an installed qa has its
    bytecode cached (pip compiles it), so the warm-up run may write it and the timed runs read it
    instead of timing the compiler (~0.1 s here)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        "HF_HUB_OFFLINE": "1",
        "QA_EMBED_BACKEND": settings.embed_backend,
        "QA_CACHE_DIR": str(settings.cache_dir),
    }


def time_fresh_ask(settings: Settings, question: str) -> tuple[float, float]:
    """(wall seconds from starting `python -m qa ... ask QUESTION` to its exit, CPU seconds it used).

    CPU time (user + system, all threads) is the load-proof figure: on a busy machine the wall
    time mostly measures the wait for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "qa", *ask_command(settings, question)],
        capture_output=True,
        text=True,
        env=_env(settings),
        timeout=600,
    )
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise QAError(
            f"`qa ask` failed in a fresh process:\n{proc.stderr[-2000:]}",
            "run `qa index build` first",
        )
    return dt, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(settings: Settings, question: str) -> list[str]:
    """The HEAVY modules (and their submodules) a `qa ask` process has imported when it ends."""
    code = _PROBE.replace("{heavy}", repr(set(HEAVY)))
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(ask_command(settings, question))],
        capture_output=True,
        text=True,
        env=_env(settings),
        timeout=600,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise QAError(f"`qa ask` failed in a fresh process:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_cold(settings: Settings, runs: int, log: Log) -> dict:
    """`runs` fresh `qa ask` processes for a plain and for a quantity question (alternating, so a
    change in the machine's load hits both alike), and the heavy modules each kind imported."""
    log(f"[cold] {runs} fresh `qa ask` processes per question")
    time_fresh_ask(
        settings, PLAIN_QUESTION
    )  # the first run may make the ONNX file; fills the page cache
    runs_of: dict[str, list[tuple[float, float]]] = {PLAIN_QUESTION: [], QUANTITY_QUESTION: []}
    for _ in range(runs):
        for q, got in runs_of.items():
            got.append(time_fresh_ask(settings, q))
    out: dict = {
        "backend": settings.embed_backend,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    for kind, q in (("plain", PLAIN_QUESTION), ("quantity", QUANTITY_QUESTION)):
        wall, cpu = [w for w, _ in runs_of[q]], [c for _, c in runs_of[q]]
        out[kind] = {"question": q, **ms(wall), "cpu_p50_ms": round(pct(cpu, 50) * 1e3, 1)}
    heavy = set(heavy_imports(settings, PLAIN_QUESTION)) | set(
        heavy_imports(settings, QUANTITY_QUESTION)
    )
    out["heavy_modules_imported"] = sorted(heavy)
    return out
