"""Security over HTTP against the real app (`python app.py` in a subprocess, 127.0.0.1 only):
no file outside the corpus and the app's own assets is served, no uploads, loopback by default,
and with QA_AUTH every route needs a login."""

from __future__ import annotations

import math
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_home
from tests.e2e.appserver import AUTH, AppProcess

requests = pytest.importorskip("requests")

CANARY = "CANARY-b41e-never-served"


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
        "",
        "",
        api_name="/answer",
    )
    html = str(chat) + str(panel)
    assert "bridge closed on Friday" in html  # the hostile document was cited
    for raw in ("<script", "<img"):  # as markup: never; as escaped text: yes
        assert raw not in html.lower(), raw
    assert "script&#62;" in html or "script&gt;" in html


def test_document_viewer_only_opens_cited_documents(real_settings, engine):
    """The viewer opens a document by (answer, citation number) of the session, never by a path."""
    from qa.web.session import ChatSession
    from tests.unit.test_web_render import parse

    session = ChatSession(engine, real_settings)
    msg, panel = session.ask("How many North Korean troops were deployed?")
    assert panel is not None
    c = session.conv.turns[0].citations[0]
    doc, _ = session.open(0, "cite", c.id)
    view = parse(doc)
    full = (real_settings.corpus_dir / c.source).read_text(encoding="utf-8")
    assert full in "".join(view.text) and "".join(view.marks[0][1]) == c.text
    for turn, kind, n in [(5, "cite", 1), (0, "cite", 99), (-1, "cite", 1), (0, "closest", 1)]:
        html, panel = session.open(turn, kind, n)
        assert "not in this conversation" in html and "root:" not in html
    # the kind only picks a list, never a path
    assert session.open(0, "../../etc/passwd", c.id)[0] == doc


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory):
    home = app_home(tmp_path_factory.mktemp("authapp"))
    proc = AppProcess(home, QA_AUTH=":".join(AUTH))
    yield proc, home
    proc.stop()


def login(url: str, password: str = AUTH[1]) -> requests.Response:
    s = requests.Session()
    r = s.post(url + "/login", data={"username": AUTH[0], "password": password}, timeout=30)
    r.session = s
    return r


@pytest.mark.slow
def test_auth_is_required_when_set(auth_app):
    proc, home = auth_app
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
    assert login(proc.url, "wrong").status_code in (400, 401)
    assert anon.get(proc.url + "/gradio_api/info", timeout=30).status_code == 401
    time.sleep(1.2)  # past the throttle's first wait
    ok = login(proc.url)
    assert ok.status_code == 200, ok.text
    user = ok.session
    assert user.get(proc.url + "/gradio_api/info", timeout=30).status_code == 200
    # logged in, the file routes are still closed
    for url in traversal_urls(home)[:40]:
        r = user.get(proc.url + url, timeout=30)
        assert not _secrets_in(r.content, home), url


# what an API description or a page configuration contains (empty lists before login are fine)
API_MARKERS = (b"qa-question", b"api_name", b"/answer", b"named_endpoints", b'"dependencies":[{',
               b'"components":[{', b"openapi", b"Captured North Korean")  # fmt: skip


@pytest.mark.slow
def test_nothing_about_the_api_is_served_before_login(auth_app):
    """L3: before login only the login page and its assets; after it, the same routes answer."""
    proc, _ = auth_app
    routes = ["/", "/config", "/gradio_api/info", "/info", "/gradio_api/openapi.json", "/openapi.json",
              "/docs", "/redoc", "/api/status", "/gradio_api/queue/status", "/gradio_api/app_id",
              "/gradio_api/heartbeat/abc", "/gradio_api/token", "/gradio_api/startup-events"]  # fmt: skip
    anon = requests.Session()
    for route in routes:
        r = anon.get(proc.url + route, timeout=30, stream=True)
        body = r.raw.read(200_000, decode_content=True)  # a held-open stream must not hang the test
        r.close()
        leaks = [m for m in API_MARKERS if m in body]
        assert leaks == [], (route, r.status_code, leaks)
        assert route == "/" or r.status_code in (401, 404), (route, r.status_code)
    # the API takes HTTP Basic with the same credentials
    assert (
        anon.post(proc.url + "/api/ask", json={"question": "troops?"}, timeout=30).status_code
        == 401
    )
    ok = anon.get(proc.url + "/api/status", auth=AUTH, timeout=30)
    assert ok.status_code == 200 and ok.json()["state"] == "fresh"
    user = login(proc.url).session
    assert b"qa-question" in user.get(proc.url + "/config", timeout=30).content


@pytest.mark.slow
def test_failed_logins_are_throttled_per_client(auth_app):
    """L3: 200 wrong passwords as fast as possible: only a few reach the password check."""
    proc, _ = auth_app
    time.sleep(2)
    t0, codes = time.monotonic(), []
    with requests.Session() as s:
        for _ in range(200):
            r = s.post(
                proc.url + "/login", data={"username": AUTH[0], "password": "guess"}, timeout=30
            )
            codes.append(r.status_code)
    elapsed = time.monotonic() - t0
    checked = [c for c in codes if c != 429]
    assert set(codes) <= {400, 401, 429}
    # waits of 0.5, 1, 2, 4 ... s: checks at 0, 0.5, 1.5, 3.5 ... s, i.e. 1 + log2(2 t + 1) by time t
    assert len(checked) <= 2 + math.log2(2 * elapsed + 1), (len(checked), elapsed)
    r = requests.post(
        proc.url + "/login", data={"username": AUTH[0], "password": AUTH[1]}, timeout=30
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # the right one waits too
    time.sleep(int(r.headers["retry-after"]) + 0.2)
    assert login(proc.url).status_code == 200  # and succeeds after the wait
    assert login(proc.url).status_code == 200  # which resets the count


@pytest.mark.slow
def test_request_bodies_are_capped_and_memory_stays_flat(app):
    """M1: every route refuses bodies over 64 KiB (413) before reading them; a 10 MiB question
    never reaches Gradio, and 1,000 oversized requests leave the server's memory flat."""
    proc, _ = app
    big = "troops " * (10 * 2**20 // 7)
    for route in (
        "/gradio_api/call/answer",
        "/gradio_api/queue/join",
        "/api/ask",
        "/login",
        "/nowhere",
    ):
        r = requests.post(
            proc.url + route, json={"data": [big, 5, [], "hybrid"], "question": big}, timeout=60
        )
        assert r.status_code == 413 and "limit" in r.json()["error"], (route, r.status_code)
    # a streamed body (no Content-Length) is cut at the same limit
    chunks = (b"x" * 8192 for _ in range(64))
    r = requests.post(proc.url + "/api/ask", data=chunks, timeout=60,
                      headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413
    body = b'{"question": "' + b"x" * 200_000 + b'"}'
    before = proc.rss_mb()

    codes: list = []

    def hammer(n: int) -> None:
        with requests.Session() as s:
            for _ in range(n):
                try:
                    r = s.post(proc.url + "/gradio_api/queue/join", data=body, timeout=60,
                               headers={"content-type": "application/json"})  # fmt: skip
                    codes.append(r.status_code)
                except requests.ConnectionError:  # closed before the client finished sending
                    codes.append("closed")

    threads = [threading.Thread(target=hammer, args=(250,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 1000 and set(codes) <= {413, "closed"} and codes.count(413) >= 900
    after = proc.rss_mb()
    print(f"\n1,000 oversized requests: server RSS {before:.0f} MB -> {after:.0f} MB")
    assert after - before < 30, (before, after)
    ok = requests.post(
        proc.url + "/api/ask", json={"question": "How many troops were deployed?"}, timeout=60
    )
    assert ok.status_code == 200 and ok.json()["citations"]
