"""qa.index.manifest: schema validation, format version, cache keys."""

from __future__ import annotations

import json

import pytest

from qa.corpus import Chunk
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.index import FORMAT_VERSION, Manifest, build_index, read_manifest
from qa.index.manifest import chunk_key, write_manifest
from tests.conftest import make_home, settings_for


@pytest.fixture()
def manifest_dir(tmp_path, fake_embedder):
    s = settings_for(make_home(tmp_path, {"a.txt": "A title\n\nSome words about the harbour."}))
    build_index(s, fake_embedder)
    return s.index_dir


def _edit(index_dir, change) -> None:
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(change(data)), encoding="utf-8")


def test_round_trip(manifest_dir):
    m = read_manifest(manifest_dir)
    assert isinstance(m, Manifest) and m.format_version == FORMAT_VERSION
    write_manifest(manifest_dir, m)
    assert read_manifest(manifest_dir) == m
    entry = m.documents["a.txt"]
    assert {"sha256", "title", "chunks", "bytes", "mtime_ns", "meta"} <= set(entry)
    assert m.extra["corpus"]["files"]["a.txt"][0] == entry["bytes"]


BAD = {
    "documents entry without hash": lambda m: {**m, "documents": {"a.txt": {"chunks": 1}}},
    "mtime is text": lambda m: {**m, "documents": {k: {**v, "mtime_ns": "x"} for k, v in m["documents"].items()}},
    "meta is a list": lambda m: {**m, "documents": {k: {**v, "meta": []} for k, v in m["documents"].items()}},
    "n_chunks is a bool": lambda m: {**m, "n_chunks": True},
    "files sha is a number": lambda m: {**m, "files": {k: {**v, "sha256": 1} for k, v in m["files"].items()}},
    "extra is a list": lambda m: {**m, "extra": []},
    "built_at is null": lambda m: {**m, "built_at": None},
    "no files": lambda m: {k: v for k, v in m.items() if k != "files"},
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD))
def test_wrong_types_are_damage_with_the_fix(manifest_dir, name):
    _edit(manifest_dir, BAD[name])
    with pytest.raises(IndexCorruptError) as e:
        read_manifest(manifest_dir)
    assert "qa index build" in str(e.value)


def test_other_format_is_a_mismatch_and_no_manifest_is_missing(manifest_dir, tmp_path):
    _edit(manifest_dir, lambda m: {**m, "format_version": FORMAT_VERSION - 1})
    with pytest.raises(IndexMismatchError):
        read_manifest(manifest_dir)
    with pytest.raises(IndexMissingError):
        read_manifest(tmp_path / "nowhere")


def test_chunk_key_tracks_what_the_vectors_and_sentences_depend_on(monkeypatch):
    c = Chunk(0, "a.txt", "Title", 40, 80, "Some text of the chunk.")
    key = chunk_key("model-a", c)
    assert key == chunk_key(
        "model-a", Chunk(5, "b.txt", "Title", 40, 80, "Some text of the chunk.")
    )
    assert key != chunk_key("model-b", c)
    assert key != chunk_key("model-a", Chunk(0, "a.txt", "Other", 40, 80, c.text))
    monkeypatch.setattr("qa.index.manifest.SENTENCE_RULES", 999)
    assert key != chunk_key("model-a", c)  # new sentence rules: cached spans are redone
