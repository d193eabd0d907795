"""The second gold file: business, health, sport, climate, technology and local-government news
written for these tests (tests/fixtures/news/), with figures in money, percent and counts, people
with roles, dates, and close-but-unanswerable questions. It must pass the seed gold file's floors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.evaluate import answer_contains, load_gold
from tests.conftest import make_home, settings_for

try:  # the seed gold file's floors, wherever its test lives
    from tests.integration.test_eval import GOLD_FLOORS
except ImportError:  # pragma: no cover - before test_eval moved into the integration tier
    from tests.test_eval import GOLD_FLOORS

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "fixtures" / "news"
GOLD = ROOT / "gold" / "news.jsonl"


@pytest.fixture(scope="module")
def news_settings(tmp_path_factory, embedder):
    from qa.index import build_index

    home = make_home(tmp_path_factory.mktemp("news"))
    for p in sorted(NEWS.glob("*.txt")):
        (home / "corpus" / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    settings = settings_for(home)
    build_index(settings, embedder)
    return settings


def test_news_gold_file_is_well_formed():
    docs = sorted(p.name for p in NEWS.glob("*.txt"))
    gold = load_gold(GOLD, docs)
    assert 6 <= len(docs) <= 10 and len(gold) >= 30
    assert {s for g in gold for s in g.sources} == set(docs)  # every article is asked about
    assert 5 <= sum(not g.answerable for g in gold) <= 10
    answers = [g.answer for g in gold if g.answer]
    assert any(re.search(r"[$€£]", a) for a in answers)  # money
    assert any(a.endswith("%") for a in answers)  # percent
    assert any(re.fullmatch(r"[\d,.]+( million)?", a) for a in answers)  # counts
    for g in gold:  # every expected answer is in one of its articles
        if g.answer:
            assert any(
                answer_contains((NEWS / s).read_text(encoding="utf-8"), g.answer) for s in g.sources
            ), g


@pytest.fixture(scope="module")
def news_eval(news_settings) -> dict:
    s = news_settings
    res = CliRunner().invoke(
        cli,
        ["--corpus", str(s.corpus_dir), "--index", str(s.index_dir), "eval", str(GOLD), "--json"],
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.slow
def test_news_gold_file_passes_the_seed_floors(news_eval):
    for name, floor in GOLD_FLOORS.items():
        if name != "abstention_accuracy":
            assert news_eval["metrics"][name] >= floor, (
                name,
                news_eval["metrics"][name],
                news_eval["misses"],
            )


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="close-but-unanswerable news questions are answered (abstention 0/7 when written; "
    "abstention is issue 10 item 3): remove this mark when it passes",
)
def test_news_gold_file_abstains_on_close_misses(news_eval):
    floor = GOLD_FLOORS["abstention_accuracy"]
    assert news_eval["metrics"]["abstention_accuracy"] >= floor, news_eval["misses"]


@pytest.mark.slow
def test_dated_figures_for_one_quantity_are_a_timeline(news_settings, embedder):
    """Two articles, October and December, give the hospital's flu beds: a change, not a disagreement."""
    from qa.chat import Engine

    a = Engine(news_settings, embedder).ask(
        "How many beds does St Brigid's Hospital have for flu patients?"
    )
    assert not a.figures_disagree
    assert (
        "changed over time: 120 as of 2024-10-22" in a.answer and "165 as of 2024-12-10" in a.answer
    )
    latest = Engine(news_settings, embedder).ask(
        "What is the latest number of beds St Brigid's Hospital has for flu patients?"
    )
    assert "(as of 2024-12-10): 165" in latest.answer
