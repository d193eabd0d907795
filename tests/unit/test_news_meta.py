"""Metadata through the index with the fake embedder: the manifest keeps each document's date,
outlet and URL, `qa index status` shows them, and a date range filters the sources of an answer."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from qa.chat import Engine
from qa.cli import cli
from qa.errors import QuestionError
from qa.index import build_index, read_manifest
from tests.conftest import ROOT, make_home, settings_for

NEWS_IN = ROOT / "tests" / "fixtures" / "news_in"


@pytest.fixture()
def news(tmp_path, fake_embedder):
    home = make_home(
        tmp_path, {"undated.txt": "Undated note\nThe ferry timetable changes in June."}
    )
    for name in ("metro_daily_port.html", "science_desk.atom", "radio_transcript.txt"):
        shutil.copy(NEWS_IN / name, home / "corpus" / name)
    settings = settings_for(home)
    build_index(settings, fake_embedder)
    return home, settings


def test_manifest_and_status_show_date_outlet_and_file_dates(news):
    home, _ = news
    docs = read_manifest(home / "index").documents
    assert docs["metro_daily_port.html"]["meta"]["url"].startswith("https://metrodaily.example/")
    assert docs["science_desk.atom#2"]["meta"]["published"] == "2025-01-13"
    assert docs["undated.txt"]["meta"]["date_source"] == "file mtime"
    out = CliRunner().invoke(cli, ["index", "status"], env={"QA_HOME": str(home)}).output
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ")}
    assert "2024-11-03, Metro Daily" in lines["metro_daily_port.html"]
    assert "2025-01-20, Science Desk Weekly" in lines["science_desk.atom#1"]
    assert "(file date)" in lines["undated.txt"]


def test_a_date_range_filters_the_sources(news, fake_embedder):
    _, settings = news
    engine = Engine(settings, fake_embedder)

    def sources(question: str, **kw) -> set[str]:
        a = engine.ask(question, k=10, **kw)
        return {c.source for c in a.citations + a.closest}

    glaciers = "How much ice thickness did the glaciers lose in the satellite survey?"
    assert "science_desk.atom#1" in sources(glaciers)
    assert sources(glaciers, until="2024-12-31") == {
        "metro_daily_port.html"
    }  # the only one by then
    strike = "What raise did the dock workers accept to end the port strike?"
    assert "metro_daily_port.html" in sources(strike)
    assert "metro_daily_port.html" not in sources(strike, since="2025-01-01")
    assert sources(strike, since="2025-01-01") <= {
        "science_desk.atom#1",
        "science_desk.atom#2",
        "radio_transcript.txt",
        "undated.txt",  # in range by its file date
    }
    with pytest.raises(QuestionError, match="no document published"):
        engine.ask(strike, since="2030-01-01")
