"""Security over HTTP against the real app (`python app.py` in a subprocess, 127.0.0.1 only):
no file outside the corpus and the app's own assets is served, no uploads, loopback by default,
and with QA_AUTH every route needs a login."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.ui import ChatSession
from tests.conftest import ROOT, make_home

requests = pytest.importorskip("requests")

CANARY = "CANARY-b41e-never-served"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """`python app.py` on a free 127.0.0.1 port with its own QA_HOME; stopped by its own process group."""

    def __init__(self, home: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"app-{self.port}.log"
        full_env = {
            **os.environ,
            "QA_HOME": str(home),
            "QA_HOST": "127.0.0.1",
            "QA_PORT": str(self.port),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "GRADIO_ANALYTICS_ENABLED": "False",
            **env,
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py")],
                cwd=home,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"app exited ({self.proc.returncode}): {self.log.read_text()[-3000:]}"
                )
            try:
                requests.get(self.url + "/", timeout=5)
                return
            except requests.ConnectionError:
                time.sleep(1)
        self.stop()
        raise AssertionError(f"app did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)


def app_home(base: Path) -> Path:
    """The real corpus plus a hostile document, and a canary file beside (outside) the corpus."""
    home = make_home(
        base,
        {
            "zz_hostile.txt": "Hostile page <script>document.title='pwned'</script>\n\n"
            "The <img src=x onerror=alert(1)> bridge closed on Friday."
        },
        copy_corpus=True,
    )
    (home / "secret.txt").write_text(CANARY)
    return home


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    home = app_home(tmp_path_factory.mktemp("secapp"))
    proc = AppProcess(home)
    yield proc, home
    proc.stop()


def traversal_urls(home: Path) -> list[str]:
    secret = str(home / "secret.txt")
    corpus_doc = str(home / "corpus" / "000_1b968beef730d8b4.txt")
    targets = [
        secret,
        "secret.txt",
        "../secret.txt",
        "../../secret.txt",
        "/etc/passwd",
        "/proc/self/environ",
        str(home / "index" / "manifest.json"),
        str(ROOT / "qa" / "config.py"),
        "app.py",
        corpus_doc,
        "corpus/000_1b968beef730d8b4.txt",
    ]
    urls = []
    for t in targets:
        enc = t.replace("/", "%2F")
        dots = t.replace(".", "%2e")
        for prefix in (
            "/gradio_api/file=",
            "/file=",
            "/gradio_api/file/",
            "/static/",
            "/assets/",
            "/gradio_api/static/",
            "/custom_component/x/",
        ):
            urls += [
                prefix + t,
                prefix + enc,
                prefix + dots,
                prefix + "..%2F..%2F..%2F" + t.lstrip("/"),
                prefix + "../../../../" + t.lstrip("/"),
            ]
    return urls


def _secrets_in(body: bytes, home: Path) -> list[str]:
    found = []
    for marker, name in [
        (CANARY.encode(), "canary"),
        (b"root:x:0:0", "/etc/passwd"),
        (b"QA_HOME=", "environment"),
        (b'"format_version"', "index manifest"),
        (b"class Settings", "source code"),
    ]:
        if marker in body:
            found.append(name)
    return found


@pytest.mark.slow
def test_no_file_outside_the_app_is_served(app):
    proc, home = app
    served = []
    session = requests.Session()
    for url in traversal_urls(home):
        r = session.get(proc.url + url, timeout=30, allow_redirects=False)
        leaks = _secrets_in(r.content, home)
        if leaks or (r.status_code == 200 and b"Captured North Korean troops" in r.content[:2000]):
            served.append((url, r.status_code, leaks))
    assert served == []
    # the page and its own assets still load
    assert requests.get(proc.url + "/", timeout=30).status_code == 200
    assert requests.get(proc.url + "/config", timeout=30).status_code == 200


@pytest.mark.slow
def test_uploads_are_refused(app):
    proc, home = app
    r = requests.post(
        proc.url + "/gradio_api/upload", files={"files": ("x.txt", CANARY.encode())}, timeout=30
    )
    assert r.status_code in (400, 401, 403, 413), r.text
    assert "/tmp/" not in r.text


@pytest.mark.slow
def test_listens_on_loopback_only(app):
    import psutil

    proc, _ = app
    pids = {proc.proc.pid, *(c.pid for c in psutil.Process(proc.proc.pid).children(recursive=True))}
    listening = [
        c.laddr
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    ]
    assert listening and {a.ip for a in listening} == {"127.0.0.1"}, listening
    # and nothing answers on this machine's other addresses
    others = {
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and not a.address.startswith("127.")
    }
    for ip in others:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((ip, proc.port)) != 0, f"reachable on {ip}"


@pytest.mark.slow
def test_hostile_corpus_text_is_escaped_in_api_answers(app):
    """What the page receives over the API: corpus and question text arrive escaped, never as markup."""
    from gradio_client import Client

    proc, _ = app
    client = Client(proc.url, verbose=False)
    chat, panel = client.predict(
        "When did the bridge close? <script>alert('q')</script>",
        5,
        [],
        "hybrid",
        api_name="/answer",
    )
    html = str(chat) + str(panel)
    assert "bridge closed on Friday" in html  # the hostile document was cited
    for raw in ("<script", "<img"):  # as markup: never; as escaped text: yes
        assert raw not in html.lower(), raw
    assert "script&#62;" in html or "script&gt;" in html


def test_document_viewer_only_opens_cited_documents(real_settings, engine, tmp_path):
    """The viewer opens a document by (answer, citation number) of the session, never by a path."""
    session = ChatSession(engine, real_settings)
    assert session.ask("How many North Korean troops were deployed?") is not None
    doc, _ = session.open(0, "cite", 1)
    assert "qa-doc" in doc or "Captured" in doc or "North Korea" in doc
    for turn, kind, n in [(5, "cite", 1), (0, "cite", 99), (-1, "cite", 1), (0, "closest", 1)]:
        html, panel = session.open(turn, kind, n)
        assert "not in this conversation" in html and "root:" not in html
    assert (
        session.open(0, "../../etc/passwd", 1)[0] == doc
    )  # the kind only picks a list, never a path


@pytest.mark.slow
def test_auth_is_required_when_set(tmp_path_factory):
    home = app_home(tmp_path_factory.mktemp("authapp"))
    proc = AppProcess(home, QA_AUTH="analyst:s3cret-pass")
    try:
        anon = requests.Session()
        assert anon.get(proc.url + "/gradio_api/info", timeout=30).status_code == 401
        assert (
            anon.post(
                proc.url + "/gradio_api/call/answer",
                json={"data": ["troops?", 5, [], "hybrid"]},
                timeout=30,
            ).status_code
            == 401
        )
        assert anon.get(proc.url + "/config", timeout=30).status_code == 401
        page = anon.get(proc.url + "/", timeout=30)
        assert "Captured North Korean" not in page.text and "pwned" not in page.text
        bad = anon.post(
            proc.url + "/login", data={"username": "analyst", "password": "wrong"}, timeout=30
        )
        assert bad.status_code in (400, 401)
        assert anon.get(proc.url + "/gradio_api/info", timeout=30).status_code == 401
        user = requests.Session()
        ok = user.post(
            proc.url + "/login", data={"username": "analyst", "password": "s3cret-pass"}, timeout=30
        )
        assert ok.status_code == 200, ok.text
        assert user.get(proc.url + "/gradio_api/info", timeout=30).status_code == 200
        # logged in, the file routes are still closed
        for url in traversal_urls(home)[:40]:
            r = user.get(proc.url + url, timeout=30)
            assert not _secrets_in(r.content, home), url
    finally:
        proc.stop()
