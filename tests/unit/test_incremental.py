"""Incremental builds: the embedding cache is keyed by model + exact text, so a rebuild embeds only
what changed. Fake embedder (no model), the fixture seed articles plus inline documents; counts are asserted, never times."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.corpus import chunk_documents, load_corpus
from qa.embed import embed_text
from qa.index import build_index, load_index, read_manifest
from tests.conftest import make_home, settings_for

EXTRA = {
    "zz_harbour.txt": "Harbour authority expands the northern pier\n\n"
    + "The harbour authority approved a new pier for container ships on Tuesday. " * 12
    + "\n\nConstruction starts in spring and should take two years. " * 6,
}


def _embed_texts(settings) -> list[str]:
    docs, _ = load_corpus(settings.corpus_dir, settings.max_file_bytes)
    return [
        embed_text(c) for c in chunk_documents(docs, settings.chunk_size, settings.chunk_overlap)
    ]


@pytest.fixture()
def built(tmp_path, fake_embedder):
    s = settings_for(make_home(tmp_path, EXTRA, copy_corpus=True))
    first = build_index(s, fake_embedder)
    return s, first


def test_first_build_embeds_everything_and_rebuild_nothing(built, fake_embedder):
    s, first = built
    assert first.embedded == first.chunks == len(_embed_texts(s)) and first.reused == 0
    gen = read_manifest(s.index_dir).generation
    again = build_index(s, fake_embedder)
    assert again.unchanged and again.embedded == 0 and again.reused == first.chunks
    assert read_manifest(s.index_dir).generation == gen  # nothing was rewritten


def test_changed_title_reembeds_exactly_that_documents_chunks(built, fake_embedder):
    s, first = built
    doc = sorted(p for p in s.corpus_dir.iterdir() if p.name != "zz_harbour.txt")[1]
    doc.write_text("Revised: " + doc.read_text(encoding="utf-8"), encoding="utf-8")
    report = build_index(s, fake_embedder)
    # the title is part of every chunk's embedded text, so all of this document's chunks change
    doc_chunks = read_manifest(s.index_dir).documents[doc.name]["chunks"]
    assert report.embedded == doc_chunks >= 1
    assert report.reused == report.chunks - doc_chunks
    assert report.chunks == first.chunks


def test_appended_paragraph_reembeds_only_the_changed_chunks(built, fake_embedder):
    s, first = built
    before = set(_embed_texts(s))
    doc = s.corpus_dir / "zz_harbour.txt"
    doc.write_text(
        doc.read_text(encoding="utf-8") + "\n\nA late amendment moved the opening to autumn.\n",
        encoding="utf-8",
    )
    after = _embed_texts(s)
    new = [t for t in after if t not in before]
    report = build_index(s, fake_embedder)
    doc_chunks = read_manifest(s.index_dir).documents["zz_harbour.txt"]["chunks"]
    assert report.embedded == len(new) >= 1
    assert report.embedded < doc_chunks  # earlier chunks of the same document came from the cache
    assert report.reused == len(after) - len(new)


def test_added_and_removed_documents(built, fake_embedder):
    s, first = built
    (s.corpus_dir / "zz_new.txt").write_text(
        "Rail strike ends after three days\n\nTrain drivers returned to work on Friday after the union "
        "accepted a pay offer of four percent.",
        encoding="utf-8",
    )
    added = build_index(s, fake_embedder)
    new_chunks = read_manifest(s.index_dir).documents["zz_new.txt"]["chunks"]
    assert added.embedded == new_chunks >= 1 and added.chunks == first.chunks + new_chunks

    (s.corpus_dir / "zz_harbour.txt").unlink()
    removed = build_index(s, fake_embedder)
    assert removed.embedded == 0 and not removed.unchanged
    assert "zz_harbour.txt" not in read_manifest(s.index_dir).documents
    idx = load_index(s)
    assert all(c.doc_id != "zz_harbour.txt" for c in idx.chunks)
    q = fake_embedder.encode(["When does the pier construction start?"])[0]
    assert all(idx.chunks[cid].doc_id != "zz_harbour.txt" for cid, _ in idx.dense_search(q, 10))


def test_incremental_index_equals_a_fresh_build(built, fake_embedder, tmp_path):
    s, _ = built
    doc = sorted(s.corpus_dir.iterdir())[0]
    doc.write_text(doc.read_text(encoding="utf-8") + "\nOne more closing line.\n", encoding="utf-8")
    build_index(s, fake_embedder)
    fresh = settings_for(make_home(tmp_path / "fresh"))
    for p in s.corpus_dir.iterdir():
        (fresh.corpus_dir / p.name).write_bytes(p.read_bytes())
    full = build_index(fresh, fake_embedder)
    assert full.embedded == full.chunks
    a, b = load_index(s), load_index(fresh)
    assert [(c.doc_id, c.start, c.end) for c in a.chunks] == [
        (c.doc_id, c.start, c.end) for c in b.chunks
    ]
    assert np.allclose(np.asarray(a.vectors), np.asarray(b.vectors), atol=1e-4)
    # the sentence table too: reused chunks carry their spans and pooled vectors over unchanged
    ta, tb = a.sentence_table, b.sentence_table
    assert np.array_equal(ta.ptr, tb.ptr) and np.array_equal(ta.spans, tb.spans)
    assert np.allclose(
        np.asarray(ta.vectors, dtype=np.float32),
        np.asarray(tb.vectors, dtype=np.float32),
        atol=2e-3,
    )


def test_force_reembeds_everything(built, fake_embedder):
    s, first = built
    forced = build_index(s, fake_embedder, force=True)
    assert forced.embedded == forced.chunks == first.chunks and forced.reused == 0


def test_chunks_are_read_on_demand_and_match_the_jsonl(built, fake_embedder):
    s, _ = built
    idx = load_index(s)
    lines = (idx.root / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(idx.chunks) == len(lines)
    for i in (0, len(lines) // 2, len(lines) - 1, -1):
        c, r = idx.chunks[i], json.loads(lines[i])
        assert (c.doc_id, c.start, c.end, c.text) == (r["doc_id"], r["start"], r["end"], r["text"])
    assert [c.chunk_id for c in idx.chunks[2:5]] == [2, 3, 4]
    with pytest.raises(IndexError):
        idx.chunks[len(lines)]
    # A later build removes this generation's folder; the loaded index keeps reading its chunks.
    (s.corpus_dir / "zz_late.txt").write_text(
        "Late news\n\nThe bridge reopened on Monday.", encoding="utf-8"
    )
    build_index(s, fake_embedder)
    assert not idx.root.exists()
    assert idx.chunks[-1].text == json.loads(lines[-1])["text"]
    mask = idx.mask_for(["zz_harbour.txt"])
    assert mask.sum() == read_manifest(s.index_dir).documents["zz_harbour.txt"]["chunks"]
