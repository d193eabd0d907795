"""Time and syndication through the real model: dated pages give one timeline of a figure, oldest
first; a story carried by three outlets is quoted once, names the others and counts as one source."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from qa.chat import Engine
from qa.cli import cli
from qa.corpus import read_document
from qa.index import build_index, read_manifest
from qa.web import render
from tests.conftest import ROOT, make_home, settings_for

SEED_HTML = ROOT / "tests" / "fixtures" / "seed_html"
SYNDICATED = ROOT / "tests" / "fixtures" / "syndicated"
COPIES = {
    "wire.md": "Coastal Wire Service",
    "gazette.md": "Valley Gazette",
    "courier.md": "City Courier",
}


def home_with(tmp_path_factory, name, folder, pattern, embedder):
    home = make_home(tmp_path_factory.mktemp(name))
    for p in folder.glob(pattern):
        shutil.copy(p, home / "corpus" / p.name)
    build_index(settings_for(home), embedder)
    return home


def ask_json(home, *args) -> dict:
    r = CliRunner().invoke(cli, ["ask", "--json", *args], env={"QA_HOME": str(home)})
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def assert_exact(home, citations) -> None:
    for c in citations:
        assert read_document(home / "corpus", c["source"]).text[c["start"] : c["end"]] == c["text"]


@pytest.fixture(scope="module")
def dated_home(tmp_path_factory, embedder):
    return home_with(tmp_path_factory, "dated", SEED_HTML, "*.html", embedder)


@pytest.fixture(scope="module")
def syndicated_home(tmp_path_factory, embedder):
    return home_with(tmp_path_factory, "syndicated", SYNDICATED, "*.md", embedder)


def test_dated_pages_give_one_timeline_of_the_four_figures_oldest_first(dated_home):
    out = ask_json(dated_home, "how many troops were deployed?")
    assert not out["abstained"] and not out["figures_disagree"]
    figs = out["figures"]
    assert len(figs) == 4 and all(f["kind"] == figs[0]["kind"] for f in figs)
    dates = [f["as_of"] for f in figs]
    assert dates == sorted(dates) and len(set(dates)) == 4  # one per outlet, oldest first
    by_id = {c["id"]: c for c in out["citations"]}
    for f in figs:  # each figure names its outlet and date, and cites that outlet's page
        (n,) = f["citations"]
        c = by_id[n]
        assert (
            f["as_of"] == c["published"] and f"as of {c['published']} ({c['outlet']})" in f["text"]
        )
        assert f["quotes"][0] in c["text"]
    assert [f["low"] for f in figs] == sorted(f["low"] for f in figs)  # the figure grew over time
    first = out["answer"].split("\n\n")[0]
    assert first.startswith("The figure for troops deployed changed over time:")
    assert "Another figure" not in first and "disagree" not in first
    assert out["sources_count"] == len({c["source"] for c in out["citations"]})
    assert_exact(dated_home, out["citations"])


def test_status_groups_the_three_copies(syndicated_home):
    docs = read_manifest(syndicated_home / "index").documents
    assert {d: e.get("same_story_as") for d, e in docs.items()} == {
        "wire.md": None, "gazette.md": "wire.md", "courier.md": "wire.md", "union.md": None,
    }  # fmt: skip


def test_a_syndicated_story_counts_once_and_names_its_other_outlets(syndicated_home):
    out = ask_json(syndicated_home, "How many nurses were hired?")
    assert not out["abstained"] and out["sources_count"] == 2
    stories = [c for c in out["citations"] if c["source"] in COPIES]
    assert len(stories) == 1  # the story is quoted once, from its first publication
    story = stories[0]
    assert story["source"] == "wire.md" and story["outlet"] == "Coastal Wire Service"
    assert sorted(story["also_in"]) == sorted(o for d, o in COPIES.items() if d != "wire.md")
    assert "also_in" not in next(c for c in out["citations"] if c["source"] == "union.md")
    assert re.search(
        rf"\[{story['id']}\] also carried by (City Courier|Valley Gazette)", out["answer"]
    )
    assert "2 independent sources" in out["answer"]
    # the figures: 240 once (three copies are one source) against the independent 180
    assert sorted(f["low"] for f in out["figures"]) == [180.0, 240.0]
    assert out["figures_disagree"]  # same date, different figures: two sources disagree, not four
    assert_exact(syndicated_home, out["citations"])


def test_the_ui_says_the_story_was_carried_by_the_other_outlets(syndicated_home, embedder):
    answer = Engine(settings_for(syndicated_home), embedder).ask("How many nurses were hired?")
    texts = {
        c.source: read_document(syndicated_home / "corpus", c.source).text for c in answer.citations
    }
    panel = render.sources_html(answer, 1, texts)
    assert "Same story also carried by" in panel and "(counted once)" in panel
    assert "City Courier" in panel and "Valley Gazette" in panel
    message = render.answer_html(answer, 1)
    assert "also carried by" in message and "2 independent sources" in message
