"""The chat UI: HTML builders on their own, then the real app in a real headless Chromium.

The browser tests start `app.py` in a subprocess against a private copy of the real corpus (plus one
hostile document), type questions into the page and check what a person would see.
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ARTIFACTS, ROOT, make_home, settings_for

A0, A1, A2, A3 = (
    "000_1b968beef730d8b4.txt",
    "001_e4cce470ff14cd12.txt",
    "002_00793e7f8cbc5f38.txt",
    "003_56f3c575adb43a3c.txt",
)
HOSTILE_NAME = "zz_field_notes.txt"
HOSTILE = (
    "Field notes on the convoy <b>bold</b> and <i>markup</i>\n"
    "The supply convoy reached the mountain village at dawn after a long night on the road. "
    "<script>window.__pwned=1</script>\n"
    "The convoy carried <b>bold</b> medical supplies and wool blankets for the villagers. "
    '<img src=x onerror="window.__pwned=2"> Template text ${7*7} and {{7*7}} and $$x$$ and **stars**.\n'
)


# ---------------------------------------------------------------- HTML builders, no browser


class _Text(HTMLParser):
    """Visible text of an HTML fragment (entities decoded, <br> as newline) and the text of each <mark>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.marks: list[tuple[dict, list[str]]] = []
        self.tags: list[str] = []
        self._open: list[tuple[dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "br":
            self.text.append("\n")
        if tag == "mark":
            self._open.append((dict(attrs), []))

    def handle_endtag(self, tag):
        if tag == "mark" and self._open:
            self.marks.append(self._open.pop())

    def handle_data(self, data):
        self.text.append(data)
        for _, parts in self._open:
            parts.append(data)


def parse(fragment: str) -> _Text:
    p = _Text()
    p.feed(fragment)
    p.close()
    return p


def test_esc_makes_markup_inert_and_loses_nothing():
    from qa.ui import esc

    s = "<script>alert(1)</script> & <b>x</b> {{a}} ${b} $$c$$ **d** _e_ [1] `f` \\ | # ' \""
    out = esc(s)
    assert not set(out) & set("<>{}$*_[]`\\|'\"")
    assert html.unescape(out) == s
    assert parse(out).tags == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab <>&\"'{}$*[]\n", max_size=40), st.data())
def test_highlight_marks_exactly_the_span_and_keeps_the_text(text, data):
    from qa.ui import highlight

    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    ps = data.draw(st.integers(0, start))
    pe = data.draw(st.integers(end, len(text)))
    out = highlight(text, start, end, (ps, pe), offset=7)
    p = parse(out.replace("<br>", ""))
    assert "".join(p.text) == text
    [(attrs, parts)] = p.marks
    assert "".join(parts) == text[start:end]
    assert (int(attrs["data-start"]), int(attrs["data-end"])) == (start + 7, end + 7)
    assert set(p.tags) <= {"mark", "span"}


def test_only_known_citation_numbers_become_links():
    from qa.ui import linked_text

    out = linked_text("a [1] b [7] c [1, 2] <i>d</i>", 3, {1: "One", 2: "Two <b>"})
    p = parse(out)
    assert "".join(p.text) == "a [1] b [7] c [1][2] <i>d</i>"
    assert p.tags.count("a") == 3 and "i" not in p.tags and "b" not in p.tags
    assert 'href="#qa-cite-3-cite-2"' in out and 'data-cite="7"' not in out


def test_document_view_of_a_hostile_document_is_text(tmp_path):
    from qa.answer import Citation
    from qa.corpus import read_document
    from qa.ui import document_html

    home = make_home(tmp_path, files={HOSTILE_NAME: HOSTILE})
    doc = read_document(home / "corpus", HOSTILE_NAME)
    start = doc.text.index("The convoy carried")
    end = doc.text.index("villagers.") + len("villagers.")
    c = Citation(1, HOSTILE_NAME, doc.title, start, end, doc.text[start:end], 0.5, 0, len(doc.text))
    out = document_html(c, doc.text, doc.title)
    p = parse(out)
    assert not {"script", "b", "i", "img"} & set(p.tags)
    assert doc.text in "".join(p.text)
    [(attrs, parts)] = p.marks
    assert "".join(parts) == doc.text[start:end] == c.text
    # A document that changed since indexing: the quote is found again, with a warning.
    moved = "New first line.\n" + doc.text
    p2 = parse(document_html(c, moved, doc.title))
    assert "".join(p2.marks[0][1]) == c.text and "rebuild the index" in "".join(p2.text)


@pytest.mark.slow
def test_real_answer_renders_citations_figures_and_exact_highlights(engine, real_settings):
    from qa.ui import ChatSession, copy_text

    sess = ChatSession(engine, real_settings)
    panel_html = sess.ask("how many troops were deployed?")
    a = sess.conv.turns[0]
    assert a.citations and not a.abstained and panel_html
    assert [m["role"] for m in sess.messages] == ["user", "assistant"]
    msg = sess.messages[1]["content"]
    p = parse(msg)
    linked = {int(n) for n in re.findall(r'href="#qa-cite-0-cite-(\d+)"', msg)}
    assert linked == {c.id for c in a.citations}
    assert "\n" not in msg  # a raw newline would let the chat's Markdown split the HTML block
    if a.figures:
        assert "qa-figures" in msg and all(f.text in "".join(p.text) for f in a.figures)
    clip = copy_text(a)
    assert "<" not in clip.replace(a.answer, "") and clip.startswith(a.answer.strip())

    texts = {
        c.source: (real_settings.corpus_dir / c.source).read_text(encoding="utf-8")
        for c in a.citations
    }
    panel = parse(panel_html)
    assert len(panel.marks) == len(a.citations)
    for c, (attrs, parts) in zip(a.citations, panel.marks, strict=True):
        start, end = int(attrs["data-start"]), int(attrs["data-end"])
        assert (start, end) == (c.start, c.end)
        assert "".join(parts) == texts[c.source][start:end] == c.text

    last = a.citations[-1]
    doc_html, panel2 = sess.open(0, "cite", last.id)
    doc = parse(doc_html)
    assert "".join(doc.marks[0][1]) == last.text and texts[last.source] in "".join(doc.text)
    assert re.search(rf'class="qa-source qa-active"[^>]* data-cite="{last.id}"', panel2)
    missing, _ = sess.open(5, "cite", 1)
    assert "not in this conversation" in "".join(parse(missing).text)


@pytest.mark.slow
def test_errors_become_messages_naming_the_fix(tmp_path, embedder):
    from qa.chat import Engine
    from qa.ui import ChatSession

    home = make_home(tmp_path, copy_corpus=True)  # no index built
    sess = ChatSession(Engine(settings_for(home), embedder), settings_for(home))
    assert sess.ask("how many troops were deployed?") is None
    shown = "".join(parse(sess.messages[-1]["content"]).text)
    assert "Could not answer." in shown and "run `qa index build`" in shown
    assert sess.ask("   ") is None
    assert "the question is empty" in "".join(parse(sess.messages[-1]["content"]).text)

    # A cited document deleted while the app runs: the viewer says so and names the fix.
    from qa.index import build_index

    build_index(settings_for(home), embedder)
    assert sess.ask("Who is Ryu Seong-hyeon?") is not None
    c = sess.conv.turns[-1].citations[0]
    (home / "corpus" / c.source).unlink()
    doc_html, panel = sess.open(len(sess.conv.turns) - 1, "cite", c.id)
    shown = "".join(parse(doc_html).text)
    assert f"no document '{c.source}' in the corpus" in shown and "qa index status" in shown
    assert "no longer in the document" in "".join(parse(panel).text)


@pytest.mark.slow
def test_index_status_describes_the_real_index(real_settings):
    from qa.ui import index_info, source_choices, status_html

    info = index_info(real_settings)
    assert info.built and info.fresh and info.documents == 4 and info.chunks > 4
    line = "".join(parse(status_html(info)).text)
    assert "fresh" in line and "4 documents" in line and "all-MiniLM-L6-v2" in line
    assert [v for _, v in source_choices(info)] == [A0, A1, A2, A3]


# ---------------------------------------------------------------- the real app in a real browser

CHROMIUM = "/usr/bin/chromium"
AUTH = ("analyst", "s3cret-pw")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`python app.py` on a free 127.0.0.1 port over a copy of the real corpus, with a password (QA_AUTH);
    no index yet (the app builds it)."""
    import requests

    home = make_home(tmp_path_factory.mktemp("ui"), files={HOSTILE_NAME: HOSTILE}, copy_corpus=True)
    port = _free_port()
    env = dict(
        os.environ,
        QA_CORPUS_DIR=str(home / "corpus"),
        QA_INDEX_DIR=str(home / "index"),
        QA_PORT=str(port),
        QA_AUTH=":".join(AUTH),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
    )
    env.pop("QA_HOST", None)  # the default address: 127.0.0.1
    log_path = home / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not serve {url}:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield {"url": url, "home": home, "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, app_server):
    """A fresh, logged-in browser session on the app (own Conversation), clipboard allowed; records every request."""
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 1000}, permissions=["clipboard-read", "clipboard-write"]
    )
    login = ctx.request.post(
        app_server["url"] + "login", form={"username": AUTH[0], "password": AUTH[1]}
    )
    assert login.ok, login.status
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.requests = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(app_server["url"])
    pg.wait_for_selector("#qa-question textarea")
    yield pg
    ctx.close()


def shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(pg, question: str):
    """Type a question, press Enter, wait for the new reply; return it (a locator)."""
    replies = pg.locator("#qa-chat .qa-answer, #qa-chat .qa-error")
    before = replies.count()
    pg.fill("#qa-question textarea", question)
    pg.press("#qa-question textarea", "Enter")
    pg.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-answer, #qa-chat .qa-error').length > n",
        arg=before,
    )
    return replies.nth(before)


def corpus_text(app_server, name: str) -> str:
    return (app_server["home"] / "corpus" / name).read_text(encoding="utf-8")


def open_viewer_mark(pg, click_target):
    """Click a citation or source; wait for the document viewer to show its highlighted span."""
    old = (
        pg.locator("#qa-doc .qa-doc-head").text_content()
        if pg.locator("#qa-doc .qa-doc-head").count()
        else None
    )
    click_target.click()
    pg.wait_for_function(
        "old => { const h = document.querySelector('#qa-doc .qa-doc-head');"
        " return h && document.querySelector('#qa-doc mark.qa-hit') && h.textContent !== old; }",
        arg=old,
    )
    return pg.locator("#qa-doc mark.qa-hit")


def viewer_source(pg) -> str:
    head = pg.locator("#qa-doc .qa-doc-head .qa-meta").text_content()
    return head.split(" · ")[0].strip()


def assert_visible_in_viewer(pg, mark) -> None:
    """The highlighted span's first line is inside the viewer's scroll box, below its sticky header, on screen."""
    pg.wait_for_timeout(200)
    box = pg.locator("#qa-doc .qa-doc").bounding_box()
    head = pg.locator("#qa-doc .qa-doc-head").bounding_box()
    m = mark.bounding_box()
    assert m is not None and box is not None and head is not None
    assert head["y"] + head["height"] - 2 <= m["y"], (m, head)
    assert m["y"] + min(m["height"], 40) <= box["y"] + box["height"] + 1, (m, box)
    assert m["y"] >= 0 and m["y"] + 20 <= pg.viewport_size["height"]


@pytest.mark.slow
def test_question_gets_cited_answer_sources_and_highlighted_document(page, app_server):
    assert "indexed 5 documents" in app_server["log"].read_text()  # the app built the missing index
    assert page.get_by_text(
        "How many troops were deployed?"
    ).first.is_visible()  # examples on the empty chat
    assert "fresh" in page.locator("#qa-status").text_content()

    reply = ask(page, "how many troops were deployed?")
    text = reply.locator(".qa-text").inner_text()
    assert "[1]" in text and "[2]" in text and "11,000" in text
    assert "The corpus does not say" not in text
    figures = reply.locator(".qa-figures")
    assert figures.is_visible() and "disagree" in figures.inner_text()

    # The sources panel lists each cited passage: title, file, the quote highlighted, equal to the file's span.
    cited = sorted({int(x) for x in re.findall(r"\[(\d+)\]", text)})
    items = page.locator("#qa-sources .qa-source")
    assert [int(items.nth(i).get_attribute("data-cite")) for i in range(items.count())] == cited
    files = set()
    for i in range(items.count()):
        item = items.nth(i)
        name = item.get_attribute("data-source")
        files.add(name)
        assert name in item.locator(".qa-meta").inner_text()
        assert item.locator(".qa-title").inner_text().strip()
        mark = item.locator("mark.qa-hit")
        start, end = int(mark.get_attribute("data-start")), int(mark.get_attribute("data-end"))
        assert mark.text_content() == corpus_text(app_server, name)[start:end] and end > start
    assert len(files) >= 3  # the articles disagree on the figure: several are cited

    # Clicking the last [n] in the answer shows the full document, the span highlighted and scrolled
    # into view; the sources panel scrolls to that passage.
    n = cited[-1]
    mark = open_viewer_mark(page, reply.locator(".qa-text a.qa-cite", has_text=f"[{n}]").last)
    src = viewer_source(page)
    full = corpus_text(app_server, src)
    start, end = int(mark.get_attribute("data-start")), int(mark.get_attribute("data-end"))
    assert mark.text_content() == full[start:end]
    assert page.locator("#qa-doc .qa-doc-text").text_content() == full
    assert_visible_in_viewer(page, mark)
    active = page.locator("#qa-sources .qa-source.qa-active")
    assert (
        active.get_attribute("data-cite") == str(n) and active.get_attribute("data-source") == src
    )
    page.wait_for_timeout(300)
    panel, box = page.locator("#qa-sources .qa-sources").bounding_box(), active.bounding_box()
    assert panel["y"] - 1 <= box["y"] <= panel["y"] + panel["height"], (box, panel)
    shot(page, "ui-answer")

    # Clicking the first source in the panel opens that one.
    first = items.nth(0)
    mark = open_viewer_mark(page, first)
    assert viewer_source(page) == first.get_attribute("data-source")
    assert mark.text_content() == first.locator("mark.qa-hit").text_content()
    assert_visible_in_viewer(page, mark)

    # Copy puts the plain answer and its sources on the clipboard.
    reply.locator("button.qa-copy").click()
    clip = page.evaluate("navigator.clipboard.readText()")
    assert (
        clip.startswith(text.split("[1]")[0].strip()[:40])
        and "Sources:" in clip
        and "<" not in clip
    )

    # Offline: the page asked nothing of any other host (no fonts, no analytics).
    outside = [
        u
        for u in page.requests
        if not u.startswith(app_server["url"]) and not u.startswith("data:")
    ]
    assert outside == []


@pytest.mark.slow
def test_a_password_is_required_when_set(browser, app_server):
    ctx = browser.new_context()
    try:
        pg = ctx.new_page()
        pg.goto(app_server["url"])
        pg.wait_for_selector("input[type=password]")
        assert pg.locator("#qa-question").count() == 0
        bad = ctx.request.post(
            app_server["url"] + "login", form={"username": AUTH[0], "password": "wrong"}
        )
        assert not bad.ok
    finally:
        ctx.close()


@pytest.mark.slow
def test_unrelated_question_abstains_and_errors_are_messages(page):
    reply = ask(page, "Who won the football world cup final in 2018?")
    assert "The corpus does not say" in reply.inner_text()
    assert "Closest, but not an answer" in reply.inner_text()
    assert reply.locator(".qa-figures").count() == 0
    assert page.locator("#qa-sources .qa-panel-head").inner_text() == "Closest, but not an answer"
    mark = open_viewer_mark(page, reply.locator("a.qa-cite").first)  # a closest passage opens too
    assert_visible_in_viewer(page, mark)
    shot(page, "ui-abstain")

    # An empty question: the error and its fix appear in the chat, never a stack trace.
    page.click("#qa-ask")
    page.wait_for_selector("#qa-chat .qa-error")
    err = page.locator("#qa-chat .qa-error").inner_text()
    assert "the question is empty" in err and "type a question" in err
    assert "Traceback" not in page.content()


@pytest.mark.slow
def test_follow_up_in_the_same_session(page, app_server):
    page.get_by_text("Who is Ryu Seong-hyeon?").first.click()  # an example on the empty chat
    page.wait_for_selector("#qa-chat .qa-answer")
    first = page.locator("#qa-chat .qa-answer").first
    assert page.locator("#qa-chat .qa-question").first.inner_text() == "Who is Ryu Seong-hyeon?"
    assert "Ryu" in first.inner_text() and first.locator("a.qa-cite").count() >= 1
    second = ask(page, "When did he escape?")
    assert "2019" in second.locator(".qa-text").inner_text()
    # The earlier answer's citations still open their own passages.
    mark = open_viewer_mark(page, first.locator("a.qa-cite").first)
    assert viewer_source(page) == A2
    assert mark.text_content() in corpus_text(app_server, A2)
    shot(page, "ui-follow-up")

    # New chat: empty conversation, examples back, panels reset.
    page.click("#qa-new")
    page.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-answer').length === 0")
    assert page.get_by_text("Who is Ryu Seong-hyeon?").first.is_visible()
    assert page.locator("#qa-sources .qa-source").count() == 0


@pytest.mark.slow
def test_hostile_document_and_question_render_as_text(page, app_server):
    reply = ask(page, "What did the supply convoy carry for the villagers?")
    assert "medical supplies" in reply.inner_text()
    assert "<b>bold</b>" in reply.inner_text()  # the corpus's markup, shown as text
    assert (
        page.locator("#qa-chat .qa-answer b, #qa-chat .qa-answer img, #qa-chat script").count() == 0
    )
    link = reply.locator("a.qa-cite").first
    open_viewer_mark(page, link)
    assert viewer_source(page) == HOSTILE_NAME
    shown = page.locator("#qa-doc .qa-doc-text").text_content()
    assert shown == corpus_text(app_server, HOSTILE_NAME)
    assert "<script>window.__pwned=1</script>" in shown and "${7*7}" in shown and "{{7*7}}" in shown
    assert page.locator("#qa-doc b, #qa-doc i, #qa-doc img, #qa-doc script").count() == 0
    assert "Field notes on the convoy <b>bold</b>" in page.locator("#qa-sources").inner_text()

    echo = ask(
        page, "Did the convoy carry <i>blankets</i> or <img src=x onerror=window.__pwned=3>?"
    )
    user = page.locator("#qa-chat .qa-question").last
    assert "<i>blankets</i>" in user.inner_text() and user.locator("i, img").count() == 0
    assert echo.inner_text()
    assert page.evaluate("window.__pwned") is None
    shot(page, "ui-hostile")


@pytest.mark.slow
def test_source_filter_and_rebuild_index(page, app_server):
    """Runs last: it adds a document to the served corpus."""
    page.click("#qa-settings button, #qa-settings .label-wrap")
    page.locator("#qa-filter input").click()
    page.get_by_role("option", name=re.compile(re.escape(A3))).click()
    page.keyboard.press("Escape")
    page.locator("#qa-mode").get_by_text("bm25").click()
    reply = ask(page, "how many troops were deployed?")
    assert reply.locator("a.qa-cite").count() >= 1
    items = page.locator("#qa-sources .qa-source")
    assert {items.nth(i).get_attribute("data-source") for i in range(items.count())} == {A3}

    new = app_server["home"] / "corpus" / "zz_new_report.txt"
    new.write_text(
        "Harvest report from the northern valley\n"
        "The barley harvest in the northern valley was the largest in a decade, farmers said on Tuesday.\n",
        encoding="utf-8",
    )
    page.reload()
    page.wait_for_function(
        "() => document.querySelector('#qa-status')?.textContent.includes('stale')"
    )
    assert "zz_new_report.txt (new)" in page.locator("#qa-status").inner_text()
    page.click("#qa-settings button, #qa-settings .label-wrap")
    page.click("#qa-rebuild")
    page.wait_for_function(
        "() => document.querySelector('#qa-status')?.textContent.includes('fresh')"
    )
    status = page.locator("#qa-status").inner_text()
    assert "6 documents" in status
    assert "Indexed 6 documents" in page.locator("#qa-rebuild-note").inner_text()
    shot(page, "ui-rebuilt")
    reply = ask(page, "How big was the barley harvest in the northern valley?")
    assert "largest in a decade" in reply.inner_text()
    page.locator("#qa-filter input").click()
    assert page.get_by_role("option", name=re.compile("zz_new_report")).count() == 1
