"""The `qa` command, in process, on the real model and a real index."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.cli import cli
from tests.conftest import make_home


def run(settings, *args, input=None):
    res = CliRunner().invoke(
        cli,
        ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), *args],
        input=input,
    )
    return res


def test_ask_json_shape_and_offsets(real_settings):
    res = run(real_settings, "ask", "--json", "how many troops were deployed?")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"question", "answer", "citations"} <= set(out)
    assert out["question"] == "how many troops were deployed?"
    assert out["citations"], out
    cited_sources = set()
    for c in out["citations"]:
        assert set(c) >= {"id", "source", "title", "start", "end", "text", "score"}
        src = (real_settings.corpus_dir / c["source"]).read_text(encoding="utf-8")
        assert src[c["start"] : c["end"]] == c["text"]
        assert f"[{c['id']}]" in out["answer"]
        cited_sources.add(c["source"])
    assert [c["id"] for c in out["citations"]] == list(range(1, len(out["citations"]) + 1))
    # the articles that give deployment figures are cited, with their figures
    text = " ".join(c["text"] for c in out["citations"])
    for figure in ("11,000", "12,000", "10,000"):
        assert figure in text
    assert len(cited_sources) >= 3


def test_ask_unrelated_question_says_so_without_citations(real_settings):
    res = run(real_settings, "ask", "--json", "Who won the football world cup in 1998?")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["citations"] == []
    assert out["abstained"] is True
    assert "does not say" in out["answer"]


def test_ask_text_output_lists_sources(real_settings):
    res = run(real_settings, "ask", "Who is Ryu Seong-hyeon?")
    assert res.exit_code == 0, res.output
    assert "[1]" in res.stdout and "002_00793e7f8cbc5f38.txt" in res.stdout


def test_chat_json_prints_one_object_per_question(real_settings):
    questions = [
        "Who is Ryu Seong-hyeon?",
        "",
        "how many troops were deployed?",
        "What did John Kirby say?",
    ]
    res = run(real_settings, "chat", "--json", input="\n".join(questions) + "\n")
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["question"] for o in lines] == [q for q in questions if q]
    assert all(o["citations"] for o in lines)


def test_index_status_reports_each_document(real_settings):
    res = run(real_settings, "index", "status", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["state"] == "fresh" and out["fresh"] is True and out["n_chunks"] > 0
    assert {d["status"] for d in out["documents"]} == {"indexed"}
    assert len(out["documents"]) == 4


def test_build_then_status_then_stale(tmp_path, embedder):
    home = make_home(
        tmp_path,
        {"a.txt": "Alpha report\nThe alpha unit moved north.", "b.md": "# Beta\nBeta text."},
    )
    from tests.conftest import settings_for

    s = settings_for(home)
    res = run(s, "ask", "where did the alpha unit move?")
    assert res.exit_code == 1 and "qa index build" in res.stderr and "Traceback" not in res.output
    res = run(s, "index", "build")
    assert res.exit_code == 0, res.output
    assert "indexed 2 documents" in res.stdout
    res = run(s, "index", "build")
    assert "up to date" in res.stdout
    (home / "corpus" / "a.txt").write_text(
        "Alpha report\nThe alpha unit moved south.", encoding="utf-8"
    )
    res = run(s, "index", "status")
    assert "stale" in res.stdout and "a.txt" in res.stdout and "qa index build" in res.stdout
    res = run(s, "ask", "where did the alpha unit move?")
    assert res.exit_code == 1 and "corpus changed" in res.stderr
    res = run(s, "index", "build")
    assert "1 embedded" in res.stdout
    res = run(s, "ask", "--json", "where did the alpha unit move?")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["citations"][0]["source"] == "a.txt"


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01"])
def test_empty_questions_get_a_clear_message(real_settings, question):
    res = run(real_settings, "ask", question)
    assert res.exit_code == 1
    assert "empty" in res.stderr and "Traceback" not in res.output


def test_python_dash_m_entry_point(real_settings):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(real_settings.corpus_dir),
        "QA_INDEX_DIR": str(real_settings.index_dir),
    }
    out = subprocess.run(
        [sys.executable, "-m", "qa", "index", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "indexed" in out.stdout
