"""Loading and chunking: every chunk's offsets point at exactly its text."""

from __future__ import annotations

import pytest

from qa.corpus import chunk_documents, chunk_text, load_corpus, read_document
from qa.errors import CorpusError
from tests.conftest import CORPUS, make_home

SEEDS = [
    "000_1b968beef730d8b4.txt",
    "001_e4cce470ff14cd12.txt",
    "002_00793e7f8cbc5f38.txt",
    "003_56f3c575adb43a3c.txt",
]


def test_corpus_holds_the_four_seed_articles():
    docs, skipped = load_corpus(CORPUS)
    assert [d.doc_id for d in docs] == SEEDS
    assert skipped == []
    seeds = CORPUS.parent.parent / "shared" / "seeds"
    if seeds.is_dir():  # same bytes as the seeds
        for d in SEEDS:
            assert (CORPUS / d).read_bytes() == (seeds / d).read_bytes()


def test_title_is_first_non_empty_line():
    docs, _ = load_corpus(CORPUS)
    assert (
        docs[0].title
        == "Captured North Korean troops in Ukraine face deadly orders to protect regime secrets"
    )
    for d in docs:
        assert d.title == d.text.strip().split("\n", 1)[0].strip()


@pytest.mark.parametrize("size,overlap", [(600, 100), (200, 40), (1000, 0), (80, 20)])
def test_every_real_chunk_points_at_its_source_text(size, overlap):
    docs, _ = load_corpus(CORPUS)
    chunks = chunk_documents(docs, size, overlap)
    by_id = {d.doc_id: d for d in docs}
    assert len(chunks) >= len(docs)
    for c in chunks:
        assert by_id[c.doc_id].text[c.start : c.end] == c.text
        assert c.text.strip() == c.text and c.text
        assert len(c.text) <= size
    # chunks are numbered densely and cover each document from start to end
    assert [c.chunk_id for c in chunks] == list(range(len(chunks)))
    for d in docs:
        mine = [c for c in chunks if c.doc_id == d.doc_id]
        assert mine[0].start == len(d.text) - len(d.text.lstrip())
        assert mine[-1].end == len(d.text.rstrip())
        covered = set()
        for c in mine:
            covered.update(range(c.start, c.end))
        gaps = [
            i
            for i in range(mine[0].start, mine[-1].end)
            if i not in covered and not d.text[i].isspace()
        ]
        assert gaps == []


def test_chunks_prefer_sentence_boundaries():
    text = "First sentence here. " * 30 + "\n\n" + "Second paragraph sentence. " * 30
    spans = chunk_text(text, 200, 30)
    for s, e in spans:
        assert text[s:e].endswith(".") or e == len(text.rstrip())


@pytest.mark.parametrize(
    "name,content,title",
    [
        ("a.md", "# Markdown title\n\nBody text.", "Markdown title"),
        ("b.txt", "\n\n  Leading blank lines\nbody", "Leading blank lines"),
        ("c d é.txt", "Unicode name\nbody", "Unicode name"),
    ],
)
def test_loaders_and_titles(tmp_path, name, content, title):
    home = make_home(tmp_path, {name: content})
    docs, skipped = load_corpus(home / "corpus")
    assert [(d.doc_id, d.title) for d in docs] == [(name, title)]
    assert skipped == []


def test_unusable_files_are_skipped_with_reasons(tmp_path):
    home = make_home(tmp_path, {"good.txt": "Good\ntext", "empty.txt": "", "dup.txt": "Good\ntext"})
    (home / "corpus" / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    (home / "corpus" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (home / "corpus" / "image.png").write_bytes(b"\x89PNG")
    docs, skipped = load_corpus(home / "corpus")
    assert [d.doc_id for d in docs] == ["dup.txt"] or [d.doc_id for d in docs] == ["good.txt"]
    reasons = {s.name: s.reason for s in skipped}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["bin.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "unsupported" in reasons["image.png"]
    assert "duplicate" in (reasons.get("good.txt") or reasons.get("dup.txt"))


def test_read_document_refuses_paths_outside_the_corpus(tmp_path):
    home = make_home(tmp_path, {"a.txt": "A\ntext"})
    (tmp_path / "secret.txt").write_text("secret")
    assert read_document(home / "corpus", "a.txt").text == "A\ntext"
    for bad in ["../secret.txt", "/etc/passwd", "..", "a.txt/../../secret.txt"]:
        with pytest.raises(CorpusError):
            read_document(home / "corpus", bad)
