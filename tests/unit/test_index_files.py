"""qa.index.files: the platform-neutral helpers (lock, positional reads, atomic write)."""

from __future__ import annotations

import threading
import time

import pytest

from qa.errors import IndexWriteError
from qa.index.files import PositionalReader, atomic_write, build_lock


def test_atomic_write_replaces_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "manifest.json"
    atomic_write(target, "old")
    atomic_write(target, "new " * 1000)
    assert target.read_text() == "new " * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_atomic_write_that_fails_keeps_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "manifest.json"
    atomic_write(target, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "bad \udc80 surrogate")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_build_lock_serializes_and_removes_its_file(tmp_path):
    order: list[str] = []

    def hold(name: str) -> None:
        with build_lock(tmp_path):
            order.append(f"{name} in")
            time.sleep(0.05)
            order.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(order) == 6
    assert all(order[i].endswith("in") and order[i + 1] == order[i][:-2] + "out" for i in (0, 2, 4))
    assert not (tmp_path / ".lock").exists()


def test_build_lock_in_a_folder_that_cannot_exist_is_a_typed_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(IndexWriteError) as e, build_lock(blocker / "index"):
        pass
    assert "index" in str(e.value) and "writable" in str(e.value)


@pytest.mark.parametrize("use_pread", [True, False])
def test_positional_reads_with_and_without_pread(tmp_path, use_pread):
    path = tmp_path / "rows.bin"
    path.write_bytes(bytes(range(256)) * 4)
    reader = PositionalReader(path)
    if not use_pread:  # the path of systems without os.pread (Windows): seek+read under a lock
        reader._lock = threading.Lock()
    results: list[bytes] = []

    def read(offset: int) -> None:
        for _ in range(200):
            results.append(reader.read(8, offset))

    threads = [threading.Thread(target=read, args=(o,)) for o in (0, 100, 500)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = path.read_bytes()
    assert set(results) == {data[0:8], data[100:108], data[500:508]}
    assert reader.read(8, len(data) - 3) == data[-3:]
    reader.close()
