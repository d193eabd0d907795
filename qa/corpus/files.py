"""Which files of the corpus folder are candidates, and why the others are not (every one is listed).

Hidden files and folders, unreadable folders and unusable names are reported as `Skipped` with the
fix, never dropped silently: a user must be able to see why a file is not in the answers.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from qa.corpus.documents import Skipped

# Format characters that belong inside real words or emoji sequences (Persian, Hindi, family emoji)
# and are therefore allowed in file names; every other Cc/Cf character (bidi overrides such as
# U+202E, which make "evil\u202etxt.exe" display as "evilexe.txt") and line/paragraph separators are not.
ALLOWED_FORMAT = {"\u200c", "\u200d"}
BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def _bad_char(ch: str) -> bool:
    return unicodedata.category(ch) in BAD_CATEGORIES and ch not in ALLOWED_FORMAT


def name_problem(raw_name: str) -> tuple[str, str | None]:
    """(printable name, reason the name is unusable or None)."""
    try:
        raw_name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the name (surrogate-escaped by Python)
        shown = raw_name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return shown, "file name is not valid UTF-8: rename the file"
    if any(_bad_char(ch) for ch in raw_name):
        shown = "".join("?" if _bad_char(ch) else ch for ch in raw_name)
        kinds = {unicodedata.category(ch) for ch in raw_name if _bad_char(ch)}
        what = "control characters" if kinds <= {"Cc"} else "control or invisible format characters"
        return shown, f"file name contains {what}: rename the file"
    return unicodedata.normalize("NFC", raw_name), None


def _shown(rel: str) -> str:
    return name_problem(rel)[0]


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate file entry below the corpus folder (symlinks too), in a stable order."""
    return scan_corpus(corpus_dir)[0]


def scan_corpus(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """Every file entry below the corpus folder (symlinks too) in a stable order, and what was not read.

    Hidden files and folders (a leading dot) are listed as skipped, a hidden folder once for all its
    files; so are folders that cannot be read. Symbolic links to folders are not followed.
    """
    if not corpus_dir.is_dir():
        return [], []
    files: list[Path] = []
    skipped: list[Skipped] = []

    def on_error(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else corpus_dir
        rel = where.relative_to(corpus_dir).as_posix() if where != corpus_dir else "."
        why = exc.strerror or type(exc).__name__
        skipped.append(
            Skipped(_shown(rel) + "/", f"folder cannot be read ({why}): check its permissions")
        )

    for top, dirs, names in os.walk(corpus_dir, onerror=on_error, followlinks=False):
        base = Path(top)
        rel_top = base.relative_to(corpus_dir)
        for d in sorted(dirs):
            if d.startswith("."):
                skipped.append(
                    Skipped(
                        _shown((rel_top / d).as_posix()) + "/",
                        "hidden folder, not read: rename it without the leading dot to index its files",
                    )
                )
        link_dirs = [d for d in dirs if (base / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in link_dirs)
        files.extend(base / d for d in link_dirs)  # listed (and skipped) as symbolic links
        for n in names:
            if n.startswith("."):
                skipped.append(
                    Skipped(
                        _shown((rel_top / n).as_posix()),
                        "hidden file, not read: rename it without the leading dot to index it",
                    )
                )
            else:
                files.append(base / n)
    files.sort()
    skipped.sort(key=lambda s: s.name)
    return files, skipped


def find_file(root: Path, doc_id: str) -> Path | None:
    """The file whose NFC-normalised relative path is `doc_id` (names on disk may be NFD)."""
    path = root / doc_id
    if path.is_file() and not path.is_symlink():
        return path
    want = unicodedata.normalize("NFC", doc_id)
    for p in corpus_files(root):
        if (
            unicodedata.normalize("NFC", p.relative_to(root).as_posix()) == want
            and not p.is_symlink()
        ):
            return p
    return None
