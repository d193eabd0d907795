"""The chat UI in a real headless Chromium against the real app (`python app.py` in a subprocess over
a private copy of the seed articles plus one hostile document), and the session layer on the real
engine. The pure HTML builders are tested in tests/unit/test_web_render.py."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS, chromium_path, make_home, settings_for
from tests.e2e.appserver import AUTH, AppProcess
from tests.unit.test_web_render import parse

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

DATED_NAME = "zz_bridge.md"
DATED = (
    "---\ntitle: Harbour bridge reopens\ndate: 2024-03-05\noutlet: Harbour Gazette\n"
    "author: Jane Roe\nurl: https://example.org/bridge\n---\n"
    "The old harbour bridge reopened to traffic on Tuesday after eight months of repairs, "
    "the city council said. Engineers replaced the rusted cables and the deck.\n"
)


def shown(fragment: str) -> str:
    return "".join(parse(fragment).text)


@pytest.mark.slow
def test_real_answer_renders_citations_figures_and_exact_highlights(engine, real_settings):
    from qa.web.render import copy_text
    from qa.web.session import ChatSession

    sess = ChatSession(engine, real_settings)
    msg, panel_html = sess.ask("how many troops were deployed?")
    a = sess.conv.turns[0]
    assert a.citations and not a.abstained and panel_html
    p = parse(msg)
    linked = {int(n) for n in re.findall(r'href="#qa-cite-0-cite-(\d+)"', msg)}
    assert linked == {c.id for c in a.citations}
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
    assert "not in this conversation" in shown(missing)


@pytest.mark.slow
def test_errors_become_messages_naming_the_fix(tmp_path, embedder):
    from qa.chat import Engine
    from qa.index import build_index
    from qa.web.session import ChatSession

    home = make_home(tmp_path, copy_corpus=True)  # no index built
    sess = ChatSession(Engine(settings_for(home), embedder), settings_for(home))
    msg, panel = sess.ask("how many troops were deployed?")
    assert (
        panel is None and "Could not answer." in shown(msg) and "run `qa index build`" in shown(msg)
    )
    msg, panel = sess.ask("   ")
    assert panel is None and "the question is empty" in shown(msg)
    msg, panel = sess.ask("x" * 5000)
    assert panel is None and "the limit is 2,000" in shown(msg)

    # A cited document deleted while the app runs: the answer, the viewer and the panel say so.
    build_index(settings_for(home), embedder)
    assert sess.ask("Who is Ryu Seong-hyeon?")[1] is not None
    c = sess.conv.turns[-1].citations[0]
    (home / "corpus" / c.source).unlink()
    doc_html, panel = sess.open(len(sess.conv.turns) - 1, "cite", c.id)
    assert f"no document '{c.source}' in the corpus" in shown(
        doc_html
    ) and "qa index status" in shown(doc_html)
    assert "no longer in the document" in shown(panel)
    msg, panel = sess.ask(
        "Who is Ryu Seong-hyeon?"
    )  # the engine still quotes it: the answer says so
    assert f"{c.source} is no longer in the corpus" in shown(msg) and "Rebuild the index" in shown(
        msg
    )


@pytest.mark.slow
def test_index_status_describes_the_real_index(real_settings):
    from qa.web.render import render
    from qa.web.status import index_view

    view = index_view(real_settings)
    assert view.state == "fresh" and view.chunks > 4
    line = shown(render("status.html", s=view))
    assert "fresh" in line and "4 documents" in line and "all-MiniLM-L6-v2" in line
    assert [v for _, v in view.choices()] == [A0, A1, A2, A3]


# ---------------------------------------------------------------- the real app in a real browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app on a free 127.0.0.1 port over a copy of the seed corpus plus a hostile document, with
    a password (QA_AUTH); no index yet (the app builds it)."""
    home = make_home(
        tmp_path_factory.mktemp("ui"),
        files={HOSTILE_NAME: HOSTILE, DATED_NAME: DATED},
        copy_corpus=True,
    )
    proc = AppProcess(home, QA_AUTH=":".join(AUTH))
    try:
        yield {"url": proc.url + "/", "home": home, "log": proc.log, "proc": proc}
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = chromium_path()
        if path is None:
            pytest.skip("no chromium: set QA_CHROMIUM or run `make browser`")
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
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
    assert "indexed 6 documents" in app_server["log"].read_text()  # the app built the missing index
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
        page_html = pg.content()
        assert "qa-question" not in page_html and "named_endpoints" not in page_html
    finally:
        pg.wait_for_timeout(1200)  # past the wait a failed login imposes on this client
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
def test_sources_show_date_outlet_and_url_and_the_date_range_filters(page, app_server):
    """Issue 12: the panel and the viewer show the article's date, outlet, author and URL (or that
    the date is unknown); the date range leaves out sources published outside it."""
    reply = ask(page, "When did the harbour bridge reopen?")
    item = page.locator(f'#qa-sources .qa-source[data-source="{DATED_NAME}"]').first
    meta = item.locator(".qa-docmeta")
    assert "2024-03-05" in meta.inner_text() and "Harbour Gazette" in meta.inner_text()
    assert "Jane Roe" in meta.inner_text()
    assert meta.locator("a.qa-url").get_attribute("href") == "https://example.org/bridge"
    link = reply.locator("a.qa-cite").first
    open_viewer_mark(page, link)
    assert "Harbour Gazette" in page.locator("#qa-doc .qa-doc-head").inner_text()
    for other in page.locator(
        "#qa-sources .qa-source"
    ).all():  # every source says its date or its lack
        text = other.locator(".qa-docmeta").inner_text()
        assert re.search(r"\d{4}-\d\d-\d\d|date unknown", text), text

    page.click("#qa-settings button, #qa-settings .label-wrap")
    page.fill("#qa-since textarea, #qa-since input", "2025-01-01")
    reply = ask(page, "When did the harbour bridge reopen?")
    cited = {x.get_attribute("data-source") for x in page.locator("#qa-sources .qa-source").all()}
    assert DATED_NAME not in cited and "Harbour Gazette" not in reply.inner_text()
    page.fill("#qa-since textarea, #qa-since input", "2024-03-01")
    page.fill("#qa-until textarea, #qa-until input", "2024-03-31")
    reply = ask(page, "When did the harbour bridge reopen?")
    cited = {x.get_attribute("data-source") for x in page.locator("#qa-sources .qa-source").all()}
    assert cited == {DATED_NAME}
    page.fill("#qa-since textarea, #qa-since input", "")
    page.fill("#qa-until textarea, #qa-until input", "")
    page.click("#qa-settings button, #qa-settings .label-wrap")


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
    assert "7 documents" in status
    assert "Indexed 7 documents" in page.locator("#qa-rebuild-note").inner_text()
    shot(page, "ui-rebuilt")
    reply = ask(page, "How big was the barley harvest in the northern valley?")
    assert "largest in a decade" in reply.inner_text()
    page.locator("#qa-filter input").click()
    assert page.get_by_role("option", name=re.compile("zz_new_report")).count() == 1


def _fn_index(session, url: str, api_name: str) -> int:
    config = session.get(url + "config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


@pytest.mark.slow
def test_crafted_citation_clicks_are_ignored(page, app_server):
    """L8: payloads a page would never send (a list, a string, Infinity, NaN, huge numbers) reach
    the click handler over Gradio's own queue; each completes without an exception."""
    import requests

    url = app_server["url"]
    s = requests.Session()
    assert s.post(url + "login", data={"username": AUTH[0], "password": AUTH[1]}, timeout=30).ok
    fn = _fn_index(s, url, "open_citation")
    payloads = ["[1, 2]", '"x"', '{"turn": Infinity, "kind": "cite", "cite": 1}',
                '{"turn": NaN, "cite": 1}', '{"turn": 1e400, "cite": -Infinity}',
                '{"turn": [0], "kind": {"a": 1}, "cite": "1"}', "null", "1e999"]  # fmt: skip
    for i, raw in enumerate(payloads):
        session_hash = f"crafted{i}"
        body = (f'{{"data": [null], "event_data": {raw}, "fn_index": {fn}, "trigger_id": null, '
                f'"session_hash": "{session_hash}"}}')  # fmt: skip
        r = s.post(url + "gradio_api/queue/join", data=body, timeout=30,
                   headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == 200, (raw, r.text)
        events = s.get(url + f"gradio_api/queue/data?session_hash={session_hash}", timeout=60).text
        done = [line for line in events.splitlines() if "process_completed" in line]
        assert done and '"success": true' in done[0].replace('"success":true', '"success": true'), (
            raw,
            events[-500:],
        )
    assert "Traceback" not in app_server["log"].read_text()

    # and in the page: the same payloads through the page's own trigger change nothing
    reply = ask(page, "Who is Ryu Seong-hyeon?")
    open_viewer_mark(page, reply.locator("a.qa-cite").first)
    before = page.locator("#qa-doc").inner_html()
    for js in ("[1, 2]", "'x'", "{turn: Infinity, cite: 1}", "{turn: 1e308, cite: 1e308}", "null"):
        page.evaluate(f"window.__qaOpen({js})")
    page.wait_for_timeout(1000)
    assert page.locator("#qa-doc").inner_html() == before
    assert "Traceback" not in app_server["log"].read_text()
    assert "Ryu" in ask(page, "Who is Ryu Seong-hyeon?").inner_text()


@pytest.mark.slow
def test_answer_says_when_a_cited_document_was_deleted(page, app_server):
    """Info: after a cited file is deleted, the chat answer itself says so (as the sources panel does)."""
    reply = ask(page, "What did the supply convoy carry for the villagers?")
    assert "no longer in the corpus" not in reply.inner_text()
    path = app_server["home"] / "corpus" / HOSTILE_NAME
    path.unlink()
    try:
        reply = ask(page, "What did the supply convoy carry for the villagers?")
        text = reply.inner_text()
        assert f"{HOSTILE_NAME} is no longer in the corpus" in text and "Rebuild the index" in text
        assert "no longer in the document" in page.locator("#qa-sources").inner_text()
    finally:
        path.write_text(HOSTILE, encoding="utf-8")
