"""qa.web.session.Documents: the cited documents an answer shows are read once and kept while their
file is unchanged; a changed, replaced or removed file is read again through `read_document`."""

from __future__ import annotations

import os

import pytest

from qa.errors import QAError
from qa.web.session import Documents
from tests.conftest import make_home


def test_a_document_is_kept_until_its_file_changes(tmp_path):
    home = make_home(tmp_path, files={"a.txt": "Bridge\nThe bridge reopened on Tuesday.\n"})
    corpus, docs = home / "corpus", Documents()
    first = docs.read(corpus, "a.txt")
    assert "reopened on Tuesday" in first.text
    assert docs.read(corpus, "a.txt") is first  # kept: not read again

    (corpus / "a.txt").write_text("Bridge\nThe bridge closed again on Friday.\n", encoding="utf-8")
    changed = docs.read(corpus, "a.txt")
    assert "closed again on Friday" in changed.text and changed is not first

    st = os.stat(corpus / "a.txt")  # same size, only the modification time differs
    (corpus / "a.txt").write_text("Bridge\nThe bridge closed again on Sunday.\n", encoding="utf-8")
    os.utime(corpus / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert "on Sunday" in docs.read(corpus, "a.txt").text


def test_a_replaced_or_removed_file_is_refused_as_read_document_refuses_it(tmp_path):
    home = make_home(tmp_path, files={"a.txt": "Bridge\nThe bridge reopened on Tuesday.\n"})
    corpus, docs = home / "corpus", Documents()
    docs.read(corpus, "a.txt")
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\nNot part of the corpus.\n", encoding="utf-8")
    (corpus / "a.txt").unlink()
    (corpus / "a.txt").symlink_to(outside)
    with pytest.raises(QAError):
        docs.read(corpus, "a.txt")
    (corpus / "a.txt").unlink()
    with pytest.raises(QAError):
        docs.read(corpus, "a.txt")
    with pytest.raises(QAError):
        docs.read(corpus, "../secret.txt")


def test_at_most_max_chars_of_text_are_kept(tmp_path):
    files = {
        f"{n}.txt": f"Title {n}\n" + f"Sentence {n} of the corpus. " * 20 + "\n" for n in "abc"
    }
    home = make_home(tmp_path, files=files)
    corpus = home / "corpus"
    size = len(Documents().read(corpus, "a.txt").text)
    docs = Documents(max_chars=2 * size + 10)  # room for two documents
    a = docs.read(corpus, "a.txt")
    b = docs.read(corpus, "b.txt")
    assert docs.read(corpus, "a.txt") is a  # a is now the most recently used
    docs.read(corpus, "c.txt")  # b, the least recently used, is dropped
    assert docs.read(corpus, "a.txt") is a
    assert docs.read(corpus, "b.txt") is not b
    huge = Documents(max_chars=size - 1)  # a document over the cap is never kept
    assert huge.read(corpus, "a.txt") is not huge.read(corpus, "a.txt")
