"""Sentence spans: what an answer may quote.

Computed once per chunk when the index is built (the store keeps the spans and their vectors), so a
question never waits for sentence splitting or sentence embedding. Lines first (news paragraphs and
titles), then pysbd within a line.
"""

from __future__ import annotations

import re
import threading

from qa.corpus import Chunk

MIN_WORDS = 4  # shorter lines ("- News", "article picture") are never quoted
_TERMINATORS = frozenset(".!?…。！？;:")
_LINE_END = re.compile(r"[.!?]?\s*$")
_WORD_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")  # "Korea's", "don't": never a boundary
_QUOTES = frozenset("\"'“”‘’«»`")  # pysbd reads other quote marks as possible boundaries ("-' A")
SENTENCE_RULES = (
    2  # bump when this module changes which spans are quotable: the index redoes cached spans
)
_local = threading.local()
# Page furniture and link lists: never an answer, whatever the topic (patterns of web page layout only).
_FURNITURE = re.compile(
    r"^\s*(?:related(?:\s+(?:articles?|stories|coverage|content|reading))?\s*:|read\s+(?:more|also|next)\b|"
    r"see\s+also\b|also\s+read\b|more\s+(?:from|on)\b.*:|advertisement\b|sponsored\b|sign\s+up\b|"
    r"subscribe\b|share\s+(?:this|on)\b|follow\s+us\b|click\s+here\b|watch\s*:|listen\s*:|"
    r"(?:photo|image|picture|video)\s*(?:credit)?\s*:|copyright\b|©)"
    r"|\b\d+\s*(?:-\s*)?min(?:ute)?s?\s+read\b|\barticle\s+(?:picture|image|photo)\b|https?://|www\.",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"\s(?:\||•|·|»)\s")


def _segmenter():
    """One pysbd Segmenter per thread (it keeps state while segmenting; building one costs ~1 ms)."""
    seg = getattr(_local, "segmenter", None)
    if seg is None:
        import pysbd

        seg = _local.segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return seg


def _strip(line: str, a: int, b: int) -> tuple[int, int]:
    while a < b and line[a].isspace():
        a += 1
    while b > a and line[b - 1].isspace():
        b -= 1
    return a, b


def _one_sentence(line: str) -> bool:
    """True when pysbd cannot split the line: no sentence punctuation or quote mark (apostrophes
    inside words aside) before one optional final '.', '!' or '?' (checked against pysbd by a
    property test). Skipping pysbd there makes building a
    million one-sentence chunks take seconds instead of minutes."""
    body = _WORD_APOSTROPHE.sub("", line[: _LINE_END.search(line).start()])
    return any(c.isalnum() for c in body) and not any(
        c in _TERMINATORS or c in _QUOTES for c in body
    )


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`.

    Ordered, non-overlapping and lossless: words pysbd drops (it can, around ". . .") become a span.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        if _one_sentence(line):
            a, b = _strip(line, 0, len(line))
            spans.append((pos + a, pos + b))
        else:
            spans.extend((pos + a, pos + b) for a, b in _pysbd_line(line))
        pos += len(line) + 1
    return spans


def _pysbd_line(line: str) -> list[tuple[int, int]]:
    """Sentence spans of one line by pysbd, made ordered, non-overlapping and lossless."""
    cursor = 0
    found: list[tuple[int, int]] = []
    if line.strip():
        for span in _segmenter().segment(line):
            sent = span.sent
            # pysbd's spans can overlap or step back (e.g. around ". . ."): never before the cursor
            if span.start >= cursor and line[span.start : span.end] == sent:
                a = span.start
            else:
                a = line.find(sent.strip(), cursor) if sent.strip() else -1
                sent = sent.strip()
            if a < 0:
                continue
            cursor = a + len(sent)
            found.append(_strip(line, a, cursor))
    spans: list[tuple[int, int]] = []
    last = 0
    for a, b in [*found, (len(line), len(line))]:
        if any(ch.isalnum() for ch in line[last:a]):  # text pysbd left out
            spans.append(_strip(line, last, a))
        if b > a:
            spans.append((a, b))
        last = max(last, b)
    return spans


def is_furniture(text: str) -> bool:
    """Page furniture ("1 min read", "article picture", "Related: ..."), a link or headline list
    ("A | B | C"), or a headline-style line (no closing punctuation, mostly Capitalised Words)."""
    if _FURNITURE.search(text) or len(_SEPARATORS.findall(text)) >= 2:
        return True
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    if text.rstrip()[-1:] in ".!?\"'”’)" or len(words) < 4:
        return False
    capitalised = sum(w[0].isupper() for w in words)
    return capitalised >= 0.6 * len(words)


def quotable_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """Spans (offsets in `chunk.text`) an answer may quote: long enough, and not the document's title
    line (the citation shows the title anyway, and a headline is not a finding)."""
    out = []
    for a, b in split_sentences(chunk.text):
        text = chunk.text[a:b]
        if len(text.split()) < MIN_WORDS or is_furniture(text):
            continue
        if (
            text == chunk.title
            and not chunk.text[:a].strip()
            and chunk.start + a < len(chunk.title) + 2
        ):
            continue
        out.append((a, b))
    return out
