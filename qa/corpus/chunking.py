"""Load documents and cut them into chunks that remember exactly where they came from.

Invariant, tested on every chunk: `document.text[chunk.start:chunk.end] == chunk.text`.
Loaders are registered by file suffix so new formats plug in without touching the rest.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import CorpusError

# Larger files are skipped with a reason, never half-read. A news article is 5-50 KB; 5 MiB is a
# 1,000-page book (~11k chunks, a minute or more of embedding on 2 cores). Bigger files are nearly
# always logs or dumps, and a 50 MB one would hold the build for an hour. QA_MAX_FILE_MB raises it.
MAX_FILE_BYTES = 5 * 2**20
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ": ", ", ", " ", ""]


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str  # file name relative to the corpus folder, e.g. "000_1b968beef730d8b4.txt"
    title: str
    text: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Skipped:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str


Loader = Callable[[bytes, str], tuple[str, str]]  # (raw bytes, file name) -> (title, text)
LOADERS: dict[str, Loader] = {}


def register_loader(*suffixes: str) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        for s in suffixes:
            LOADERS[s.lower()] = fn
        return fn

    return deco


def decode_text(raw: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16; refuse binary and other encodings."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM (Windows "Unicode" text)
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise CorpusError(f"{name}: damaged UTF-16 text", "re-save the file as UTF-8") from None
        if "\x00" in text:
            raise CorpusError(
                f"{name}: looks binary (contains NUL characters)", "remove it or convert it to text"
            )
    elif b"\x00" in raw:
        raise CorpusError(
            f"{name}: looks binary (contains NUL bytes)", "remove it or convert it to text"
        )
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"{name}: not valid UTF-8 (byte {exc.start})", "re-save the file as UTF-8"
            ) from None
    # One newline convention, so offsets mean the same thing in every viewer.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def first_line_title(text: str, fallback: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return fallback


@register_loader(".txt", ".md", ".markdown")
def load_plain(raw: bytes, name: str) -> tuple[str, str]:
    text = decode_text(raw, name)
    return first_line_title(text, Path(name).stem), text


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every file entry below the corpus folder (symlinks too), hidden ones excluded, in a stable order."""
    if not corpus_dir.is_dir():
        return []
    out = []
    for p in sorted(corpus_dir.rglob("*")):
        rel = p.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_symlink() or p.is_file():
            out.append(p)
    return out


def _name_problem(raw_name: str) -> tuple[str, str | None]:
    """(printable name, reason the name is unusable or None)."""
    try:
        raw_name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the name (surrogate-escaped by Python)
        shown = raw_name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return shown, "file name is not valid UTF-8: rename the file"
    if any(unicodedata.category(ch) == "Cc" for ch in raw_name):
        shown = "".join("?" if unicodedata.category(ch) == "Cc" else ch for ch in raw_name)
        return shown, "file name contains control characters: rename the file"
    return unicodedata.normalize("NFC", raw_name), None


def load_corpus(
    corpus_dir: Path, max_bytes: int = MAX_FILE_BYTES
) -> tuple[list[Document], list[Skipped]]:
    """Load every supported file; anything unusable is returned in `skipped` with its reason and fix.

    Document ids are NFC-normalised relative paths, so a name typed on any system finds its file.
    """
    docs: list[Document] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    names: set[str] = set()
    for path in corpus_files(corpus_dir):
        name, problem = _name_problem(path.relative_to(corpus_dir).as_posix())
        if problem:
            skipped.append(Skipped(name, problem))
            continue
        if name in names:
            skipped.append(
                Skipped(name, "another file has the same name in another Unicode form: rename one")
            )
            continue
        names.add(name)
        if path.is_symlink():
            skipped.append(
                Skipped(name, "symbolic link, not followed: copy the file into the corpus instead")
            )
            continue
        loader = LOADERS.get(path.suffix.lower())
        if loader is None:
            kinds = ", ".join(sorted(LOADERS))
            skipped.append(
                Skipped(name, f"unsupported file type {path.suffix or '(none)'!r} (reads {kinds})")
            )
            continue
        try:
            size = path.stat().st_size
            if size > max_bytes:
                skipped.append(
                    Skipped(
                        name,
                        f"too large ({size / 2**20:.1f} MiB, limit {max_bytes / 2**20:g} MiB): "
                        "split it, or raise QA_MAX_FILE_MB to index it (embedding takes minutes per MiB)",
                    )
                )
                continue
            raw = path.read_bytes()
            title, text = loader(raw, name)
        except CorpusError as exc:
            reason = exc.message.split(": ", 1)[-1]
            skipped.append(Skipped(name, f"{reason}: {exc.hint}" if exc.hint else reason))
            continue
        except OSError as exc:
            skipped.append(
                Skipped(name, f"cannot read ({exc.strerror or exc}): check its permissions")
            )
            continue
        if not text.strip():
            skipped.append(Skipped(name, "empty file"))
            continue
        digest = sha256_text(text)
        if digest in seen:
            skipped.append(Skipped(name, f"duplicate of {seen[digest]}"))
            continue
        seen[digest] = name
        docs.append(Document(doc_id=name, title=title, text=text, sha256=digest))
    return docs, skipped


def _find_file(root: Path, doc_id: str) -> Path | None:
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


def read_document(corpus_dir: Path, doc_id: str) -> Document:
    """One document by id, refusing anything that resolves outside the corpus folder (or via a symlink)."""
    root = corpus_dir.resolve()
    if not isinstance(doc_id, str) or not doc_id or "\x00" in doc_id:
        raise CorpusError(
            f"{doc_id!r} is not a document name", "ask for a document listed by `qa index status`"
        )
    path = (root / doc_id).resolve()
    if root != path and root not in path.parents:
        raise CorpusError(
            f"{doc_id!r} is outside the corpus", "ask for a document listed by `qa index status`"
        )
    rel = path.relative_to(root).as_posix() if path != root else ""
    if any(part.startswith(".") for part in rel.split("/")):
        raise CorpusError(
            f"no document {doc_id!r} in the corpus", "run `qa index status` to list documents"
        )
    found = _find_file(root, rel) if rel else None
    if found is None:
        raise CorpusError(
            f"no document {doc_id!r} in the corpus", "run `qa index status` to list documents"
        )
    loader = LOADERS.get(found.suffix.lower())
    if loader is None:
        raise CorpusError(f"{doc_id!r} is not a supported document")
    title, text = loader(found.read_bytes(), doc_id)
    return Document(doc_id=doc_id, title=title, text=text, sha256=sha256_text(text))


def _splitter(chunk_size: int, chunk_overlap: int):
    """The reference splitter; `chunk_text` reproduces its output with exact offsets (property-tested)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )


Span = tuple[int, int]


def _strip_span(text: str, a: int, b: int) -> Span:
    while a < b and text[a].isspace():  # str.isspace per character == what str.strip() removes
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _separator_splits(text: str, a: int, b: int, sep: str) -> list[Span]:
    """text[a:b] cut after every occurrence of `sep` (kept at the end of its piece); "" cuts characters."""
    if not sep:
        return [(i, i + 1) for i in range(a, b)]
    out: list[Span] = []
    start, pos = a, text.find(sep, a, b)
    while pos != -1:
        out.append((start, pos + len(sep)))
        start = pos + len(sep)
        pos = text.find(sep, start, b)
    out.append((start, b))
    return [(x, y) for x, y in out if y > x]


def _merge(text: str, splits: list[Span], size: int, overlap: int) -> list[Span]:
    """Greedy merge of adjacent splits into chunks of at most `size`, carrying up to `overlap` back."""
    out: list[Span] = []
    current: deque[Span] = deque()
    total = 0
    for a, b in splits:
        n = b - a
        if total + n > size and current:
            out.append(_strip_span(text, current[0][0], current[-1][1]))
            while total > overlap or (total + n > size and total > 0):
                x, y = current.popleft()
                total -= y - x
        current.append((a, b))
        total += n
    if current:
        out.append(_strip_span(text, current[0][0], current[-1][1]))
    return [(x, y) for x, y in out if y > x]


def _split(text: str, a: int, b: int, separators: list[str], size: int, overlap: int) -> list[Span]:
    sep, rest = separators[-1], []
    for i, s in enumerate(separators):
        if not s:
            sep = s
            break
        if text.find(s, a, b) != -1:
            sep, rest = s, separators[i + 1 :]
            break
    chunks: list[Span] = []
    good: list[Span] = []
    for x, y in _separator_splits(text, a, b, sep):
        if y - x < size:
            good.append((x, y))
            continue
        if good:
            chunks.extend(_merge(text, good, size, overlap))
            good = []
        chunks.extend(_split(text, x, y, rest, size, overlap) if rest else [(x, y)])
    if good:
        chunks.extend(_merge(text, good, size, overlap))
    return chunks


def chunk_text(text: str, chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """(start, end) spans of the chunks of `text`, best boundaries first (paragraph, line, sentence...).

    The same chunks as langchain's RecursiveCharacterTextSplitter (keep_separator="end", stripped),
    but computed as spans, so offsets are exact even in repetitive text where searching for a
    chunk's text could land on an earlier copy.
    """
    if chunk_size < 1 or not 0 <= chunk_overlap <= chunk_size:
        raise ValueError(f"bad chunking: size {chunk_size}, overlap {chunk_overlap}")
    return [
        (x, y)
        for x, y in _split(text, 0, len(text), SEPARATORS, chunk_size, chunk_overlap)
        if text[x:y].strip()
    ]


def chunk_documents(
    docs: Iterable[Document], chunk_size: int, chunk_overlap: int, first_id: int = 0
) -> list[Chunk]:
    chunks: list[Chunk] = []
    cid = first_id
    for doc in docs:
        for start, end in chunk_text(doc.text, chunk_size, chunk_overlap):
            chunks.append(Chunk(cid, doc.doc_id, doc.title, start, end, doc.text[start:end]))
            cid += 1
    return chunks
