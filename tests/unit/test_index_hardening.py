"""Index hardening (issue 14): leftovers of killed builds (L1), readers during builds (L2), the lock
file (L10). Fake embedder: file mechanics only, no model. The read-only folder (M2, a subprocess) and
the 100-build interleaving are in tests/integration/test_index_concurrency.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.errors import CorpusError, IndexStaleError
from qa.index import build_index, load_index, read_manifest
from qa.index.status import index_status
from tests.conftest import make_home, settings_for

ARTICLE = "Harbour report {i}\n\nThe harbour authority counted {i} ferries in the spring season.\n"


def _home(base: Path, n: int = 3) -> Path:
    return make_home(base, {f"doc{i}.txt": ARTICLE.format(i=i) for i in range(n)})


def _entries(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir()}


# ---------------------------------------------------------------- L1: no temporary file survives


def _plant_leftovers(index_dir: Path) -> set[str]:
    """What killed builds leave: a half-written generation, an unpublished one, a manifest temp file."""
    (index_dir / ".tmp-g-20990101T000000-dead01").mkdir()
    (index_dir / ".tmp-g-20990101T000000-dead01" / "vectors.npy").write_bytes(b"half")
    (index_dir / "g-20990101T000000-dead02").mkdir()
    (index_dir / ".manifest.json.0badc0de.tmp").write_text("{", encoding="utf-8")
    return {
        ".tmp-g-20990101T000000-dead01",
        "g-20990101T000000-dead02",
        ".manifest.json.0badc0de.tmp",
    }


def test_a_build_with_nothing_to_do_still_removes_leftovers(tmp_path, fake_embedder):
    s = settings_for(_home(tmp_path))
    build_index(s, fake_embedder)
    planted = _plant_leftovers(s.index_dir)
    assert build_index(s, fake_embedder).unchanged
    assert not planted & _entries(s.index_dir)
    assert _entries(s.index_dir) == {"manifest.json", read_manifest(s.index_dir).generation}


def test_no_temporary_file_survives_any_build(tmp_path, fake_embedder):
    s = settings_for(_home(tmp_path))
    for step in range(4):
        if step:
            (s.corpus_dir / f"doc{step}.txt").write_text(
                ARTICLE.format(i=step * 7), encoding="utf-8"
            )
        _plant_leftovers(s.index_dir) if step == 2 else None
        build_index(s, fake_embedder, force=step == 3)
        assert _entries(s.index_dir) == {"manifest.json", read_manifest(s.index_dir).generation}
    load_index(s)


# ---------------------------------------------------------------- L10: the lock file


def test_build_without_corpus_leaves_no_lock_file(tmp_path, fake_embedder):
    s = settings_for(make_home(tmp_path))
    with pytest.raises(CorpusError):
        build_index(s, fake_embedder)
    assert not (s.index_dir / ".lock").exists()


def test_cli_build_without_corpus_leaves_no_lock_file(tmp_path, monkeypatch):
    from qa.cli import cli
    from tests.fakes import FakeEmbedder

    monkeypatch.setattr("qa.embed.shared_embedder", lambda settings: FakeEmbedder())
    home = make_home(tmp_path)
    r = CliRunner().invoke(cli, ["index", "build"], env={"QA_HOME": str(home)})
    assert r.exit_code == 1 and "no usable documents" in r.output
    assert not (home / "index" / ".lock").exists()


def test_builds_in_threads_run_one_at_a_time_and_leave_no_lock(tmp_path, fake_embedder):
    s = settings_for(_home(tmp_path))
    errors: list[BaseException] = []

    def build() -> None:
        try:
            build_index(s, fake_embedder, force=True)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _entries(s.index_dir) == {"manifest.json", read_manifest(s.index_dir).generation}
    load_index(s)


# ---------------------------------------------------------------- L2: readers during builds


def interleave_builds_and_reads(home: Path, embedder, builds: int) -> int:
    """`builds` builds (each a new generation, the old one deleted) in a thread while this thread
    loads the index and checks its status; every load succeeds, every status says fresh.
    Returns the number of loads."""
    s = settings_for(home)
    build_index(s, embedder)
    done = threading.Event()
    built: list[int] = []

    def builder() -> None:
        try:
            for _ in range(builds):
                built.append(build_index(s, embedder, force=True).chunks)
        finally:
            done.set()

    thread = threading.Thread(target=builder)
    thread.start()
    loads = 0
    try:
        while not done.is_set() or loads < builds:
            idx = load_index(s)
            assert len(idx) == idx.manifest.n_chunks
            status = index_status(s)
            assert status.state == "fresh", status.message
            loads += 1
    finally:
        thread.join()
    assert len(built) == builds
    return loads


def test_readers_never_see_a_healthy_index_as_damaged_while_builds_run(tmp_path, fake_embedder):
    assert interleave_builds_and_reads(_home(tmp_path, 6), fake_embedder, builds=8) >= 8


def test_a_stale_index_is_still_reported_stale_not_damaged(tmp_path, fake_embedder):
    s = settings_for(_home(tmp_path))
    build_index(s, fake_embedder)
    (s.corpus_dir / "doc0.txt").write_text(ARTICLE.format(i=1234), encoding="utf-8")
    with pytest.raises(IndexStaleError):
        load_index(s)
    assert index_status(s).state == "stale"
