"""The index on disk: manifest, staleness, mismatch detection, stored sentences. Fake embedder (no
model); the real model's checks are in tests/integration/test_index_real.py, killed builds in
tests/e2e/test_index_kills.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexStaleError
from qa.index import FORMAT_VERSION, build_index, load_index, read_manifest
from qa.index.status import corpus_status
from tests.checks import check_stored_sentences
from tests.conftest import make_home, settings_for
from tests.fakes import FakeEmbedder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture seed articles indexed with the fake embedder (shared, read-only)."""
    s = settings_for(make_home(tmp_path_factory.mktemp("built"), copy_corpus=True))
    build_index(s, FakeEmbedder())
    return s


def test_manifest_describes_the_build(built):
    m = json.loads((built.index_dir / "manifest.json").read_text())
    assert m["format_version"] == FORMAT_VERSION
    assert m["model"] == {
        "name": built.resolved_model_name,
        "dim": FakeEmbedder().dim,
        "normalized": True,
    }
    assert m["chunking"]["chunk_size"] == built.chunk_size
    assert m["chunking"]["chunk_overlap"] == built.chunk_overlap
    assert sorted(m["documents"]) == sorted(p.name for p in built.corpus_dir.iterdir())
    for doc_id, meta in m["documents"].items():
        import hashlib

        text = (built.corpus_dir / doc_id).read_text(encoding="utf-8")
        assert meta["sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert meta["chunks"] >= 1
    assert m["n_chunks"] == sum(d["chunks"] for d in m["documents"].values())
    assert m["built_at"].startswith("20")
    gen = built.index_dir / m["generation"]
    assert {"chunks.jsonl", "vectors.npy", "faiss.index"} <= set(m["files"])
    assert all((gen / f).stat().st_size == meta["bytes"] for f, meta in m["files"].items())
    # plain files, no pickle
    assert not list(built.index_dir.rglob("*.pkl")) and not list(built.index_dir.rglob("*.pickle"))


def test_loaded_index_is_consistent(built):
    idx = load_index(built)
    assert len(idx) == idx.manifest.n_chunks == idx.faiss.ntotal
    norms = np.linalg.norm(np.asarray(idx.vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
    for c in idx.chunks:
        text = (built.corpus_dir / c.doc_id).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.text


def test_dense_search_matches_brute_force(built, fake_embedder):
    idx = load_index(built)
    q = fake_embedder.encode(["North Korean soldiers ordered to commit suicide"])[0]
    got = [cid for cid, _ in idx.dense_search(q, 10)]
    brute = np.argsort(-(np.asarray(idx.vectors) @ q), kind="stable")[:10].tolist()
    assert got == brute


def test_missing_index_names_the_fix(tmp_path):
    s = settings_for(make_home(tmp_path, {"a.txt": "A\nbody"}))
    with pytest.raises(IndexMissingError) as e:
        load_index(s)
    assert "qa index build" in str(e.value)


def test_staleness_is_detected_per_document(fresh_home, fake_embedder):
    s = settings_for(fresh_home)
    build_index(s, fake_embedder)
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
    report = build_index(s, fake_embedder)
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
def test_mismatched_manifest_is_refused(tmp_path, fake_embedder, field, value, error):
    s = settings_for(make_home(tmp_path, {"a.txt": "Title\n" + "Some words here. " * 50}))
    build_index(s, fake_embedder)
    path = s.index_dir / "manifest.json"
    m = json.loads(path.read_text())
    m[field] = value
    path.write_text(json.dumps(m))
    with pytest.raises(error) as e:
        load_index(s)
    assert "qa index build" in str(e.value)
    # and a rebuild repairs it
    build_index(s, fake_embedder)
    load_index(s)


def test_other_model_setting_is_a_mismatch(built):
    with pytest.raises(IndexMismatchError) as e:
        load_index(built.with_(model_name="some/other-model"))
    assert "another model" in str(e.value) and "qa index build" in str(e.value)


def test_sentences_are_stored_with_exact_spans_and_their_pooled_vectors(built, fake_embedder):
    """Stored sentence spans and pooled vectors equal what the embedder gives (tests/checks.py)."""
    check_stored_sentences(built, fake_embedder)
