"""Real news in: saved pages, PDFs, feeds, exports, Markdown and .txt headers become documents with
their metadata, without the sites' furniture, with exact offsets; bad files are skipped with a fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.corpus import (
    chunk_documents,
    group_duplicates,
    load_corpus,
    published_between,
    read_document,
)
from qa.corpus.documents import Document
from qa.corpus.loaders.pdf import page_of
from qa.errors import QuestionError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "news_in"
ARTICLES = [
    "coastal_herald_bridge.html",
    "metro_daily_port.html",
    "river_post_wildfire.html",
    "harbour_report.pdf",
    "regional_feed.rss",
    "science_desk.atom",
    "wire_export.jsonl",
    "council_note.md",
    "radio_transcript.txt",
]
# Site furniture of the saved pages: none of it may reach a document's text.
FURNITURE = [
    "cookie", "Accept all", "I agree", "consent", "Home", "Sport", "Weather", "Subscribe",
    "ADVERTISEMENT", "Advertisement", "SPONSORED", "cheap flights", "energy prices", "Holiday homes",
    "Related", "Read more", "You may also like", "Most read", "Ferry strike ends", "cycle lanes",
    "Rail freight", "Drought raises fire risk", "New fire station", "Celebrity chef",
    "newsletter", "Sign up", "Share on", "Comments", "About time they settled", "inflation this high",
    "All rights reserved", "Privacy", "Terms of use", "Tags:", "partners",
]  # fmt: skip


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("news") / "corpus"
    corpus.mkdir()
    for name in ARTICLES:
        shutil.copy(FIXTURES / name, corpus / name)
    docs, skipped = load_corpus(corpus)
    return corpus, {d.doc_id: d for d in docs}, {s.name: s.reason for s in skipped}


def test_every_article_of_every_format_is_a_document(news):
    _, docs, skipped = news
    assert sorted(docs) == sorted([
        "coastal_herald_bridge.html", "metro_daily_port.html", "river_post_wildfire.html",
        "harbour_report.pdf", "regional_feed.rss#1", "regional_feed.rss#2", "science_desk.atom#1",
        "science_desk.atom#2", "wire_export.jsonl#1", "wire_export.jsonl#2", "wire_export.jsonl#5",
        "council_note.md", "radio_transcript.txt",
    ])  # fmt: skip
    # a feed entry without text and the export's bad records are listed, the rest of the file indexes
    assert skipped.keys() == {"regional_feed.rss#3", "wire_export.jsonl#3", "wire_export.jsonl#4"}
    assert "no text" in skipped["regional_feed.rss#3"]
    assert skipped["wire_export.jsonl#3"].startswith("line 3: not valid JSON")
    assert "fix or remove" in skipped["wire_export.jsonl#3"]
    assert skipped["wire_export.jsonl#4"].startswith("line 4: no text")


@pytest.mark.parametrize(
    "name", ["coastal_herald_bridge.html", "metro_daily_port.html", "river_post_wildfire.html"]
)
def test_saved_pages_keep_the_article_and_drop_the_furniture(news, name):
    _, docs, _ = news
    text = docs[name].text
    for word in FURNITURE:
        assert word not in text, (name, word)
    assert len(text.split("\n")) >= 4  # the article's paragraphs, one a line


def test_saved_pages_metadata_from_json_ld_og_and_canonical(news):
    _, docs, _ = news
    expect = {
        "coastal_herald_bridge.html": ("Harbour bridge reopens after repairs", "2024-10-18", "The Coastal Herald",
                                       "Jane Doe", "https://coastal-herald.example/news/harbour-bridge-reopens"),
        # JSON-LD: the publication date, not dateModified (2024-11-05)
        "metro_daily_port.html": ("Port workers end strike after pay deal", "2024-11-03", "Metro Daily",
                                  "Tomas Berg", "https://metrodaily.example/business/2024/11/03/port-strike-ends/"),
        "river_post_wildfire.html": ("Wildfire near Valdoro contained, officials say", "2025-02-14", "The River Post",
                                     "Amira Haddad", "https://riverpost.example/2025/02/14/valdoro-wildfire-contained"),
    }  # fmt: skip
    for name, (title, published, outlet, author, url) in expect.items():
        d = docs[name]
        assert d.title == title
        assert d.meta == {"published": published, "outlet": outlet, "author": author, "url": url,
                          "date_source": "page"}  # fmt: skip
    assert "2,400 workers a 6 percent raise" in docs["metro_daily_port.html"].text


def test_pdf_pages_are_kept(news):
    _, docs, _ = news
    d = docs["harbour_report.pdf"]
    assert d.title == "Harbour Authority annual report 2024"
    assert d.meta["pages"][0] == 0 and len(d.meta["pages"]) == 3
    for n, marker in enumerate(["Page one", "Page two", "Page three"], 1):
        at = d.text.index(marker)
        assert d.meta["pages"][n - 1] == at
        assert page_of(d.meta["pages"], at) == n
        assert page_of(d.meta["pages"], at + len(marker)) == n
    assert page_of(d.meta["pages"], d.text.index("96 million")) == 2
    assert d.meta["published"] == "2025-03-31" and d.meta["author"] == "Harbour Authority"


def test_feed_entries_carry_date_link_and_outlet(news):
    _, docs, _ = news
    ferry = docs["regional_feed.rss#1"]
    assert ferry.title == "Ferry line to Skarvik resumes winter service"
    assert ferry.text.startswith(
        "The ferry line between the mainland"
    )  # full content, not the teaser
    assert "teaser" not in ferry.text
    assert ferry.meta == {"published": "2024-12-02", "outlet": "Northern Gazette - Regional News",
                          "author": "Lena Holm", "url": "https://northerngazette.example/2024/12/02/ferry-skarvik",
                          "date_source": "feed"}  # fmt: skip
    assert docs["regional_feed.rss#2"].text.startswith(
        "The central library"
    )  # summary when no content
    glacier, birds = docs["science_desk.atom#1"], docs["science_desk.atom#2"]
    assert (
        glacier.meta["published"] == "2025-01-20"
        and glacier.meta["outlet"] == "Science Desk Weekly"
    )
    assert "1.3 metres" in glacier.text and "<p>" not in glacier.text
    assert birds.meta["published"] == "2025-01-13"  # only <updated>: that date


def test_export_records_markdown_and_txt_header(news):
    _, docs, _ = news
    rates = docs["wire_export.jsonl#1"]
    assert rates.meta["outlet"] == "Example Wire" and rates.meta["published"] == "2024-12-12"
    assert docs["wire_export.jsonl#2"].text.startswith(
        "The airport handled 31 million"
    )  # HTML made text
    assert docs["wire_export.jsonl#5"].title == "Museum reopens after renovation"
    md = docs["council_note.md"]
    assert not md.text.startswith("---") and "source:" not in md.text
    assert md.meta == {"published": "2024-12-19", "outlet": "Town Hall Bulletin", "author": "Office of the Clerk",
                       "url": "https://townhall.example/bulletins/2024-12-19-budget", "date_source": "front matter"}  # fmt: skip
    txt = docs["radio_transcript.txt"]
    assert txt.title == "Storm closes mountain pass" and "Outlet:" not in txt.text
    assert txt.meta == {"published": "2025-03-02", "outlet": "Valley Radio", "author": "Chris Moreau",
                        "date_source": "header"}  # fmt: skip


def test_offsets_are_exact_on_the_extracted_text(news):
    corpus, docs, _ = news
    for doc_id, d in docs.items():
        assert read_document(corpus, doc_id).text == d.text  # the viewer shows what was indexed
        assert read_document(corpus, doc_id).meta == d.meta
    for size, overlap in [(600, 100), (120, 30)]:
        for c in chunk_documents(list(docs.values()), size, overlap):
            assert docs[c.doc_id].text[c.start : c.end] == c.text


def test_missing_metadata_stays_missing_and_a_file_date_is_labelled(tmp_path):
    (tmp_path / "plain.txt").write_text("A headline\nThe body of a note without any date.")
    (tmp_path / "tagged.md").write_text("---\ntitle: Only a title\n---\nBody text here.")
    docs, _ = load_corpus(tmp_path)
    for d in docs:
        assert d.meta["date_source"] == "file mtime" and len(d.meta["published"]) == 10
        assert "outlet" not in d.meta and "url" not in d.meta and "author" not in d.meta
    assert {d.title for d in docs} == {"A headline", "Only a title"}


def test_bad_files_of_each_kind_are_skipped_with_a_fix(tmp_path):
    pdf = (FIXTURES / "harbour_report.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(pdf[: len(pdf) // 2])
    (tmp_path / "fake.pdf").write_bytes(b"this is not a pdf")
    shutil.copy(FIXTURES / "empty_page.html", tmp_path / "no_body.html")
    (tmp_path / "empty.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
    )
    (tmp_path / "not_a_feed.xml").write_text("<config><value>1</value></config>")
    (tmp_path / "broken.json").write_text('[{"title": "a", "text": "b"')
    (tmp_path / "bad_front.md").write_text("---\ntitle: [unclosed\n---\nBody")
    shutil.copy(FIXTURES / "river_post_wildfire.html", tmp_path / "good.html")
    docs, skipped = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["good.html"]
    reasons = {s.name: s.reason for s in skipped}
    expect = {
        "truncated.pdf": ("damaged or truncated PDF", "export the PDF again"),
        "fake.pdf": ("not a PDF file", "export the document as PDF again"),
        "no_body.html": ("no article text found", "save the article page itself"),
        "empty.rss": ("the feed has no entries", "save the feed again"),
        "not_a_feed.xml": ("not an RSS or Atom feed", "remove the file"),
        "broken.json": ("not valid JSON", "fix the file or export it again"),
        "bad_front.md": ("front matter is not valid YAML", "fix the block between the `---` lines"),
    }
    assert reasons.keys() == expect.keys()
    for name, (problem, fix) in expect.items():
        assert problem in reasons[name] and fix in reasons[name], (name, reasons[name])


def _doc(doc_id: str, text: str, published: str | None = None) -> Document:
    return Document(doc_id, doc_id, text, doc_id, {"published": published} if published else {})


STORY = (
    "The regional water authority said on Tuesday that reservoir levels had fallen to 41 percent of "
    "capacity after the driest summer in three decades, and asked households to cut use by a tenth. "
    "Farmers in the valley will receive a quarter less irrigation water from next month, it said, while "
    "hosepipe bans already in force in four towns would be extended until the end of October. "
)


def test_syndicated_copies_are_grouped_under_the_first_publication():
    docs = [
        _doc("wire.html", STORY + "Reporting by the wire desk.", "2024-08-02"),
        _doc("outlet_a.html", "Drought: " + STORY + "Related: more water news.", "2024-08-03"),
        _doc("outlet_b.html", STORY.replace("Tuesday", "Tuesday (Aug 1)") + "Copyright outlet B.", "2024-08-04"),
        _doc("independent.html", "Reservoirs in the region are at 41 percent, lower than in any year since "
             "records began, local farmers told our reporter, and irrigation quotas will fall next month.", "2024-08-01"),
        _doc("short.txt", "Reservoir levels fell."),
    ]  # fmt: skip
    groups = group_duplicates(docs)
    assert groups == {
        "outlet_a.html": "wire.html",
        "outlet_b.html": "wire.html",
    }  # the earliest copy
    assert group_duplicates(docs[3:]) == {}


def test_date_range_filter_picks_documents_by_publication_date():
    meta = {"a": {"published": "2024-10-01"}, "b": {"published": "2025-01-10"}, "c": {}}
    assert published_between(meta, "2025-01-01", None) == ["b"]
    assert published_between(meta, None, "2024-12-31") == ["a"]
    assert published_between(meta, "2024-01-01", "2025-12-31", among=["b", "c"]) == ["b"]
    with pytest.raises(QuestionError, match="no document published"):
        published_between(meta, "2026-01-01", None)
    with pytest.raises(QuestionError, match="not a date"):
        published_between(meta, "last week", None)


def test_extracted_pages_are_kept_on_disk_between_processes(tmp_path, monkeypatch):
    from qa.corpus import load
    from qa.corpus.loaders import LOADERS

    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    corpus.mkdir()
    for name in ("river_post_wildfire.html", "harbour_report.pdf", "science_desk.atom"):
        shutil.copy(FIXTURES / name, corpus / name)
    load.clear_cache()
    first, _ = load_corpus(corpus, cache_dir=cache)
    assert len(list((cache / "extract").rglob("*.json"))) == 3
    load.clear_cache()  # as a new process would start

    def must_not_run(raw: bytes, name: str):
        raise AssertionError(f"{name} extracted again")

    for suffix in (".html", ".pdf", ".atom"):
        monkeypatch.setitem(LOADERS, suffix, must_not_run)
    again, _ = load_corpus(corpus, cache_dir=cache)
    assert [(d.doc_id, d.text, d.meta, d.title) for d in again] == [
        (d.doc_id, d.text, d.meta, d.title) for d in first
    ]
    monkeypatch.undo()
    for p in (cache / "extract").rglob("*.json"):  # a damaged cache entry is extracted again
        p.write_text("{not json")
    load.clear_cache()
    assert [d.text for d in load_corpus(corpus, cache_dir=cache)[0]] == [d.text for d in first]
