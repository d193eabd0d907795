"""`qa index build --ray` on a real local Ray cluster (num_cpus=2, started here): the index equals a
local build's, a killed worker is retried, a killed driver leaves the previous index, and a bad
address or a cluster without CPUs fails fast with a hint. Skipped when the [ray] extra is missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_home, settings_for

pytest.importorskip("ray.data", reason="the [ray] extra is not installed: pip install -e '.[ray]'")
pytestmark = pytest.mark.slow

EDITIONS = 12  # seed articles re-titled and re-ordered: ~370 chunks, three slices of 128


def _corpus_files() -> dict[str, str]:
    """A few synthetic documents made from the seed articles (own title, rotated paragraphs), so a
    build has several slices to spread over the workers."""
    from tests.conftest import CORPUS

    out = {}
    for p in sorted(CORPUS.iterdir()):
        lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        title, body = lines[0], lines[1:] or lines
        for r in range(EDITIONS):
            k = (r * 3) % len(body)
            out[f"ed{r}_{p.stem}.txt"] = (
                "\n".join([f"{title} (edition {r})", *body[k:], *body[:k]]) + "\n"
            )
    return out


@pytest.fixture(scope="module")
def cluster():
    """A real Ray cluster of this machine with 2 CPUs; this process does not join it."""
    from ray.cluster_utils import Cluster

    c = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 2, "include_dashboard": False},
    )
    yield c
    c.shutdown()


@pytest.fixture(scope="module")
def local_home(tmp_path_factory, embedder):
    """The reference: the same corpus built locally."""
    from qa.index import build_index

    home = make_home(tmp_path_factory.mktemp("local"), _corpus_files(), copy_corpus=True)
    build_index(settings_for(home), embedder)
    return home


def _generation(home: Path) -> Path:
    from qa.index import read_manifest

    return home / "index" / read_manifest(home / "index").generation


def _assert_same_index(a: Path, b: Path) -> None:
    """Every file of the two generations identical; arrays of vectors equal within 1e-6 (float16
    sentence vectors within the rounding of a value that moved by 1e-6)."""
    ga, gb = _generation(a), _generation(b)
    files_a = sorted(p.relative_to(ga).as_posix() for p in ga.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(gb).as_posix() for p in gb.rglob("*") if p.is_file())
    assert files_a == files_b
    differ = []
    for rel in files_a:
        if (ga / rel).read_bytes() == (gb / rel).read_bytes():
            continue
        if rel.endswith(".npy") and "vectors" in rel:
            x, y = np.load(ga / rel), np.load(gb / rel)
            assert x.shape == y.shape and x.dtype == y.dtype, rel
            tol = 1e-6 if x.dtype == np.float32 else float(np.finfo(x.dtype).eps)
            assert np.abs(x.astype(np.float64) - y).max() <= tol, rel
        differ.append(rel)
    # chunk ids, spans, BM25, document codes: byte for byte; only vector files may differ (by <= tol)
    assert all("vectors" in rel or rel.endswith(".index") for rel in differ), differ


def _ray_settings(home: Path, cluster, **kw):
    return settings_for(home, ray_address=cluster.address, **kw)


def test_ray_build_equals_local_build(tmp_path, embedder, cluster, local_home):
    from qa.index import build_index, load_index

    home = make_home(tmp_path, _corpus_files(), copy_corpus=True)
    seen: list[tuple[int, int]] = []
    report = build_index(
        _ray_settings(home, cluster),
        embedder,
        lambda s, d, t: s == "embedding" and seen.append((d, t)),
    )
    assert report.embedded == report.chunks > 2 * 128
    assert (
        seen[-1] == (report.chunks, report.chunks) and len(seen) > 2
    )  # progress as slices came back
    _assert_same_index(local_home, home)
    assert len(load_index(settings_for(home))) == report.chunks
    # Incremental as locally: one new document, only its chunks go to the cluster.
    (home / "corpus" / "new.txt").write_text(
        "A new article\n" + "Officials met on Monday to talk. " * 30 + "\n"
    )
    again = build_index(_ray_settings(home, cluster), embedder)
    assert 0 < again.embedded < 10 and again.reused == report.chunks


def _actor_processes(since: float = 0.0) -> list:
    """The embedding actors' processes (Ray names them after the class), started after `since`."""
    import psutil

    out = []
    for p in psutil.process_iter(["pid", "cmdline", "create_time"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "ChunkEmbedder" in cmd and "ray::" in cmd and p.info["create_time"] >= since:
            out.append(p)
    return out


def test_workers_killed_mid_build_are_retried(tmp_path, embedder, cluster, local_home):
    from qa.index import build_index

    home = make_home(tmp_path, _corpus_files(), copy_corpus=True)
    killed: list[int] = []

    later: set[int] = set()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and killed:
            later.update(p.pid for p in _actor_processes())
        if stage == "embedding" and 0 < done < total and not killed:
            victims = _actor_processes()  # every worker: whichever holds the next slice dies
            assert victims, "no Ray actor process found to kill"
            for v in victims:
                v.send_signal(signal.SIGKILL)
                killed.append(v.pid)

    report = build_index(_ray_settings(home, cluster), embedder, progress)
    assert killed and report.embedded == report.chunks
    assert later - set(killed), "the rest was not embedded by restarted actors"
    _assert_same_index(local_home, home)


def _qa(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", QA_RAY_ADDRESS="")
    return subprocess.Popen([sys.executable, "-m", "qa", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


def test_driver_killed_mid_build_leaves_previous_index(tmp_path, embedder, cluster, local_home):
    import shutil

    from qa.index import load_index, read_manifest

    home = make_home(tmp_path, _corpus_files(), copy_corpus=True)
    shutil.copytree(local_home / "index", home / "index", dirs_exist_ok=True)
    before = read_manifest(home / "index")
    for name, text in _corpus_files().items():  # every document changed: the whole corpus re-embeds
        (home / "corpus" / name).write_text(text.replace("(edition", "(revised edition"))
    started = time.time()
    proc = _qa(
        "--corpus",
        str(home / "corpus"),
        "--index",
        str(home / "index"),
        "index",
        "build",
        "--ray",
        cluster.address,
    )
    deadline = time.monotonic() + 120
    while not _actor_processes(started) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _actor_processes(started) and proc.poll() is None, proc.communicate()
    time.sleep(2.0)  # this build's actors are loading the model or embedding: mid-build
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    after = read_manifest(home / "index")
    assert after.generation == before.generation
    index = load_index(settings_for(home), check_fresh=False)
    assert len(index) == before.n_chunks


def test_plain_app_does_not_import_ray():
    code = "import sys, qa.cli, qa.index.build, qa.chat, qa.web; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_unreachable_address_fails_fast_with_a_hint(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = make_home(tmp_path, {"a.txt": "Title\n" + "Some words about a thing. " * 20})
    t = time.monotonic()
    proc = _qa(
        "--corpus",
        str(home / "corpus"),
        "--index",
        str(home / "index"),
        "index",
        "build",
        "--ray",
        f"127.0.0.1:{port}",
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"cannot reach a Ray cluster at 127.0.0.1:{port}" in err and "--ray" in err
    assert time.monotonic() - t < 60
    assert not (home / "index" / "manifest.json").exists()


def test_cluster_without_cpus_is_a_clear_error(tmp_path):
    from ray.cluster_utils import Cluster

    empty = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 0, "include_dashboard": False},
    )
    try:
        home = make_home(tmp_path, {"a.txt": "Title\n" + "Some words about a thing. " * 20})
        proc = _qa(
            "--corpus",
            str(home / "corpus"),
            "--index",
            str(home / "index"),
            "index",
            "build",
            "--ray",
            empty.address,
        )
        _, err = proc.communicate(timeout=180)
    finally:
        empty.shutdown()
    assert proc.returncode == 1
    assert "has no CPUs" in err and "--num-cpus" in err
