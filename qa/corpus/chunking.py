"""Cut documents into chunks that remember exactly where they came from.

Invariant, tested on every chunk: `document.text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from qa.corpus.documents import Chunk, Document

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ": ", ", ", " ", ""]


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


def _char_windows(text: str, a: int, b: int, size: int, overlap: int) -> list[Span]:
    """What `_merge` makes of text[a:b] cut into single characters, computed without the cut.

    Windows of `size` characters, each starting max(size - overlap, 1) after the previous, the last
    one ending at `b`. A 5 MB line with no separator (base64) would otherwise become 5 million
    one-character spans: ~1 GB and 6 s (README "Reliability"); this is ~10k spans.
    """
    step = max(size - overlap, 1)
    out: list[Span] = []
    s = a
    while True:
        end = s + size
        out.append(_strip_span(text, s, min(end, b)))
        if end >= b:
            break
        s += step
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
    if not sep:
        return _char_windows(text, a, b, size, overlap)
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
