"""Faults under a running app and killed builds (real model, subprocesses): damage on disk after
loading never breaks a running engine; SIGKILLed builds at random points never lose the index, and
the next build cleans up (no temporary file, no lock file)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa.chat import Engine
from qa.errors import IndexStaleError
from qa.index import build_index, load_index, read_manifest
from tests.checks import cli_ask
from tests.conftest import CORPUS, ROOT, make_home, settings_for

QUESTION = "How many North Korean troops were deployed?"


def corpus_hashes(corpus: Path) -> dict[str, str]:
    return {
        p.relative_to(corpus).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(corpus.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, embedder):
    """The seed articles with a built index and its answer."""
    home = make_home(tmp_path_factory.mktemp("pristine"), copy_corpus=True)
    s = settings_for(home)
    build_index(s, embedder)
    answer = Engine(s, embedder).ask(QUESTION).to_dict()
    return s, answer


RUNNING_FAULTS = ["delete folder", "replace files", "truncate in place"]


@pytest.mark.slow
def test_running_engine_keeps_answering_when_the_index_changes_under_it(pristine, tmp_path):
    """The index is loaded into the process: damage on disk after loading never breaks the app.

    Runs in a subprocess (one for all three faults): a memory-mapped file truncated in place kills a
    process with SIGBUS, which must not take the test runner down with it.
    """
    s, answer = pristine
    cases = []
    for i, how in enumerate(RUNNING_FAULTS):
        shutil.copytree(s.index_dir, tmp_path / f"index{i}")
        cases.append((str(tmp_path / f"index{i}"), how))
    script = f"""
import json, os, shutil, sys
from pathlib import Path
from qa.chat import Engine
from qa.config import Settings
results = {{}}
for index_dir, how in {cases!r}:
    s = Settings(corpus_dir=Path({str(s.corpus_dir)!r}), index_dir=Path(index_dir))
    engine = Engine(s)
    first = engine.ask({QUESTION!r}).to_dict()
    gen = engine.index.root
    if how == "delete folder":
        shutil.rmtree(s.index_dir)
    else:
        for p in sorted(gen.rglob("*")):
            if p.is_file():
                if how == "replace files":
                    p.unlink(); p.write_bytes(os.urandom(64))
                else:
                    with open(p, "r+b") as f:
                        f.truncate(0)
    out = []
    for _ in range(3):
        try:
            out.append(engine.ask({QUESTION!r}).to_dict())
        except Exception as exc:  # a typed error is acceptable; a dead process is not
            out.append({{"error": type(exc).__name__, "message": str(exc)}})
    results[how] = {{"first": first, "after": out}}
    print(how, "survived", file=sys.stderr, flush=True)
print(json.dumps(results))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, f"the app died (exit {proc.returncode}): {proc.stderr[-2000:]}"
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(results) == RUNNING_FAULTS
    for how, out in results.items():
        assert out["first"] == answer, how
        for a in out["after"]:
            if "error" in a:
                assert a["error"].startswith("Index") and "qa index build" in a["message"], (how, a)
            else:
                assert a == answer, how
    # deleting or replacing files never even disturbs a running app
    assert all("error" not in a for how in RUNNING_FAULTS[:2] for a in results[how]["after"])


# ---------------------------------------------------------------- builds killed at random points

KILLS = 20


def _docs_corpus(home: Path, n: int, rng: random.Random) -> None:
    """n distinct news-like documents made from the real articles' sentences."""
    sentences = []
    for p in sorted(CORPUS.iterdir()):
        text = p.read_text(encoding="utf-8")
        sentences += [
            x.strip() + "." for x in text.replace("\n", " ").split(". ") if len(x.split()) > 5
        ]
    for i in range(n):
        body = " ".join(rng.sample(sentences, 8))
        (home / "corpus" / f"doc_{i:03}.txt").write_text(
            f"Report {i}\n\n{body}\n", encoding="utf-8"
        )


class _Build:
    """A real `qa index build` subprocess whose output (its stage lines) is watched."""

    STAGES = (b"loading corpus", b"embedding", b"indexing")

    def __init__(self, s, force: bool) -> None:
        env = {
            **os.environ,
            "QA_CORPUS_DIR": str(s.corpus_dir),
            "QA_INDEX_DIR": str(s.index_dir),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", "build", *(["--force"] if force else [])],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = b""
        self.seen = {stage: threading.Event() for stage in self.STAGES}
        self.ended = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self.output += chunk
            for stage, event in self.seen.items():
                if stage in self.output:
                    event.set()
        self.ended.set()

    def wait_for(self, stage: bytes, timeout: float = 300) -> None:
        """Until the build reports `stage` or ends."""
        deadline = time.monotonic() + timeout
        while (
            not (self.seen[stage].is_set() or self.ended.is_set()) and time.monotonic() < deadline
        ):
            time.sleep(0.01)

    def finish(self) -> int:
        self.proc.wait(timeout=300)
        self.reader.join(timeout=10)
        return self.proc.returncode


@pytest.mark.slow
def test_builds_killed_at_random_points_never_lose_the_index(tmp_path, embedder):
    """SIGKILL `qa index build` at seeded random moments (>= 20 times): the last complete index always
    loads; a stale one says `qa index build`; the corpus is untouched; the next build cleans up.

    Kill points: a random delay after a random stage the build reports (loading the corpus, embedding,
    writing the index and swapping the manifest), and every fourth one anywhere from process start.
    """
    rng = random.Random(20261123)
    home = make_home(tmp_path)
    _docs_corpus(home, 50, rng)
    s = settings_for(home)
    build_index(s, embedder)
    outcomes: dict[str, int] = {}
    previous = read_manifest(s.index_dir).generation
    for i in range(KILLS):
        # change the corpus so every build has work; every other build re-embeds everything
        (home / "corpus" / f"doc_{i:03}.txt").write_text(
            f"Report {i} revised\n\nRevision {i}: "
            + " ".join(rng.sample((home / "corpus" / "doc_049.txt").read_text().split(), 20))
            + "\n",
            encoding="utf-8",
        )
        before = corpus_hashes(s.corpus_dir)
        build = _Build(s, force=i % 2 == 0)
        if i % 4 == 3:  # anywhere from process start: imports, model loading, ...
            time.sleep(rng.uniform(0, 4))
        else:
            stage = rng.choice(_Build.STAGES)
            build.wait_for(stage)
            time.sleep(
                rng.uniform(0, {b"loading corpus": 0.4, b"embedding": 1.5, b"indexing": 1.5}[stage])
            )
        build.proc.send_signal(signal.SIGKILL)
        code = build.finish()
        assert corpus_hashes(s.corpus_dir) == before, "the build changed the corpus"
        current = read_manifest(s.index_dir).generation
        idx = load_index(s, check_fresh=False)  # the last complete index always loads
        assert len(idx) == idx.manifest.n_chunks
        if current == previous:
            outcome = "killed, previous index kept"
            with pytest.raises(IndexStaleError) as e:
                load_index(s)
            assert "qa index build" in str(e.value)
            r = cli_ask(s)
            assert r.exit_code == 1 and "qa index build" in r.output
        else:
            outcome = "finished before the kill" if code == 0 else "killed after the manifest swap"
            load_index(s)  # the new index is complete and matches the corpus
            r = cli_ask(s)
            assert r.exit_code == 0 and json.loads(r.output)["citations"], r.output
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        previous = current
    print(f"\nkill loop ({KILLS} kills): {outcomes}")
    assert outcomes.get("killed, previous index kept", 0) >= 1
    # the next build completes and leaves one generation, no temporary files
    build_index(s, embedder)
    load_index(s)
    entries = {p.name for p in s.index_dir.iterdir()}
    assert entries == {
        "manifest.json",
        read_manifest(s.index_dir).generation,
    }  # no temp file, no lock
    assert sorted(corpus_hashes(s.corpus_dir)) == [f"doc_{i:03}.txt" for i in range(50)]


@pytest.mark.slow
def test_build_killed_midway_leaves_previous_index(tmp_path, embedder):
    """SIGKILL a real `qa index build` while it embeds: the old index still loads, nothing half-written wins."""
    home = make_home(tmp_path, copy_corpus=True)
    s = settings_for(home)
    build_index(s, embedder)
    before = read_manifest(s.index_dir)
    # make the next build long: many new documents
    rng = np.random.default_rng(7)
    words = " ".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir())).split()
    for i in range(400):
        body = " ".join(rng.choice(words, 300))
        (home / "corpus" / f"bulk_{i:03}.txt").write_text(f"Bulk {i}\n{body}", encoding="utf-8")
    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(s.corpus_dir),
        "QA_INDEX_DIR": str(s.index_dir),
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "index", "build"],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # wait until the build is embedding (its progress bar shows), then kill it
        deadline = time.monotonic() + 120
        seen = b""
        while b"embedding" not in seen and time.monotonic() < deadline:
            seen += os.read(proc.stdout.fileno(), 4096)
        assert b"embedding" in seen, seen.decode(errors="replace")
        time.sleep(1.0)
        assert proc.poll() is None, "build finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    after = read_manifest(s.index_dir)
    assert after.generation == before.generation
    idx = load_index(s, check_fresh=False)
    assert len(idx) == before.n_chunks
    with pytest.raises(IndexStaleError):
        load_index(s)
    # the next build completes and cleans up the dead build's leftovers
    build_index(s, embedder)
    entries = {p.name for p in s.index_dir.iterdir()}
    assert entries == {"manifest.json", read_manifest(s.index_dir).generation}
