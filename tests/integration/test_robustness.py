"""Bad input never crashes the app: every corpus file is indexed or skipped with a reason, every
question gets an answer or a clear message. Driven through the real CLI (`qa index build`,
`qa index status`, `qa ask`, `qa chat`) on the real model."""

from __future__ import annotations

import json
import os
import unicodedata

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.corpus import read_document
from qa.index import load_index
from tests.conftest import make_home, settings_for

BODY = "The bridge over the Selva river reopened on Monday after four months of repairs. "


def run(home, *args, input=None, env=None):
    """One in-process `qa` command; a crash (anything but a clean exit) fails the test here."""
    result = CliRunner().invoke(
        cli, list(args), input=input, env={"QA_HOME": str(home), **(env or {})}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"qa {' '.join(args)} crashed: {result.exception!r}"
        ) from result.exception
    assert "Traceback" not in result.output
    return result


def status_json(home, env=None) -> dict:
    r = run(home, "index", "status", "--json", env=env)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _by_name(status: dict) -> dict[str, dict]:
    return {d["doc_id"]: d for d in status["documents"]}


@pytest.fixture(scope="module")
def bad_home(tmp_path_factory, embedder):
    """A corpus holding one of every kind of awkward file, built once through the CLI."""
    home = make_home(
        tmp_path_factory.mktemp("bad"),
        {
            "good article.txt": "Bridge reopens\n" + BODY * 6,
            "copy of good article.txt": "Bridge reopens\n" + BODY * 6,  # duplicate content
            "empty.txt": "",
            "blank.md": " \n\n\t \n",
            "notes.pdf": "not really a pdf",
        },
    )
    c = home / "corpus"
    (c / "sub dir").mkdir()
    (c / "sub dir" / "nested.md").write_text(
        "# Rail strike\n\nTrain drivers walked out on Tuesday over pay."
    )
    # unicode names: stored decomposed (NFD, as macOS writes them), listed composed (NFC)
    (c / unicodedata.normalize("NFD", "Café über 報道.txt")).write_text(
        "Harbour news\nThe café by the harbour closed after the storm.", encoding="utf-8"
    )
    (c / "windows.txt").write_bytes(
        "Windows export\r\nFerry timetables change in June.\r\n".encode("utf-16")
    )
    (c / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (c / "late nul.txt").write_bytes(b"Looks like text " * 1000 + b"\x00tail")
    (c / "latin1.txt").write_bytes("Caf\xe9 prices rose in the old town.".encode("latin-1"))
    with open(os.fsencode(c) + b"/bad\xffname.txt", "wb") as f:
        f.write(b"Bad name\nText whose file name is not UTF-8.")
    (c / "line\nbreak.txt").write_text("Control name\nText in a file whose name has a newline.")
    (c / "invoice\u202etxt.exe.txt").write_text(
        "Spoofed name\nA right-to-left override in the name."
    )
    (c / ".hidden draft.txt").write_text("Hidden\nA draft the user hid.")
    (c / ".cache").mkdir()
    (c / ".cache" / "old.txt").write_text("Cached\nA file in a hidden folder.")
    (c / "invisible.txt").write_text("\u200b\ufeff\u200d \n\u2060")
    (c / "separators.txt").write_text(
        "Tram news\nThe tram line\u2028reopened on Friday after the\u2029track was renewed.\n"
    )
    outside = home / "outside.txt"
    outside.write_text("Secret\nThis file lives outside the corpus.")
    (c / "link.txt").symlink_to(outside)
    with open(c / "huge.txt", "wb") as f:  # 50 MB of real text
        line = (BODY * 12 + "\n").encode()
        for _ in range(50 * 2**20 // len(line) + 1):
            f.write(line)
    result = run(home, "index", "build")
    return home, result


def test_bad_corpus_files_are_indexed_or_skipped_with_a_reason(bad_home):
    home, build = bad_home
    assert build.exit_code == 0, build.output
    docs = _by_name(status_json(home))
    indexed = {n for n, d in docs.items() if d["status"] == "indexed"}
    # the duplicate keeps the first name in sorted order
    assert indexed == {
        "copy of good article.txt",
        "sub dir/nested.md",
        "Café über 報道.txt",
        "windows.txt",
        "separators.txt",
    }
    reasons = {n: d["reason"] for n, d in docs.items() if d["status"] == "skipped"}
    expected = {
        "good article.txt": "duplicate of copy of good article.txt",
        "empty.txt": "empty file",
        "blank.md": "empty file",
        "notes.pdf": "not a PDF file",
        "binary.txt": "looks binary",
        "late nul.txt": "looks binary",
        "latin1.txt": "not valid UTF-8",
        "bad\ufffdname.txt": "file name is not valid UTF-8",
        "line?break.txt": "control characters",
        "invoice?txt.exe.txt": "control or invisible format characters",
        ".hidden draft.txt": "hidden file",
        ".cache/": "hidden folder",
        "invisible.txt": "empty file",
        "link.txt": "symbolic link",
        "huge.txt": "too large",
    }
    assert set(reasons) == set(expected)
    for name, why in expected.items():
        assert why in reasons[name], (name, reasons[name])
    # the reasons name a fix, not just a problem
    assert "QA_MAX_FILE_MB" in reasons["huge.txt"] and "50.0 MiB" in reasons["huge.txt"]
    assert "re-save the file as UTF-8" in reasons["latin1.txt"]
    assert "rename" in reasons["bad\ufffdname.txt"]
    # every skipped file is named on the build's output too
    for name in expected:
        assert f"skipped {name}:" in build.output


def test_the_index_of_bad_input_is_complete_and_exact(bad_home):
    home, _ = bad_home
    s = settings_for(home)
    idx = load_index(s)  # fresh: nothing stale, new or half-built
    assert sorted({c.doc_id for c in idx.chunks}) == sorted(idx.documents)
    for c in idx.chunks:  # offsets point at the decoded text, also for NFD names and UTF-16 files
        assert read_document(s.corpus_dir, c.doc_id).text[c.start : c.end] == c.text
    assert not any("Secret" in c.text for c in idx.chunks)
    text = run(home, "index", "status").output
    assert "skipped  huge.txt" in text and "the index is stale" not in text


def test_unicode_and_utf16_documents_answer_with_exact_citations(bad_home):
    home, _ = bad_home
    for question, source in [
        ("What happened to the café by the harbour?", "Café über 報道.txt"),
        ("When do ferry timetables change?", "windows.txt"),
    ]:
        r = run(home, "ask", "--json", "--mode", "dense", question)
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["citations"][0]["source"] == source
        c = out["citations"][0]
        assert read_document(home / "corpus", source).text[c["start"] : c["end"]] == c["text"]


def test_json_output_escapes_line_and_paragraph_separators(bad_home):
    """U+2028/U+2029 in a quoted sentence: one JSON object must stay one line for line-based readers."""
    home, _ = bad_home
    r = run(home, "ask", "--json", "--source", "separators.txt", "When did the tram line reopen?")
    assert r.exit_code == 0, r.output
    assert "\u2028" not in r.output and "\u2029" not in r.output
    assert len(r.output.splitlines()) == 1  # str.splitlines breaks at U+2028 too
    out = json.loads(r.output)
    quoted = "".join(c["text"] for c in out["citations"])
    assert "\u2028" in quoted or "\u2029" in quoted  # the characters themselves survive, escaped


def test_size_limit_is_a_setting(bad_home):
    home, _ = bad_home
    docs = _by_name(status_json(home, env={"QA_MAX_FILE_MB": "60"}))
    assert docs["huge.txt"]["status"] == "new"  # would be indexed with the raised limit
    r = run(home, "index", "status", env={"QA_MAX_FILE_MB": "zero"})
    assert r.exit_code == 1 and "QA_MAX_FILE_MB" in r.output


def test_empty_or_missing_corpus_is_a_clear_error(tmp_path):
    home = make_home(tmp_path)
    r = run(home, "index", "build")
    assert r.exit_code == 1
    assert "no usable documents" in r.output and ".txt or .md" in r.output
    (home / "corpus" / "empty.txt").write_text("")
    r = run(home, "index", "build")
    assert r.exit_code == 1 and "empty.txt: empty file" in r.output
    assert not (home / "index" / "manifest.json").exists()
    assert "run `qa index build`" in run(home, "index", "status").output
    r = run(tmp_path / "nowhere", "index", "build")
    assert r.exit_code == 1 and "no usable documents" in r.output


def test_emptying_the_corpus_keeps_the_previous_index(tmp_path, embedder):
    home = make_home(tmp_path, {"a.txt": "Alpha\n" + BODY * 3})
    assert run(home, "index", "build").exit_code == 0
    (home / "corpus" / "a.txt").unlink()
    r = run(home, "index", "build")
    assert r.exit_code == 1 and "no usable documents" in r.output
    assert len(load_index(settings_for(home), check_fresh=False)) >= 1
    out = run(home, "index", "status").output
    assert "removed  a.txt" in out and "qa index build" in out


BAD_QUESTIONS = {
    "empty": "",
    "whitespace": " \t\n  ",
    "100k characters": "where is the bridge? " * 5000,
    "control characters": "bridge\x00\x1b[31m\x07 repairs\x7f?",
    "only invisible": "\u200b\u202e\x00",
    "emoji": "🌉 when did the bridge 🌉 reopen? 🙂",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)> bridge",
    "sql": "'; DROP TABLE chunks; -- bridge OR 1=1",
    "lone surrogate": "bridge \udcff reopened",
    "right-to-left": "متى أعيد فتح الجسر؟",
}


@pytest.mark.parametrize("kind", list(BAD_QUESTIONS))
def test_bad_questions_get_an_answer_or_a_clear_message(bad_home, kind):
    home, _ = bad_home
    r = run(home, "ask", "--json", BAD_QUESTIONS[kind])
    if r.exit_code == 1:
        assert r.output.startswith("error: ") and "type a question" in r.output
        assert kind in ("empty", "whitespace", "only invisible")
        return
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert isinstance(out["answer"], str) and out["answer"]
    assert out["abstained"] == (out["citations"] == [])
    for c in out["citations"]:
        assert read_document(home / "corpus", c["source"]).text[c["start"] : c["end"]] == c["text"]


def test_chat_survives_bad_lines_and_bad_bytes(bad_home):
    home, _ = bad_home
    lines = [q.replace("\n", " ").encode("utf-8", "surrogatepass") for q in BAD_QUESTIONS.values()]
    stdin = (
        b"\n".join([b"\xff\xfe\x00 not utf-8 \xc3", *lines, b"When did the bridge reopen?"]) + b"\n"
    )
    r = run(home, "chat", "--json", input=stdin)
    assert r.exit_code == 0, r.output
    objs = [json.loads(line) for line in r.output.splitlines()]
    assert len(objs) >= len(BAD_QUESTIONS) - 2  # blank lines are skipped
    for o in objs:
        assert ("error" in o and "type a question" in o["error"]) or isinstance(
            o.get("answer"), str
        )
    assert (
        objs[-1]["citations"] and objs[-1]["citations"][0]["source"] == "copy of good article.txt"
    )


@pytest.mark.parametrize("kind", list(BAD_QUESTIONS))
def test_ui_handler_answers_bad_questions_or_says_why(real_settings, engine, kind):
    """The browser's handler (`ChatSession.ask`, what the page's Ask button calls): an answer or a
    clear message in the chat, never an exception, never the question's markup unescaped."""
    from qa.web.render import UNEXPECTED
    from qa.web.session import ChatSession

    session = ChatSession(engine, real_settings)
    user = session.question(BAD_QUESTIONS[kind])
    reply, _ = session.ask(BAD_QUESTIONS[kind])
    html = user + reply
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "Traceback" not in html and UNEXPECTED not in html
    if "qa-error" in reply:
        if kind == "100k characters":  # refused at the edge, with the limit
            assert "the limit is 2,000" in reply
        else:
            assert "type a question" in reply
            assert kind in ("empty", "whitespace", "only invisible")
    else:
        assert "qa-answer" in reply
