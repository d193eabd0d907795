"""Property-based tests (hypothesis) of the offsets every citation relies on, on random unicode text:
chunks, documents read from disk, sentences, and sentence citations mapped back into documents."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answer import passage_sentences, split_sentences
from qa.corpus import SEPARATORS, _splitter, chunk_documents, chunk_text, load_corpus, read_document
from qa.retrieve import Hit

# Pieces that stress the splitters: every separator, unicode spaces and line breaks, combining marks,
# astral characters, sentence-like punctuation and abbreviations.
PIECES = [
    *SEPARATORS[:-1],
    "a",
    "b",
    "Z",
    "7",
    " ",
    "\t",
    "\r",
    "\r\n",
    "\u00a0",
    "\u2028",
    "\u3000",
    "\u200b",
    "é",
    "e\u0301",
    "文",
    "🙂",
    "👩‍👩‍👧",
    "\ufeff",
    "Mr. ",
    "U.S. ",
    "3.5 ",
    "...",
    ". . .",
    '"Yes." ',
    "(about 11,000) ",
    "Dr. Kim said. ",
]
TEXTS = st.one_of(
    st.text(max_size=400), st.lists(st.sampled_from(PIECES), max_size=200).map("".join)
)


@settings(max_examples=600, deadline=None)
@given(TEXTS, st.integers(1, 120), st.data())
def test_chunk_offsets_are_exact(text, size, data):
    overlap = data.draw(st.integers(0, size - 1), label="overlap")
    spans = chunk_text(text, size, overlap)
    # the same chunks as the reference splitter, each at its true place
    assert [text[a:b] for a, b in spans] == [
        p for p in _splitter(size, overlap).split_text(text) if p.strip()
    ]
    covered: set[int] = set()
    previous = 0
    for a, b in spans:
        piece = text[a:b]
        assert piece and piece == piece.strip() and b - a <= size
        assert a >= previous  # in order
        previous = a
        covered.update(range(a, b))
    # nothing but whitespace is ever left out of every chunk
    assert all(ch.isspace() for i, ch in enumerate(text) if i not in covered)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, min_size=1, max_size=4), st.integers(20, 200))
def test_documents_on_disk_chunk_back_to_their_text(bodies, size):
    """Through the real loader: newline normalisation, BOMs and decoding keep offsets exact."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        for i, body in enumerate(bodies):
            (corpus / f"d{i}.txt").write_bytes(body.encode("utf-8", "surrogatepass"))
        docs, skipped = load_corpus(corpus)
        assert len(docs) + len(skipped) == len(bodies)
        for s in skipped:
            assert s.reason  # every file is accounted for
        for c in chunk_documents(docs, size, size // 5):
            assert read_document(corpus, c.doc_id).text[c.start : c.end] == c.text


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_sentence_offsets_are_exact_ordered_and_complete(text):
    previous = 0
    covered: set[int] = set()
    for a, b in split_sentences(text):
        sentence = text[a:b]
        assert sentence and sentence == sentence.strip() and "\n" not in sentence
        assert a >= previous  # ordered, never overlapping
        previous = b
        covered.update(range(a, b))
    # every letter and digit is in some sentence (pysbd may drop lone punctuation)
    assert all(i in covered for i, ch in enumerate(text) if ch.isalnum())


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXTS.filter(str.strip), min_size=1, max_size=3), st.integers(40, 300))
def test_sentence_citations_point_into_their_document(bodies, size):
    """What an answer quotes: a sentence of a retrieved chunk, cited by document offsets."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        for i, body in enumerate(bodies):
            (corpus / f"d{i}.txt").write_text(body, encoding="utf-8")
        docs, _ = load_corpus(corpus)
        chunks = chunk_documents(docs, size, size // 4)
        hits = [Hit(c, 1.0, 1.0) for c in chunks]
        texts = {d.doc_id: d.text for d in docs}
        for s in passage_sentences(hits):
            assert texts[s.chunk.doc_id][s.start : s.end] == s.text
            assert s.chunk.start <= s.start < s.end <= s.chunk.end


LINE_ALPHABET = st.sampled_from(
    list("abcdefghij ABC()[]\"'”’“‘«»`-–—,12345\t\u00a0•*#/&%")
    + list(".!?…;:")
    + ["Mr", "U.S", "'s", "n't"]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(LINE_ALPHABET, max_size=30).map("".join))
def test_the_one_sentence_fast_path_agrees_with_pysbd(line):
    """Lines the splitter does not hand to pysbd are exactly the lines pysbd leaves whole."""
    from qa.sentences import _one_sentence, _pysbd_line, _strip

    line = line.replace("\n", " ")
    if _one_sentence(line):
        assert _pysbd_line(line) == [_strip(line, 0, len(line))], line
