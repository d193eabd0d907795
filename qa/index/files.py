"""Every file operation the index needs that differs between operating systems, behind one helper each.

Why here: the index must work on Linux, macOS and Windows. Locking goes through `filelock`
(fcntl or msvcrt underneath), positional reads use `os.pread` where it exists and seek+read under
a lock elsewhere, and directory fsync is skipped where the OS cannot open a directory. Nothing
else in `qa.index` calls fcntl, pread or fsync directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from qa.errors import IndexWriteError

LOCK_NAME = ".lock"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable; a no-op where directories cannot be opened (Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def fsync_tree(root: Path) -> None:
    """Every file and folder under `root` on disk before a rename publishes it."""
    dirs = [root]
    for p in sorted(root.rglob("*")):
        if p.is_file():
            fsync_file(p)
        elif p.is_dir():
            dirs.append(p)
    for d in dirs:
        fsync_dir(d)


def atomic_write(path: Path, data: str) -> None:
    """Write `data` to `path` through a temporary file and one `os.replace`: readers see the old
    or the new content, never a part. The temporary file never survives, even on error."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder (a second one waits). The lock file is removed after
    the build while still held, so no `.lock` is left behind (a waiting build then takes a fresh one)."""
    from filelock import FileLock

    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(
            f"cannot create the index folder {index_dir} ({exc.strerror})"
        ) from None
    lock = FileLock(str(index_dir / LOCK_NAME))
    try:
        lock.acquire()
    except OSError as exc:
        raise IndexWriteError(
            f"the index folder {index_dir} is not writable ({exc.strerror})"
        ) from None
    try:
        yield
    finally:
        # Unlinked while still held: a build waiting on this inode sees it unlinked once it gets
        # the lock and retries on a new file (filelock checks st_nlink), so two builds never overlap.
        with contextlib.suppress(OSError):
            (index_dir / LOCK_NAME).unlink()
        lock.release()


class PositionalReader:
    """Reads byte ranges of one file without a shared file position: safe across threads, and still
    valid after a later build unlinked the file (on POSIX; Windows refuses the unlink instead)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._lock = None if hasattr(os, "pread") else threading.Lock()

    def read(self, size: int, offset: int) -> bytes:
        if self._lock is None:
            return os.pread(self._fd, size, offset)
        with self._lock:
            os.lseek(self._fd, offset, os.SEEK_SET)
            return os.read(self._fd, size)

    def close(self) -> None:
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __del__(self) -> None:
        self.close()
