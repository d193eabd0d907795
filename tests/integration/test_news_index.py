"""Real news through the real model: dated HTML pages, feeds, exports and a PDF are indexed with their
metadata, answered with exact citations, filtered by date, and syndicated copies are grouped."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.corpus import read_document
from qa.index import build_index, read_manifest
from tests.conftest import ROOT, make_home, settings_for

SEED_HTML = ROOT / "tests" / "fixtures" / "seed_html"
NEWS_IN = ROOT / "tests" / "fixtures" / "news_in"
# what tests/fixtures/seed_html/make_pages.py invented for each page
SEED_META = {
    "001_e4cce470ff14cd12.html": ("2024-12-28", "The Example Ledger"),
    "000_1b968beef730d8b4.html": ("2025-01-06", "Northbridge Times"),
    "003_56f3c575adb43a3c.html": ("2025-01-15", "Daily Meridian"),
    "002_00793e7f8cbc5f38.html": ("2025-01-22", "Harbor Wire"),
}


def run(home, *args):
    r = CliRunner().invoke(cli, list(args), env={"QA_HOME": str(home)})
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"qa {' '.join(args)} crashed: {r.exception!r}") from r.exception
    return r


def ask_json(home, *args) -> dict:
    r = run(home, "ask", "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def assert_exact(home, citations) -> None:
    for c in citations:
        text = read_document(home / "corpus", c["source"]).text
        assert text[c["start"] : c["end"]] == c["text"], c


@pytest.fixture(scope="module")
def seed_html_home(tmp_path_factory, embedder):
    home = make_home(tmp_path_factory.mktemp("seed_html"))
    for p in SEED_HTML.glob("*.html"):
        shutil.copy(p, home / "corpus" / p.name)
    build_index(settings_for(home), embedder)
    return home


def test_dated_pages_carry_their_metadata_into_the_index(seed_html_home):
    docs = read_manifest(seed_html_home / "index").documents
    assert set(docs) == set(SEED_META)
    for doc_id, (published, outlet) in SEED_META.items():
        meta = docs[doc_id]["meta"]
        assert (meta["published"], meta["outlet"], meta["date_source"]) == (
            published,
            outlet,
            "page",
        )
        assert meta["url"].startswith("https://") and meta["author"]
        text = read_document(seed_html_home / "corpus", doc_id).text
        seed = (ROOT / "tests" / "fixtures" / "seed" / doc_id.replace(".html", ".txt")).read_text()
        assert all(line.strip() in text for line in seed.split("\n"))  # every line of the article
        for furniture in (
            "cookies",
            "Accept all",
            "Advertisement",
            "Related stories",
            "Ten recipes",
            "Privacy",
        ):
            assert furniture not in text, (doc_id, furniture)
    status = json.loads(run(seed_html_home, "index", "status", "--json").output)
    assert {d["doc_id"]: d["meta"]["outlet"] for d in status["documents"]} == {
        k: v[1] for k, v in SEED_META.items()
    }


def test_troops_question_is_answered_from_the_dated_pages(seed_html_home):
    out = ask_json(seed_html_home, "how many troops were deployed?")
    assert not out["abstained"]
    assert {c["source"] for c in out["citations"]} <= set(SEED_META)
    assert_exact(seed_html_home, out["citations"])
    quoted = " ".join(c["text"] for c in out["citations"])
    assert "10,000" in quoted and "12,000" in quoted  # the October figure and the latest
    for c in out["citations"]:  # every citation names its article's date and outlet
        assert (c.get("published"), c.get("outlet")) == SEED_META[c["source"]], c


def test_since_and_until_filter_the_sources_by_date(seed_html_home):
    late = ask_json(seed_html_home, "--since", "2025-01-10", "how many troops were deployed?")
    assert late["citations"] and {c["source"] for c in late["citations"]} <= {
        "003_56f3c575adb43a3c.html",
        "002_00793e7f8cbc5f38.html",
    }
    early = ask_json(seed_html_home, "--until", "2024-12-31", "how many troops were deployed?")
    assert {c["source"] for c in early["citations"]} == {"001_e4cce470ff14cd12.html"}
    assert_exact(seed_html_home, late["citations"] + early["citations"])
    r = run(seed_html_home, "ask", "--since", "2026-01-01", "how many troops were deployed?")
    assert r.exit_code == 1 and "no document published between 2026-01-01" in r.output
    r = run(seed_html_home, "ask", "--since", "yesterday", "how many troops?")
    assert r.exit_code == 1 and "not a date" in r.output


@pytest.fixture(scope="module")
def news_home(tmp_path_factory, embedder):
    home = make_home(tmp_path_factory.mktemp("news_in"))
    for name in ("metro_daily_port.html", "harbour_report.pdf", "regional_feed.rss", "science_desk.atom",
                 "wire_export.jsonl", "council_note.md", "radio_transcript.txt"):  # fmt: skip
        shutil.copy(NEWS_IN / name, home / "corpus" / name)
    build_index(settings_for(home), embedder)
    return home


@pytest.mark.parametrize(
    "question,source",
    [
        ("How many workers does the port employ?", "metro_daily_port.html"),
        ("How much did the authority spend on new cranes?", "harbour_report.pdf"),
        ("How many crossings a day does the Skarvik ferry make?", "regional_feed.rss#1"),
        ("How much ice did the glaciers lose?", "science_desk.atom#1"),
        ("How many passengers did the airport handle?", "wire_export.jsonl#2"),
        ("How large is the council budget for 2025?", "council_note.md"),
        ("How much snow fell on the mountain pass?", "radio_transcript.txt"),
    ],
)
def test_each_format_answers_with_exact_citations(news_home, question, source):
    out = ask_json(news_home, question)
    assert out["citations"] and out["citations"][0]["source"] == source, out["citations"][:1]
    assert_exact(news_home, out["citations"])


def test_bad_records_are_listed_and_the_rest_indexes(news_home):
    status = json.loads(run(news_home, "index", "status", "--json").output)
    by_id = {d["doc_id"]: d for d in status["documents"]}
    assert by_id["wire_export.jsonl#3"]["status"] == "skipped"
    assert "line 3" in by_id["wire_export.jsonl#3"]["reason"]
    assert by_id["wire_export.jsonl#5"]["status"] == "indexed"
    assert by_id["harbour_report.pdf"]["meta"]["pages"][0] == 0


STORY = (
    "The regional water authority said on Tuesday that reservoir levels had fallen to 41 percent of capacity "
    "after the driest summer in three decades, and asked households to cut their use by a tenth. Farmers in "
    "the valley will receive a quarter less irrigation water from next month, it said, while hosepipe bans "
    "already in force in four towns would be extended until the end of October."
)


def test_a_syndicated_story_is_grouped_under_its_first_publication(tmp_path, embedder):
    pages = {
        "wire.md": ("Wire Service", "2024-08-02", STORY),
        "gazette.md": ("Valley Gazette", "2024-08-03", "Drought latest. " + STORY + " Related: more news."),
        "courier.md": ("City Courier", "2024-08-04", STORY.replace("Tuesday", "Tuesday morning")),
        "farmer.md": ("Farm Weekly", "2024-08-05", "Farmers told us the irrigation cut will cost them a harvest: "
                      "the valley's growers expect yields to fall by a fifth, and some will leave fields fallow."),
    }  # fmt: skip
    files = {n: f"---\nsource: {o}\ndate: {d}\n---\n{t}\n" for n, (o, d, t) in pages.items()}
    home = make_home(tmp_path, files)
    build_index(settings_for(home), embedder)
    docs = read_manifest(home / "index").documents
    assert {d: e.get("same_story_as") for d, e in docs.items()} == {
        "wire.md": None, "gazette.md": "wire.md", "courier.md": "wire.md", "farmer.md": None,
    }  # fmt: skip
    text = run(home, "index", "status").output
    assert "same story as wire.md" in text


def test_a_pdf_citation_names_the_page_it_quotes(news_home):
    out = ask_json(news_home, "How much did the authority spend on new cranes?")
    status = json.loads(run(news_home, "index", "status", "--json").output)
    pages = {d["doc_id"]: d for d in status["documents"]}["harbour_report.pdf"]["meta"]["pages"]
    text = read_document(news_home / "corpus", "harbour_report.pdf").text
    cited = [c for c in out["citations"] if c["source"] == "harbour_report.pdf"]
    assert cited and all(isinstance(c.get("page"), int) for c in cited)
    bounds = [*pages, len(text) + 1]
    for c in cited:  # the named page holds the quoted words
        assert bounds[c["page"] - 1] <= c["start"] < bounds[c["page"]], (c["page"], pages)
    assert all(
        "page" not in c
        for c in ask_json(news_home, "How large is the council budget for 2025?")["citations"]
    )
