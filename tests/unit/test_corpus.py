"""Loading and chunking: every chunk's offsets point at exactly its text."""

from __future__ import annotations

from pathlib import Path

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


def test_hidden_files_and_folders_are_listed_as_skipped(tmp_path):
    home = make_home(tmp_path, {"a.txt": "A\ntext", ".draft.txt": "Hidden\ndraft"})
    (home / "corpus" / ".git").mkdir()
    (home / "corpus" / ".git" / "notes.txt").write_text("Inside\na hidden folder")
    (home / "corpus" / "sub").mkdir()
    (home / "corpus" / "sub" / ".secret.md").write_text("# Hidden\nmarkdown")
    docs, skipped = load_corpus(home / "corpus")
    assert [d.doc_id for d in docs] == ["a.txt"]
    reasons = {s.name: s.reason for s in skipped}
    assert reasons.keys() == {".draft.txt", ".git/", "sub/.secret.md"}  # a hidden folder once
    assert "hidden file" in reasons[".draft.txt"] and "rename it" in reasons[".draft.txt"]
    assert "hidden folder" in reasons[".git/"]


UNREADABLE_PROBE = """
import json, sys
from pathlib import Path
from qa.corpus import load_corpus
docs, skipped = load_corpus(Path(sys.argv[1]))
print(json.dumps([[d.doc_id for d in docs], {s.name: s.reason for s in skipped}]))
"""


def test_an_unreadable_folder_is_listed_as_skipped(tmp_path):
    """A folder without read permission. Root reads every folder, so under root the probe runs in a
    new user namespace (`unshare --user`), where root's permission override does not apply."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    (corpus / "locked").mkdir(parents=True)
    (corpus / "a.txt").write_text("A\ntext")
    (corpus / "locked" / "b.txt").write_text("B\ntext")
    (corpus / "locked").chmod(0o000)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("unshare"):
            pytest.skip("running as root without `unshare`: every folder is readable")
        prefix = ["unshare", "--user"]
    root = str(Path(__file__).resolve().parents[2])
    try:
        out = subprocess.run([*prefix, sys.executable, "-c", UNREADABLE_PROBE, str(corpus)], capture_output=True,
                             text=True, cwd=root, env={**os.environ, "PYTHONPATH": root}, timeout=120)  # fmt: skip
    finally:
        (corpus / "locked").chmod(0o755)
    assert out.returncode == 0, out.stderr
    ids, reasons = json.loads(out.stdout)
    assert ids == ["a.txt"]
    assert reasons == {
        "locked/": "folder cannot be read (Permission denied): check its permissions"
    }


@pytest.mark.parametrize(
    "content",
    ["\u200b\u200b\n", "\ufeff\ufeff \u200d\u2060", "\u2800 \u3164\n\t", "\u202e\u200e\u200f"],
)
def test_a_file_of_only_invisible_characters_is_empty(tmp_path, content):
    home = make_home(tmp_path, {"ghost.txt": content, "real.txt": "Real\ntext"})
    docs, skipped = load_corpus(home / "corpus")
    assert [d.doc_id for d in docs] == ["real.txt"]
    assert [(s.name, s.reason) for s in skipped] == [("ghost.txt", "empty file")]


@pytest.mark.parametrize(
    "name,shown",
    [("evil\u202etxt.exe.txt", "evil?txt.exe.txt"), ("zero\u200bwidth.txt", "zero?width.txt"),
     ("line\u2028sep.txt", "line?sep.txt"), ("bell\x07.txt", "bell?.txt")],
)  # fmt: skip
def test_control_and_format_characters_in_names_are_refused(tmp_path, name, shown):
    home = make_home(tmp_path, {name: "Spoofed\ntext", "ok.txt": "Ok\ntext"})
    docs, skipped = load_corpus(home / "corpus")
    assert [d.doc_id for d in docs] == ["ok.txt"]
    assert [s.name for s in skipped] == [shown]
    assert "rename the file" in skipped[0].reason


def test_joiners_inside_words_and_emoji_are_fine_in_names(tmp_path):
    name = "می\u200cخواهم 👩\u200d👩\u200d👧.txt"  # Persian zero-width non-joiner, a family emoji
    home = make_home(tmp_path, {name: "Title\ntext"})
    docs, skipped = load_corpus(home / "corpus")
    assert [d.doc_id for d in docs] == [name] and skipped == []


def test_a_long_line_without_separators_chunks_in_little_memory():
    """4.9 MB of base64 (no space, no newline): was 5 million one-character spans, ~1 GB."""
    import base64
    import tracemalloc

    text = base64.b64encode(bytes(range(256)) * 14_400).decode()  # 4.9 MB
    tracemalloc.start()
    try:
        spans = chunk_text(text, 600, 100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert spans[0] == (0, 600) and spans[1] == (500, 1100) and spans[-1][1] == len(text)
    assert all(b - a == 600 for a, b in spans[:-1])
