"""The page's HTML (qa.web.render, templates), the click parser and the login throttle: no model, no
server, no browser."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer import Answer, Citation

HOSTILE = (
    "Field notes on the convoy <b>bold</b> and <i>markup</i>\n"
    "The supply convoy reached the mountain village at dawn. <script>window.__pwned=1</script>\n"
    'The convoy carried <b>bold</b> medical supplies. <img src=x onerror="window.__pwned=2"> '
    "Template text ${7*7} and {{7*7}} and $$x$$ and **stars**.\n"
)


class _Text(HTMLParser):
    """Visible text of an HTML fragment (entities decoded, <br> as newline) and the text of each <mark>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.marks: list[tuple[dict, list[str]]] = []
        self.tags: list[str] = []
        self.attrs: list[dict] = []
        self._open: list[tuple[dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))
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


def text_of(fragment: str) -> str:
    return "".join(parse(fragment).text)


def test_esc_makes_markup_inert_and_loses_nothing():
    from qa.web.render import esc

    s = "<script>alert(1)</script> & <b>x</b> {{a}} ${b} $$c$$ **d** _e_ [1] `f` \\ | # ' \""
    out = esc(s)
    assert not set(out) & set("<>{}$*_[]`\\|'\"")
    assert html.unescape(out) == s
    assert parse(out).tags == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab <>&\"'{}$*[]\n", max_size=40), st.data())
def test_highlight_marks_exactly_the_span_and_keeps_the_text(text, data):
    from qa.web.render import highlight

    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    ps = data.draw(st.integers(0, start))
    pe = data.draw(st.integers(end, len(text)))
    out = highlight(text, start, end, (ps, pe), offset=7)
    p = parse(out)
    assert "".join(p.text) == text
    [(attrs, parts)] = p.marks
    assert "".join(parts) == text[start:end]
    assert (int(attrs["data-start"]), int(attrs["data-end"])) == (start + 7, end + 7)
    assert set(p.tags) <= {"mark", "span"}


def test_only_known_citation_numbers_become_links():
    from qa.web.render import linked_text

    out = linked_text("a [1] b [7] c [1, 2] <i>d</i>", 3, {1: "One", 2: "Two <b>"})
    p = parse(out)
    assert "".join(p.text) == "a [1] b [7] c [1][2] <i>d</i>"
    assert p.tags.count("a") == 3 and "i" not in p.tags and "b" not in p.tags
    assert 'href="#qa-cite-3-cite-2"' in out and 'data-cite="7"' not in out


def _cite(text: str, start: int, end: int, **meta) -> Citation:
    c = Citation(1, "notes.txt", "Field notes", start, end, text[start:end], 0.5, 0, len(text))
    for k, v in meta.items():  # metadata fields (published, outlet, ...) when the index has them
        object.__setattr__(c, k, v)
    return c


def test_document_view_of_a_hostile_document_is_text():
    from qa.web.render import document_html

    start = HOSTILE.index("The convoy carried")
    end = HOSTILE.index("supplies.") + len("supplies.")
    c = _cite(HOSTILE, start, end)
    p = parse(document_html(c, HOSTILE, "Field notes"))
    assert not {"script", "b", "i", "img"} & set(p.tags)
    assert HOSTILE in "".join(p.text)
    [(attrs, parts)] = p.marks
    assert "".join(parts) == HOSTILE[start:end] == c.text
    # A document that changed since indexing: the quote is found again, with a warning.
    p2 = parse(document_html(c, "New first line.\n" + HOSTILE, "Field notes"))
    assert "".join(p2.marks[0][1]) == c.text and "rebuild the index" in "".join(p2.text)


def test_answer_message_links_figures_closest_and_copy_text():
    from qa.web.render import answer_html

    text = "Officials said 11,000 troops were sent. Others said 12,000 troops."
    c1, c2 = _cite(text, 0, 39), Citation(2, "b.txt", "B <i>", 40, 66, text[40:66], 0.4)
    fig = {"text": "11,000", "label": "troops", "citations": [1, 99]}
    a = Answer("how many?", "About 11,000 [1]. Or 12,000 [2] and [3].\n\nSee <b>.", [c1, c2],
               figures=[fig, {"text": "12,000", "label": "troops", "citations": [2]}],
               figures_disagree=True)  # fmt: skip
    out = answer_html(a, 4, seq=9)
    p = parse(out)
    shown = "".join(p.text)
    assert set(re.findall(r'href="#qa-cite-4-cite-(\d+)"', out)) == {"1", "2"}
    assert "[3]" in shown and "See <b>." in shown and "b" not in p.tags
    assert "Figures the sources give for troops: they disagree" in shown
    assert 'data-seq="9"' in out and "qa-abstained" not in out
    clip = [a_ for t, a_ in zip(p.tags, p.attrs, strict=True) if a_.get("class") == "qa-copy-text"]
    assert clip and "Sources:" in shown and "[2] B <i> (b.txt, characters 40-66)" in shown
    gone = answer_html(a, 4, gone=[c2])
    assert "[2] b.txt is no longer in the corpus" in text_of(gone)


def test_abstained_answer_lists_closest_passages():
    from qa.web.render import answer_html, sources_html

    text = "The harvest was large this year."
    c = _cite(text, 0, len(text))
    a = Answer("who won?", "The corpus does not say.", [], abstained=True, closest=[c])
    out = answer_html(a, 0)
    assert "Closest, but not an answer" in text_of(out) and 'href="#qa-cite-0-closest-1"' in out
    panel = sources_html(a, 0, {"notes.txt": text})
    assert "Closest, but not an answer" in text_of(panel) and 'data-kind="closest"' in panel


def test_sources_and_viewer_show_article_metadata_or_say_it_is_missing():
    from qa.web.render import document_html, sources_html

    text = "Troops arrived on Monday, officials said."
    dated = _cite(text, 0, 14, published="2024-10-18", outlet="Daily <News>", author="A. Writer",
                  url="https://example.org/a?x=1&y=2")  # fmt: skip
    a = Answer("q", "Troops arrived [1].", [dated])
    panel = parse(sources_html(a, 0, {"notes.txt": text}))
    shown = "".join(panel.text)
    assert "2024-10-18" in shown and "Daily <News>" in shown and "A. Writer" in shown
    links = [x for t, x in zip(panel.tags, panel.attrs, strict=True) if t == "a"]
    assert [x["href"] for x in links] == ["https://example.org/a?x=1&y=2"]
    assert links[0]["rel"] == "noopener noreferrer nofollow"

    undated = _cite(
        text, 0, 14, published=None, outlet=None, author=None, url="javascript:alert(1)"
    )
    view = document_html(undated, text)
    assert "date unknown" in text_of(view) and "javascript" not in view and "<a " not in view
    mtime = _cite(text, 0, 14, published="2024-01-02", date_source="file mtime")
    assert "2024-01-02 (file date)" in text_of(document_html(mtime, text))
    # the date's source may come from the index manifest's entry instead of the citation
    dated = _cite(text, 0, 14, published="2024-01-02")
    known = {"published": "2024-01-02", "date_source": "file mtime", "outlet": "Wire"}
    view = text_of(document_html(dated, text, known=known))
    assert "2024-01-02 (file date)" in view and "Wire" in view
    paged = _cite(text, 0, 14, published="2024-01-02", page=3)  # a PDF citation names its page
    assert "p. 3" in text_of(document_html(paged, text)) and "p. " not in text_of(
        document_html(dated, text)
    )


def test_status_line_from_index_status():
    from qa.web.render import render
    from qa.web.status import StatusView

    view = StatusView("damaged", "bm25/x.npy is missing: run `qa index build`", "damaged",
                      "4 documents · 12 chunks", 12)  # fmt: skip
    line = text_of(render("status.html", s=view))
    assert "damaged" in line and "4 documents" in line and "run `qa index build`" in line
    missing = StatusView("missing", "no index yet", "no index")
    assert text_of(render("status.html", s=missing)).strip() == "no index no index yet"


@pytest.mark.parametrize(
    "payload",
    [[1, 2], "x", None, 3, {"turn": float("inf"), "cite": 1}, {"turn": float("nan"), "cite": 1},
     {"turn": "Infinity", "cite": 1}, {"turn": 10**400, "cite": 1}, {"turn": [0], "cite": 1},
     {"turn": True, "cite": 1}, {"turn": 0.5, "cite": 1}, {"turn": -1, "cite": 1}, {"turn": 0}],
)  # fmt: skip
def test_crafted_citation_clicks_are_ignored(payload):
    from qa.web.session import parse_click

    assert parse_click(payload) is None


def test_a_click_names_a_turn_and_a_number_never_a_path():
    from qa.web.session import Click, parse_click

    assert parse_click({"turn": 2, "kind": "closest", "cite": "3"}) == Click(2, "closest", 3)
    assert parse_click({"turn": 0, "kind": "../../etc/passwd", "cite": 1}) == Click(0, "cite", 1)


def test_failed_logins_wait_exponentially_per_client(monkeypatch):
    from qa.web import guard

    now = [100.0]
    monkeypatch.setattr(guard.time, "monotonic", lambda: now[0])
    t = guard.Throttle(base=0.5, cap=8)
    assert t.wait("a") == 0
    waits = []
    for _ in range(6):
        t.failed("a")
        waits.append(t.wait("a"))
    assert waits == [0.5, 1, 2, 4, 8, 8]
    assert t.wait("b") == 0  # per client
    now[0] += 8
    assert t.wait("a") == 0
    t.succeeded("a")
    t.failed("a")
    assert t.wait("a") == 0.5


def test_questions_over_the_limit_are_refused_with_the_numbers():
    from qa.web.session import question_problem

    assert question_problem("x" * 2000) == ""
    assert "2,001 characters; the limit is 2,000" in question_problem("x" * 2001)
    assert question_problem(["a list"]) == "the question must be text"


def test_status_view_of_an_index_status(monkeypatch):
    from qa.web.status import index_view

    st = SimpleNamespace(
        state="stale", message="the corpus changed", hint="run `qa index build`", n_chunks=9,
        built_at="2026-01-02T03:04:05+00:00", model={"name": "org/mini"},
        documents=[SimpleNamespace(doc_id="a.txt", status="indexed", title="A"),
                   SimpleNamespace(doc_id="b.txt", status="new", title="B")],
        skipped=[{"name": "c.bin", "reason": "unsupported file type"}],
    )  # fmt: skip
    import qa.web.status as status

    monkeypatch.setattr(status, "raw_status", lambda settings: st)
    view = index_view(None)
    assert view.state == "stale" and view.changed == ["b.txt (new)"]
    assert view.line == "1 document · 9 chunks · model mini · built 2026-01-02 03:04:05 UTC"
    assert view.skipped == ["c.bin: unsupported file type"] and view.choices() == [
        ("A — a.txt", "a.txt")
    ]


def test_guard_caps_bodies_and_lets_only_logged_in_requests_through():
    """The edge middleware on a tiny app: 413 over the cap (declared or streamed), 401 before login
    except the login page, HTTP Basic or the session cookie accepted, the login page's API info cut."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from qa.config import Settings
    from qa.web.guard import Guard

    async def echo(request):
        return JSONResponse({"n": len(await request.body())})

    async def page(request):
        return HTMLResponse('<script>window.gradio_api_info = {"named_endpoints": {}};</script>ok')

    inner = Starlette(routes=[Route("/api/echo", echo, methods=["POST"]), Route("/", page)])

    guard = Guard(
        inner, Settings(auth=("u", "p")), SimpleNamespace(tokens={"tok": "u"}), max_body=100
    )
    client = TestClient(guard)
    assert client.post("/api/echo", content=b"x" * 10).status_code == 401
    assert client.post("/api/echo", content=b"x" * 10, auth=("u", "p")).json() == {"n": 10}
    client.cookies.set("access-token-abc", "tok")  # a logged-in page's session cookie
    assert client.post("/api/echo", content=b"x" * 10).json() == {"n": 10}
    client.cookies.clear()
    assert client.post("/api/echo", content=b"x" * 101, auth=("u", "p")).status_code == 413
    streamed = client.post("/api/echo", content=iter([b"x" * 60, b"x" * 60]), auth=("u", "p"))
    assert streamed.status_code == 413
    ok = client.post("/api/echo", content=iter([b"x" * 30, b"x" * 30]), auth=("u", "p"))
    assert ok.json() == {"n": 60}
    login_page = client.get("/")
    assert login_page.status_code == 200 and "named_endpoints" not in login_page.text
    assert "named_endpoints" in client.get("/", auth=("u", "p")).text  # logged in: untouched
    wrong = client.post("/api/echo", content=b"", auth=("u", "nope"))
    assert wrong.status_code == 401
    assert client.post("/api/echo", content=b"", auth=("u", "p")).status_code == 429  # the wait


def test_a_long_chat_keeps_bounded_memory_and_numbers_its_turns(tmp_path, monkeypatch):
    """Each answer renders only its own message; old answers are dropped past MAX_TURNS and their
    citations stop opening, while the newest keep their turn numbers."""
    from qa.web import session as web_session
    from qa.web.session import ChatSession
    from tests.conftest import make_home, settings_for

    text = "The bridge reopened on Tuesday after repairs."
    home = make_home(tmp_path, files={"a.txt": "Bridge\n" + text + "\n"})
    start = len("Bridge\n")
    cite = Citation(1, "a.txt", "Bridge", start, start + len(text), text, 0.9)

    class Engine:
        def ask(self, question, **kw):
            return Answer(question, f"{text} [1]", [cite])

    monkeypatch.setattr(web_session, "MAX_TURNS", 3)
    sess = ChatSession(Engine(), settings_for(home))
    sizes = []
    for i in range(8):
        msg, panel = sess.ask(f"When did the bridge reopen, take {i}?")
        sizes.append(len(msg))
        assert f'data-turn="{i}"' in msg and panel is not None
    assert len(sess.conv.turns) == 3 and max(sizes) - min(sizes) <= 2
    assert "not in this conversation" in text_of(sess.open(2, "cite", 1)[0])  # dropped
    doc, _ = sess.open(7, "cite", 1)
    assert "".join(parse(doc).marks[0][1]) == text
