"""`qa.index.status.index_status`: the one freshness and health check (CLI, UI and load_index)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from qa.index import build_index, load_index, read_manifest
from qa.index.status import index_status
from tests.conftest import make_home, settings_for

DOCS = {
    "alpha.txt": "Alpha report\n\nThe alpha unit moved north along the river before dawn.\n",
    "beta.md": "# Beta notes\n\nBeta engineers rebuilt the bridge in eleven days.\n",
    "gamma.txt": "Gamma bulletin\n\nGamma traders reported a poor harvest this autumn.\n",
}


@pytest.fixture()
def built(tmp_path, fake_embedder):
    s = settings_for(make_home(tmp_path, DOCS))
    build_index(s, fake_embedder)
    return s


def _cli(s, *args):
    from qa.cli import cli

    env = {"QA_CORPUS_DIR": str(s.corpus_dir), "QA_INDEX_DIR": str(s.index_dir)}
    r = CliRunner().invoke(cli, list(args), env=env)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def test_fresh_index_lists_every_document_with_its_chunks(built):
    st = index_status(built)
    assert st.state == "fresh" and st.fresh and st.hint == ""
    assert {d.doc_id: d.status for d in st.documents} == dict.fromkeys(DOCS, "indexed")
    assert st.n_chunks == sum(d.chunks for d in st.documents) > 0
    assert st.built_at.startswith("20") and st.index_type == "FlatIP"
    d = st.to_dict()
    assert d["state"] == "fresh" and len(d["documents"]) == 3 and json.dumps(d)


def test_unchanged_corpus_is_checked_without_reading_any_document(built, monkeypatch):
    """Sizes and mtimes match the manifest: no document is read or hashed."""

    def forbidden(*a, **k):
        raise AssertionError("the corpus was read")

    monkeypatch.setattr("qa.corpus.load_corpus", forbidden)
    assert index_status(built).state == "fresh"
    load_index(built)


def test_touched_but_unchanged_file_stays_fresh_and_a_build_records_its_mtime(
    built, fake_embedder, monkeypatch
):
    path = built.corpus_dir / "alpha.txt"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert index_status(built).state == "fresh"  # hashed: same content
    report = build_index(built, fake_embedder)
    assert report.unchanged and report.embedded == 0
    entry = read_manifest(built.index_dir).documents["alpha.txt"]
    assert entry["mtime_ns"] == path.stat().st_mtime_ns and entry["bytes"] == st.st_size
    monkeypatch.setattr(
        "qa.corpus.load_corpus", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    assert index_status(built).state == "fresh"  # fast path again


def test_changed_added_removed_documents_make_it_stale(built):
    (built.corpus_dir / "alpha.txt").write_text(
        DOCS["alpha.txt"].replace("north", "south"), encoding="utf-8"
    )
    (built.corpus_dir / "beta.md").unlink()
    (built.corpus_dir / "delta.txt").write_text(
        "Delta\n\nA new office opened downtown.\n", encoding="utf-8"
    )
    (built.corpus_dir / "empty.txt").write_text("", encoding="utf-8")
    st = index_status(built)
    assert st.state == "stale" and "qa index build" in st.hint
    by = {d.doc_id: d.status for d in st.documents}
    assert by == {"alpha.txt": "stale", "beta.md": "removed", "gamma.txt": "indexed",
                  "delta.txt": "new", "empty.txt": "skipped"}  # fmt: skip
    assert [s["name"] for s in st.skipped] == ["empty.txt"]
    assert "alpha.txt (stale)" in st.message


def test_same_size_edit_is_seen(built):
    """A change that keeps the size still moves the mtime, so it is hashed and found."""
    path = built.corpus_dir / "gamma.txt"
    text = path.read_text(encoding="utf-8")
    st = path.stat()
    path.write_text(text.replace("poor", "good"), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000))
    assert index_status(built).state == "stale"


def test_missing_and_mismatch(tmp_path, built):
    s = settings_for(make_home(tmp_path / "other", DOCS))
    st = index_status(s)
    assert st.state == "missing" and "qa index build" in st.hint
    assert {d.status for d in st.documents} == {"new"}
    st = index_status(built.with_(model_name="another/model"))
    assert st.state == "mismatch" and "another model" in st.hint


def test_damaged_index_is_damaged_for_status_load_and_cli(built):
    gen = built.index_dir / read_manifest(built.index_dir).generation
    vectors = gen / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0x5A  # same size: only the checksum can tell
    vectors.write_bytes(bytes(data))
    st = index_status(built)
    assert st.state == "damaged" and "vectors.npy" in st.message and "qa index build" in st.hint
    assert index_status(built, verify=False).state == "fresh"  # only the manifest was read
    text = _cli(built, "index", "status")
    assert "the index cannot be used" in text.output and "vectors.npy" in text.output
    out = json.loads(_cli(built, "index", "status", "--json").output)
    assert out["state"] == "damaged" and out["fresh"] is False


def test_cli_status_matches_index_status(built):
    out = json.loads(_cli(built, "index", "status", "--json").output)
    st = index_status(built)
    assert out["state"] == st.state == "fresh" and out["n_chunks"] == st.n_chunks
    assert [d["doc_id"] for d in out["documents"]] == [d.doc_id for d in st.documents]
    text = _cli(built, "index", "status").output
    assert all(f"indexed  {name}" in text for name in DOCS)


FRONT_MATTER = """---
title: Harbour works
date: 2024-05-01
outlet: Example Courier
author: Jane Roe
---
The harbour works finished two weeks ahead of the plan, the port authority said.
"""


def test_document_metadata_reaches_the_manifest_and_the_status(tmp_path, fake_embedder):
    """Each document's metadata (here from Markdown front matter) is stored in its manifest entry
    and shown in its status."""
    s = settings_for(make_home(tmp_path, {**DOCS, "harbour.md": FRONT_MATTER}))
    build_index(s, fake_embedder)
    meta = read_manifest(s.index_dir).documents["harbour.md"]["meta"]
    assert meta["published"] == "2024-05-01" and meta["outlet"] == "Example Courier"
    assert meta["author"] == "Jane Roe"
    by = {d.doc_id: d for d in index_status(s).documents}
    assert by["harbour.md"].meta == meta
    assert by["alpha.txt"].meta == read_manifest(s.index_dir).documents["alpha.txt"]["meta"]


STORY = (
    "The city council approved the new tram line on Monday after a long debate about its cost, "
    "and construction of the first section along the river is planned to start next spring."
)


def test_a_syndicated_copy_names_its_original_in_the_manifest_and_status(tmp_path, fake_embedder):
    files = {
        "courier.md": "---\ntitle: Tram line approved\ndate: 2024-03-01\n---\n" + STORY + "\n",
        "gazette.md": "---\ntitle: Council backs tram\ndate: 2024-03-02\n---\n"
        + STORY
        + " Related: buses.\n",
        **DOCS,
    }
    s = settings_for(make_home(tmp_path, files))
    build_index(s, fake_embedder)
    docs = read_manifest(s.index_dir).documents
    assert docs["gazette.md"]["same_story_as"] == "courier.md"  # the earlier publication
    assert "same_story_as" not in docs["courier.md"] and "same_story_as" not in docs["alpha.txt"]
    by = {d.doc_id: d for d in index_status(s).documents}
    assert by["gazette.md"].meta["same_story_as"] == "courier.md"
