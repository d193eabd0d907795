"""The HTTP API over real HTTP against the real app: the `qa ask --json` object, conversations,
status, clear 4xx for bad input, concurrent calls, and serving a read-only index (M2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from tests.conftest import make_home
from tests.e2e.appserver import AppProcess, child_env

requests = pytest.importorskip("requests")

TROOPS = "How many troops were deployed?"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    proc = AppProcess(make_home(tmp_path_factory.mktemp("api"), copy_corpus=True))
    yield proc
    proc.stop()


def cli(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=home, env=child_env(home),
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def post(app, route: str, **kw) -> requests.Response:
    return requests.post(app.url + route, timeout=120, **kw)


@pytest.mark.slow
def test_ask_returns_exactly_the_cli_json_object(app):
    r = post(app, "/api/ask", json={"question": TROOPS})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    out = cli(app.home, "ask", "--json", TROOPS)
    assert out.returncode == 0, out.stderr
    assert r.json() == json.loads(out.stdout)
    assert r.json()["citations"] and not r.json()["abstained"]
    # options: k, mode, sources
    one = r.json()["citations"][0]["source"]
    r = post(app, "/api/ask", json={"question": TROOPS, "k": 3, "mode": "bm25", "sources": [one]})
    assert r.status_code == 200 and {c["source"] for c in r.json()["citations"]} == {one}


@pytest.mark.slow
def test_chat_keeps_the_conversation_by_id(app):
    first = post(app, "/api/chat", json={"question": "Who is Ryu Seong-hyeon?"}).json()
    cid = first["conversation_id"]
    assert first["turn"] == 0 and first["citations"]
    second = post(
        app, "/api/chat", json={"conversation_id": cid, "question": "When did he escape?"}
    )
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["conversation_id"] == cid and body["turn"] == 1
    assert "Ryu" in body["resolved_question"] and "2019" in body["answer"]
    other = post(app, "/api/chat", json={"question": "When did he escape?"}).json()
    assert other["conversation_id"] != cid and other["turn"] == 0  # a new conversation
    gone = post(app, "/api/chat", json={"conversation_id": "nope", "question": "Why?"})
    assert gone.status_code == 404 and "conversation" in gone.json()["error"]


@pytest.mark.slow
def test_status_is_the_index_status(app):
    r = requests.get(app.url + "/api/status", timeout=60)
    assert r.status_code == 200
    st = r.json()
    assert st["state"] == "fresh" and st["n_chunks"] > 4 and len(st["documents"]) == 4


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw, code, words",
    [
        ({"data": b'{"question": "troops?"'}, 400, "not valid JSON"),
        ({"data": b"question=troops"}, 400, "not valid JSON"),
        ({"json": {}}, 422, "question"),
        ({"json": {"question": 7}}, 422, "question"),
        ({"json": {"question": "x" * 2001}}, 413, "2,001 characters; the limit is 2,000"),
        ({"json": {"question": "   "}}, 422, "the question is empty"),
        ({"json": {"question": "troops?", "k": 0}}, 422, "k"),
        ({"json": {"question": "troops?", "mode": "magic"}}, 422, "mode"),
        ({"json": {"question": "troops?", "extra": 1}}, 422, "extra"),
        ({"json": ["troops?"]}, 422, "body"),
    ],
)
def test_bad_input_gets_a_clear_4xx(app, kw, code, words):
    headers = {"content-type": "application/json"}
    r = post(app, "/api/ask", headers=headers, **kw)
    assert r.status_code == code, r.text
    assert words in r.json()["error"], r.json()


@pytest.mark.slow
def test_concurrent_calls_get_the_single_answer(app):
    questions = [TROOPS, "Who is Ryu Seong-hyeon?", "What is the price of bananas in Ecuador?"]
    single = {q: post(app, "/api/ask", json={"question": q}).json() for q in questions}
    bad: list = []

    def client(n: int) -> None:
        with requests.Session() as s:
            for i in range(6):
                q = questions[(n + i) % len(questions)]
                r = s.post(app.url + "/api/ask", json={"question": q}, timeout=120)
                if r.status_code != 200 or r.json() != single[q]:
                    bad.append((q, r.status_code))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


@pytest.mark.slow
def test_no_cache_gets_the_answer_computed_again_and_it_is_the_same(app):
    """The cached answer (sent from the event loop) is the computed one, byte for byte as JSON."""
    q = "Why do North Korean soldiers choose suicide over capture?"
    first = post(app, "/api/ask", json={"question": q})
    cached = post(app, "/api/ask", json={"question": q})
    fresh = post(app, "/api/ask", json={"question": q}, headers={"cache-control": "no-cache"})
    assert first.status_code == cached.status_code == fresh.status_code == 200
    assert first.content == cached.content == fresh.content
    assert fresh.json()["citations"]


def _freeze(folder) -> str | None:
    """Make `folder` unwritable for this process: chmod for a normal user, chattr +i for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return "chmod"
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)]).returncode == 0:
        return "chattr"
    return None


def _thaw(folder, how: str | None) -> None:
    if how == "chmod":
        folder.chmod(0o755)
    elif how == "chattr":
        subprocess.run(["chattr", "-i", str(folder)], check=False)


@pytest.mark.slow
def test_a_read_only_index_is_served_and_the_log_says_why_it_was_not_rebuilt(tmp_path):
    """M2: with index/ not writable, the app serves the index it has instead of exiting 1."""
    home = make_home(tmp_path, copy_corpus=True)
    built = cli(home, "index", "build")
    assert built.returncode == 0, built.stderr
    how = _freeze(home / "index")
    if how is None:
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        proc = AppProcess(home)
        try:
            log = proc.log_text()
            assert f"the index folder {home / 'index'} is not writable" in log, log
            assert "serving the existing index (fresh)" in log
            r = post(proc, "/api/ask", json={"question": TROOPS})
            assert r.status_code == 200 and r.json()["citations"]
        finally:
            proc.stop()
    finally:
        _thaw(home / "index", how)


@pytest.mark.slow
def test_cli_api_and_page_report_the_same_state_for_a_damaged_index(tmp_path):
    """One status check: `qa index status --json`, /api/status and the page's status line agree."""
    from qa.web.load import ui_call

    home = make_home(tmp_path, copy_corpus=True)
    proc = AppProcess(home)
    try:
        assert requests.get(proc.url + "/api/status", timeout=60).json()["state"] == "fresh"
        gen = max((p for p in (home / "index").iterdir() if p.is_dir() and p.name.startswith("g-")),
                  key=lambda p: p.stat().st_mtime)  # fmt: skip
        victim = max((p for p in gen.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        with victim.open("r+b") as f:
            f.truncate(victim.stat().st_size // 2)
        out = cli(home, "index", "status", "--json")
        cli_state = json.loads(out.stdout)["state"]
        api_state = requests.get(proc.url + "/api/status", timeout=60).json()["state"]
        status_html, _ = ui_call(proc.url, "refresh", [])
        assert cli_state == api_state == "damaged", (cli_state, api_state)
        assert 'data-state="damaged"' in status_html and ">damaged<" in status_html
    finally:
        proc.stop()
