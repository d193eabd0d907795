"""Index hardening that takes longer than a unit test: a read-only index folder (M2, in a process
without write permission) and 100 builds interleaved with loads and status checks (L2).
Fake embedder: no model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.index import build_index
from tests.conftest import ROOT, settings_for
from tests.unit.test_index_hardening import ARTICLE, _home, interleave_builds_and_reads


def test_readers_never_see_a_healthy_index_as_damaged_during_100_builds(tmp_path, fake_embedder):
    assert interleave_builds_and_reads(_home(tmp_path, 6), fake_embedder, builds=100) >= 100


# ---------------------------------------------------------------- M2: read-only index folder

_AS_USER = """
import json, sys
from pathlib import Path
from qa.config import Settings
from qa.errors import QAError
from qa.index import build_index, load_index
from tests.fakes import FakeEmbedder

class Counting(FakeEmbedder):
    calls = 0
    def encode_with_spans(self, texts, spans):
        Counting.calls += len(texts)
        return super().encode_with_spans(texts, spans)

results = []
for home in map(Path, sys.argv[1:]):
    s = Settings(corpus_dir=home / "corpus", index_dir=home / "index")
    out = {}
    Counting.calls = 0
    try:
        report = build_index(s, Counting())
        out["build"] = {"unchanged": report.unchanged}
    except QAError as exc:
        out["build"] = {"error": type(exc).__name__, "message": str(exc)}
    out["embedded"] = Counting.calls
    try:
        out["loaded"] = len(load_index(s, check_fresh=False))
    except QAError as exc:
        out["loaded"] = type(exc).__name__
    results.append(out)
print(json.dumps(results))
"""


def _run_unprivileged(*homes: Path) -> list[dict]:
    """The script above in a process that cannot write index/. Permissions do not stop root, so
    as root the process runs without the capabilities that bypass them (setpriv, util-linux)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root: needs `setpriv` (util-linux) to drop CAP_DAC_OVERRIDE")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", _AS_USER, *map(str, homes)],
        capture_output=True, text=True, timeout=120, cwd=homes[0], env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _chmod_tree(root: Path, read_only: bool) -> None:
    for p in [root, *root.rglob("*")]:
        os.chmod(
            p, (0o555 if read_only else 0o755) if p.is_dir() else (0o444 if read_only else 0o644)
        )


def test_read_only_index_folder(tmp_path, fake_embedder):
    """A build that would write into a read-only index folder fails before any embedding, with a
    typed error naming the folder; one with nothing to do succeeds; the index serves either way."""
    if not hasattr(os, "geteuid"):
        pytest.skip("read-only folders are POSIX permissions")
    homes = [_home(tmp_path / "changed"), _home(tmp_path / "same")]
    for home in homes:
        build_index(settings_for(home), fake_embedder)
    (homes[0] / "corpus" / "new.txt").write_text(ARTICLE.format(i=99), encoding="utf-8")
    for home in homes:
        _chmod_tree(home / "index", read_only=True)
    try:
        changed, same = _run_unprivileged(*homes)
    finally:
        for home in homes:
            _chmod_tree(home / "index", read_only=False)
    assert changed["build"]["error"] == "IndexWriteError", changed
    message = changed["build"]["message"]
    assert str(homes[0] / "index") in message and "not writable" in message
    assert changed["embedded"] == 0  # refused before any model work
    assert changed["loaded"] == 3  # the existing index still serves
    assert same == {"build": {"unchanged": True}, "embedded": 0, "loaded": 3}
