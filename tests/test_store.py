"""The index on disk: manifest, staleness, mismatch detection, atomic builds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexStaleError
from qa.index import FORMAT_VERSION, build_index, load_index, read_manifest
from qa.index.status import corpus_status
from tests.conftest import ROOT, make_home, settings_for


def test_manifest_describes_the_build(real_settings):
    m = json.loads((real_settings.index_dir / "manifest.json").read_text())
    assert m["format_version"] == FORMAT_VERSION
    assert m["model"] == {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "dim": 384,
        "normalized": True,
    }
    assert m["chunking"]["chunk_size"] == real_settings.chunk_size
    assert m["chunking"]["chunk_overlap"] == real_settings.chunk_overlap
    assert sorted(m["documents"]) == sorted(p.name for p in real_settings.corpus_dir.iterdir())
    for doc_id, meta in m["documents"].items():
        import hashlib

        text = (real_settings.corpus_dir / doc_id).read_text(encoding="utf-8")
        assert meta["sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert meta["chunks"] >= 1
    assert m["n_chunks"] == sum(d["chunks"] for d in m["documents"].values())
    assert m["built_at"].startswith("20")
    gen = real_settings.index_dir / m["generation"]
    assert {"chunks.jsonl", "vectors.npy", "faiss.index"} <= set(m["files"])
    assert all((gen / f).stat().st_size == meta["bytes"] for f, meta in m["files"].items())
    # plain files, no pickle
    assert not list(real_settings.index_dir.rglob("*.pkl")) and not list(
        real_settings.index_dir.rglob("*.pickle")
    )


def test_loaded_index_is_consistent(real_settings):
    idx = load_index(real_settings)
    assert len(idx) == idx.manifest.n_chunks == idx.faiss.ntotal
    norms = np.linalg.norm(np.asarray(idx.vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
    for c in idx.chunks:
        text = (real_settings.corpus_dir / c.doc_id).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.text


def test_dense_search_matches_brute_force(real_settings, embedder):
    idx = load_index(real_settings)
    q = embedder.encode(["North Korean soldiers ordered to commit suicide"])[0]
    got = [cid for cid, _ in idx.dense_search(q, 10)]
    brute = np.argsort(-(np.asarray(idx.vectors) @ q), kind="stable")[:10].tolist()
    assert got == brute


def test_missing_index_names_the_fix(tmp_path):
    s = settings_for(make_home(tmp_path, {"a.txt": "A\nbody"}))
    with pytest.raises(IndexMissingError) as e:
        load_index(s)
    assert "qa index build" in str(e.value)


def test_staleness_is_detected_per_document(fresh_home, embedder):
    s = settings_for(fresh_home)
    build_index(s, embedder)
    corpus = s.corpus_dir
    docs = sorted(p.name for p in corpus.iterdir())
    (corpus / docs[0]).write_text(
        (corpus / docs[0]).read_text() + "\nAn added line.\n", encoding="utf-8"
    )
    (corpus / docs[1]).unlink()
    (corpus / "new.txt").write_text("New article\nSomething new.", encoding="utf-8")
    status = {d.doc_id: d.status for d in corpus_status(s, read_manifest(s.index_dir))}
    assert status == {
        docs[0]: "stale",
        docs[1]: "removed",
        docs[2]: "indexed",
        docs[3]: "indexed",
        "new.txt": "new",
    }
    with pytest.raises(IndexStaleError) as e:
        load_index(s)
    assert "qa index build" in str(e.value)
    report = build_index(s, embedder)
    assert report.documents == 4
    assert {d.status for d in corpus_status(s, read_manifest(s.index_dir))} == {"indexed"}
    load_index(s)


@pytest.mark.parametrize(
    "field,value,error",
    [
        ("model", {"name": "another/model", "dim": 384, "normalized": True}, IndexMismatchError),
        ("format_version", FORMAT_VERSION + 1, IndexMismatchError),
        ("chunking", {"chunk_size": 1}, IndexMismatchError),
        ("n_chunks", 99999, IndexCorruptError),
    ],
)
def test_mismatched_manifest_is_refused(tmp_path, embedder, field, value, error):
    s = settings_for(make_home(tmp_path, {"a.txt": "Title\n" + "Some words here. " * 50}))
    build_index(s, embedder)
    path = s.index_dir / "manifest.json"
    m = json.loads(path.read_text())
    m[field] = value
    path.write_text(json.dumps(m))
    with pytest.raises(error) as e:
        load_index(s)
    assert "qa index build" in str(e.value)
    # and a rebuild repairs it
    build_index(s, embedder)
    load_index(s)


def test_other_model_setting_is_a_mismatch(real_settings):
    with pytest.raises(IndexMismatchError) as e:
        load_index(real_settings.with_(model_name="some/other-model"))
    assert "another model" in str(e.value) and "qa index build" in str(e.value)


@pytest.mark.slow
def test_build_killed_midway_leaves_previous_index(tmp_path, embedder):
    """SIGKILL a real `qa index build` while it embeds: the old index still loads, nothing half-written wins."""
    home = make_home(tmp_path, copy_corpus=True)
    s = settings_for(home)
    build_index(s, embedder)
    before = read_manifest(s.index_dir)
    # make the next build long: many new documents
    rng = np.random.default_rng(7)
    words = (ROOT / "corpus" / "000_1b968beef730d8b4.txt").read_text().split()
    for i in range(400):
        body = " ".join(rng.choice(words, 300))
        (home / "corpus" / f"bulk_{i:03}.txt").write_text(f"Bulk {i}\n{body}", encoding="utf-8")
    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(s.corpus_dir),
        "QA_INDEX_DIR": str(s.index_dir),
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "index", "build"],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # wait until the build is embedding (its progress bar shows), then kill it
        deadline = time.monotonic() + 120
        seen = b""
        while b"embedding" not in seen and time.monotonic() < deadline:
            seen += os.read(proc.stdout.fileno(), 4096)
        assert b"embedding" in seen, seen.decode(errors="replace")
        time.sleep(1.0)
        assert proc.poll() is None, "build finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    after = read_manifest(s.index_dir)
    assert after.generation == before.generation
    idx = load_index(s, check_fresh=False)
    assert len(idx) == before.n_chunks
    with pytest.raises(IndexStaleError):
        load_index(s)
    # the next build completes and cleans up the dead build's leftovers
    build_index(s, embedder)
    assert [p.name for p in s.index_dir.iterdir() if p.is_dir()] == [
        read_manifest(s.index_dir).generation
    ]


@pytest.mark.slow
def test_sentences_are_stored_with_exact_spans_and_their_pooled_vectors(real_settings, embedder):
    """Every quotable sentence of every chunk is in the index, with the vector an answer scores it by:
    the chunk's own forward pass pooled over the sentence (what `encode_with_spans` gives)."""
    from qa.sentences import quotable_spans
    from qa.embed import embed_text

    idx = load_index(real_settings)
    chunks = list(idx.chunks)
    texts = [embed_text(c) for c in chunks]
    shifts = [len(t) - len(c.text) for t, c in zip(texts, chunks, strict=True)]
    spans = [quotable_spans(c) for c in chunks]
    _, pooled = embedder.encode_with_spans(
        texts, [[(a + d, b + d) for a, b in sp] for sp, d in zip(spans, shifts, strict=True)]
    )
    total = 0
    for c, sp, want in zip(chunks, spans, pooled, strict=True):
        got_spans, got_vecs = idx.sentences(c.chunk_id)
        assert got_spans.tolist() == [list(x) for x in sp]
        for a, b in got_spans.tolist():
            text = c.text[a:b]
            assert text == text.strip() and len(text.split()) >= 4
        assert got_vecs.shape == (len(sp), 384)
        np.testing.assert_allclose(got_vecs, want, atol=2e-3)  # stored as float16
        np.testing.assert_allclose(np.linalg.norm(got_vecs, axis=1), 1.0, atol=2e-3)
        total += len(sp)
    assert total == idx.sentence_table.spans.shape[0] > 2 * len(chunks)


@pytest.mark.slow
def test_a_sentence_vector_is_its_passage_read_in_context(real_settings, embedder):
    """Pooled, not embedded alone: close to the stand-alone vector, and closer to its own passage."""
    idx = load_index(real_settings)
    c = idx.chunks[1]
    spans, vecs = idx.sentences(1)
    alone = embedder.encode([c.text[a:b] for a, b in spans.tolist()])
    own = np.asarray(idx.vectors[1])
    cos_alone = np.sum(vecs * alone, axis=1)
    assert np.all(cos_alone > 0.5), cos_alone
    assert np.mean(vecs @ own) > np.mean(alone @ own)
