"""Faults: a damaged, deleted or hand-edited index. Fake embedder (no model).

Whatever happens to index/, the app either loads a complete index or says to run `qa index build`;
a rebuild always repairs it (and never reuses damaged vectors). A running app and builds killed at
random points (real model, subprocesses) are in tests/e2e/test_index_kills.py.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.chat import Engine
from qa.cli import cli
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.index import build_index, load_index, read_manifest
from tests.checks import cli_ask
from tests.conftest import make_home, settings_for
from tests.fakes import FakeEmbedder

QUESTION = "How many North Korean troops were deployed?"


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch):
    """`qa ask` in these tests embeds with the fake embedder too."""
    monkeypatch.setattr("qa.chat.shared_embedder", lambda settings: FakeEmbedder())


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The seed articles with a built index and its answer, copied per test before any damage."""
    home = make_home(tmp_path_factory.mktemp("pristine"), copy_corpus=True)
    s = settings_for(home)
    build_index(s, FakeEmbedder())
    answer = Engine(s, FakeEmbedder()).ask(QUESTION).to_dict()
    return s, answer


@pytest.fixture()
def damaged(pristine, tmp_path):
    """A private copy of the index (same corpus) to damage."""
    s, answer = pristine
    shutil.copytree(s.index_dir, tmp_path / "index")
    return s.with_(index_dir=tmp_path / "index"), answer


def _generation_files(s) -> list[str]:
    return sorted(read_manifest(s.index_dir).files)


def test_every_index_file_is_covered_by_the_damage_tests(pristine):
    s, _ = pristine
    files = _generation_files(s)
    assert {"chunks.jsonl", "vectors.npy", "faiss.index"} <= set(files)
    assert any(f.startswith("bm25/") for f in files)


DAMAGE = ["truncate", "flip", "delete", "empty"]


def _damage(path: Path, how: str, rng: random.Random) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":  # same size, one byte changed: only the checksum can tell
        i = rng.randrange(len(data)) if data else 0
        path.write_bytes(data[:i] + bytes([(data[i] ^ 0x5A) if data else 0]) + data[i + 1 :])
    elif how == "delete":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_index_files_are_refused_then_rebuilt(damaged, fake_embedder, how):
    s, answer = damaged
    rng = random.Random(f"{how}")
    gen = s.index_dir / read_manifest(s.index_dir).generation
    for rel in _generation_files(s):
        backup = (gen / rel).read_bytes()
        _damage(gen / rel, how, rng)
        with pytest.raises(IndexCorruptError) as e:
            load_index(s)
        assert "qa index build" in str(e.value), rel
        r = cli_ask(s)
        assert (
            r.exit_code == 1 and r.output.startswith("error: ") and "qa index build" in r.output
        ), (rel, r.output)
        (gen / rel).write_bytes(backup)
    # damage everything at once, then the fix the message names repairs it, with the same answers
    for rel in _generation_files(s):
        _damage(gen / rel, how, rng)
    report = build_index(s, fake_embedder)
    assert not report.unchanged
    assert Engine(s, fake_embedder).ask(QUESTION).to_dict() == answer
    assert [p.name for p in s.index_dir.iterdir() if p.is_dir()] == [
        read_manifest(s.index_dir).generation
    ]


MANIFEST_EDITS = {
    "not json": lambda m: "{not json",
    "empty": lambda m: "",
    "a list": lambda m: "[]",
    "binary": lambda m: "\x00\xff",
    "no generation": lambda m: {k: v for k, v in m.items() if k != "generation"},
    "generation elsewhere": lambda m: {**m, "generation": "../../etc"},
    "generation is a number": lambda m: {**m, "generation": 7},
    "files is a list": lambda m: {**m, "files": []},
    "documents is null": lambda m: {**m, "documents": None},
    "model is text": lambda m: {**m, "model": "minilm"},
    "other model": lambda m: {**m, "model": {**m["model"], "name": "other/model"}},
    "other dims": lambda m: {**m, "model": {**m["model"], "dim": 768}},
    "n_chunks": lambda m: {**m, "n_chunks": m["n_chunks"] + 1},
    "format": lambda m: {**m, "format_version": 999},
    "file size": lambda m: {
        **m,
        "files": {k: {**v, "bytes": v["bytes"] + 1} for k, v in m["files"].items()},
    },
    "file checksum": lambda m: {
        **m,
        "files": {k: {**v, "sha256": "0" * 64} for k, v in m["files"].items()},
    },
}


@pytest.mark.parametrize("edit", list(MANIFEST_EDITS))
def test_hand_edited_manifest_is_a_typed_error_naming_the_fix(damaged, edit):
    s, _ = damaged
    path = s.index_dir / "manifest.json"
    edited = MANIFEST_EDITS[edit](json.loads(path.read_text()))
    path.write_text(
        edited if isinstance(edited, str) else json.dumps(edited),
        encoding="utf-8",
        errors="surrogatepass",
    )
    with pytest.raises((IndexCorruptError, IndexMismatchError, IndexMissingError)) as e:
        load_index(s)
    assert "qa index build" in str(e.value)
    for args in (["ask", QUESTION], ["index", "status"]):
        r = CliRunner().invoke(
            cli, args, env={"QA_CORPUS_DIR": str(s.corpus_dir), "QA_INDEX_DIR": str(s.index_dir)}
        )
        assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
        assert "qa index build" in r.output, (args, r.output)


def test_missing_index_folder_or_generation_before_start(damaged):
    s, _ = damaged
    shutil.rmtree(s.index_dir / read_manifest(s.index_dir).generation)
    with pytest.raises(IndexCorruptError):
        load_index(s)
    shutil.rmtree(s.index_dir)
    with pytest.raises(IndexMissingError):
        load_index(s)
    r = cli_ask(s)
    assert r.exit_code == 1 and "run `qa index build`" in r.output
