"""`qa add URL...` against a real local HTTP server (real sockets, real pages), never the internet."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa.corpus import load_corpus
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "news_in"


def _pages() -> dict[str, tuple[int, str, bytes]]:
    wildfire = (FIXTURES / "river_post_wildfire.html").read_bytes()  # names its own URL (og:url)
    bridge = (FIXTURES / "coastal_herald_bridge.html").read_bytes()
    bridge = re.sub(rb'<link rel="canonical"[^>]*>', b"", bridge)  # names no URL of its own
    return {
        "/2025/wildfire": (200, "text/html; charset=utf-8", wildfire),
        "/news/bridge.html": (200, "text/html", bridge),
        "/missing": (404, "text/html", b"<html><body>Not found</body></html>"),
        "/login": (200, "text/html", (FIXTURES / "empty_page.html").read_bytes()),
        "/report.pdf": (200, "application/pdf", (FIXTURES / "harbour_report.pdf").read_bytes()),
        "/slow": (200, "text/html", wildfire),
        "/feeds/regional": (
            200,
            "application/rss+xml",
            (FIXTURES / "regional_feed.rss").read_bytes(),
        ),
    }


class Handler(http.server.BaseHTTPRequestHandler):
    pages: dict = {}
    hits: list = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        if self.path == "/slow":
            time.sleep(4)
        status, kind, body = self.pages.get(self.path, (404, "text/html", b"no"))
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    Handler.pages = _pages()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def qa(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)  # fmt: skip


def test_add_saves_pages_with_their_url_and_names_each_failure(server, tmp_path):
    (tmp_path / "corpus").mkdir()
    urls = [
        f"{server}{p}"
        for p in (
            "/2025/wildfire",
            "/news/bridge.html",
            "/missing",
            "/login",
            "/report.pdf",
            "/slow",
        )
    ]
    closed = "http://127.0.0.1:9/nothing-listens-here"
    r = qa(
        tmp_path,
        "add",
        "--allow-private",
        "--timeout",
        "1",
        *urls,
        closed,
        "ftp://example.invalid/x",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    saved = sorted(p.name for p in (tmp_path / "corpus").iterdir())
    port = server.rsplit(":", 1)[1]
    assert saved == [f"127.0.0.1_{port}_2025_wildfire.html", f"127.0.0.1_{port}_news_bridge.html"]
    assert "saved" in r.stdout and "Wildfire near Valdoro contained" in r.stdout
    assert "2 of 8 pages" in r.stdout and "qa index build" in r.stdout
    failures = {
        line.split(" ", 2)[1].rstrip(":"): line
        for line in r.stderr.splitlines()
        if line.startswith("failed ")
    }
    assert set(failures) == set(urls[2:]) | {closed, "ftp://example.invalid/x"}, r.stderr
    assert "HTTP 404" in failures[f"{server}/missing"]
    assert "no article text" in failures[f"{server}/login"]
    assert "not a web page (application/pdf)" in failures[f"{server}/report.pdf"]
    assert "no answer" in failures[f"{server}/slow"] and "no answer" in failures[closed]
    assert "not an http(s) address" in failures["ftp://example.invalid/x"]
    # the html loader reads each page's URL back: its own canonical URL, else the address it came from
    docs, skipped = load_corpus(tmp_path / "corpus")
    assert skipped == []
    urls_back = {d.title: d.meta.get("url") for d in docs}
    assert urls_back == {
        "Wildfire near Valdoro contained, officials say": "https://riverpost.example/2025/02/14/valdoro-wildfire-contained",
        "Harbour bridge reopens after repairs": f"{server}/news/bridge.html",
    }
    for d in docs:
        assert d.meta["date_source"] == "page" and d.meta["outlet"]
    # adding the same page again writes nothing new
    again = qa(tmp_path, "add", "--allow-private", f"{server}/news/bridge.html")
    assert again.returncode == 0 and "already saved" in again.stdout
    assert len(list((tmp_path / "corpus").iterdir())) == 2


def test_private_addresses_are_refused_unless_allowed(server, tmp_path):
    before = len(Handler.hits)
    r = qa(tmp_path, "add", "--timeout", "2", f"{server}/2025/wildfire")
    assert r.returncode == 1
    assert "--allow-private" in r.stderr
    assert len(Handler.hits) == before  # no request reached the server
    assert not (tmp_path / "corpus").exists() or not list((tmp_path / "corpus").iterdir())


def test_a_feed_url_is_saved_as_a_feed(server, tmp_path):
    r = qa(tmp_path, "add", "--allow-private", f"{server}/feeds/regional")
    assert r.returncode == 0, r.stderr
    port = server.rsplit(":", 1)[1]
    assert [p.name for p in (tmp_path / "corpus").iterdir()] == [
        f"127.0.0.1_{port}_feeds_regional.rss"
    ]
    docs, skipped = load_corpus(tmp_path / "corpus")
    assert [d.meta["outlet"] for d in docs] == ["Northern Gazette - Regional News"] * 2
    assert [s.reason for s in skipped] == ["entry has no text (neither content nor summary)"]
