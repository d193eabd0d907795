"""The answer cache and the question-vector cache (qa/cache.py, qa/embed.py) through the engine,
with the fake embedder: a hit computes nothing, every option is part of the key, a reload drops the
old index's answers, and callers cannot change a cached answer."""

from __future__ import annotations

import pytest

from qa.cache import LRU, AnswerCache
from qa.chat import Conversation, Engine
from qa.config import Settings
from qa.errors import ConfigError
from qa.index import build_index
from tests.conftest import make_home, settings_for
from tests.fakes import FakeEmbedder

DOCS = {
    "harbour.txt": "Harbour news\nThe harbour crane lifted 40 containers on Monday. "
    "Anna Berg runs the harbour office in Tromso. She moved there in 2015.",
    "rail.txt": "Rail news\nThe rail yard crane lifted 12 wagons on Tuesday. "
    "Carl Dahl runs the rail office in Bergen. He moved there in 2009.",
}
QUESTION = "How many containers did the crane lift?"


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, counting the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts, **kw):
        self.texts.extend(texts)
        return super().encode(texts, **kw)


@pytest.fixture()
def home(tmp_path):
    home = make_home(tmp_path, DOCS)
    build_index(settings_for(home), FakeEmbedder())
    return home


def engine_for(home, **kw) -> tuple[Engine, CountingEmbedder]:
    emb = CountingEmbedder()
    return Engine(settings_for(home, **kw), emb), emb


def test_a_repeated_question_is_answered_without_the_embedder(home):
    engine, emb = engine_for(home)
    first = engine.ask(QUESTION)
    embedded = len(emb.texts)
    assert embedded >= 1 and first.citations
    again = engine.ask("  How many containers   did the crane lift? ")  # the same cleaned question
    assert len(emb.texts) == embedded
    assert again.to_dict() == first.to_dict()
    assert engine.answers.stats()["hits"] == 1


def test_every_option_is_part_of_the_key(home):
    engine, _ = engine_for(home)
    plain = engine.ask(QUESTION)
    rail = engine.ask(QUESTION, sources=["rail.txt"])
    assert {c.source for c in rail.citations + rail.closest} == {"rail.txt"}
    harbour = engine.ask(QUESTION, sources=["harbour.txt"])
    assert {c.source for c in harbour.citations + harbour.closest} == {"harbour.txt"}
    for kw in ({"k": 1}, {"mode": "bm25"}, {"mode": "dense"}, {"since": "2000-01-01"},
               {"until": "2100-01-01"}, {"resolved": "How many wagons did the crane lift?"}):  # fmt: skip
        engine.ask(QUESTION, **kw)
    stats = engine.answers.stats()
    assert stats["items"] == 3 + 6  # plain, two source filters, six option sets: none shared
    assert engine.ask(QUESTION).to_dict() == plain.to_dict()
    # the default mode and k name the same answer as leaving them out
    assert engine.ask(QUESTION, k=engine.settings.k, mode=engine.settings.mode).to_dict() == (
        plain.to_dict()
    )
    assert engine.answers.stats()["items"] == 9


def test_a_reload_drops_the_answers_of_the_old_index(home):
    engine, _ = engine_for(home)
    before = engine.ask(QUESTION, sources=["harbour.txt"])
    assert "40 containers" in before.answer
    (home / "corpus" / "harbour.txt").write_text(
        DOCS["harbour.txt"].replace("40 containers", "75 containers"), encoding="utf-8"
    )
    build_index(engine.settings, FakeEmbedder())
    assert "40 containers" in engine.ask(QUESTION, sources=["harbour.txt"]).answer  # not reloaded
    engine.reload()
    after = engine.ask(QUESTION, sources=["harbour.txt"])
    assert "75 containers" in after.answer and "40 containers" not in after.answer


def test_an_answer_changed_by_a_caller_leaves_the_cached_one_alone(home):
    engine, _ = engine_for(home)
    first = engine.ask(QUESTION)
    want = first.to_dict()
    first.citations.clear()
    first.closest.append("junk")
    first.figures.append("junk")
    assert engine.ask(QUESTION).to_dict() == want
    second = engine.ask(QUESTION)
    assert second.citations is not engine.ask(QUESTION).citations


def test_follow_ups_in_two_conversations_are_answered_for_their_own_subject(home):
    engine, _ = engine_for(home)
    a, b = Conversation(engine), Conversation(engine)
    a.ask("Who is Anna Berg?")
    b.ask("Who is Carl Dahl?")
    ra, rb = a.ask("When did she move there?"), b.ask("When did she move there?")
    assert "Anna Berg" in ra.resolved_question and "Carl Dahl" in rb.resolved_question
    assert ra.to_dict() != rb.to_dict()


def test_size_zero_turns_both_caches_off(home):
    engine, emb = engine_for(home, answer_cache=0)
    engine.ask(QUESTION)
    n = len(emb.texts)
    engine.ask(QUESTION)
    assert len(emb.texts) == 2 * n and engine.answers.stats()["items"] == 0


def test_the_setting_is_read_and_checked():
    assert Settings.from_env({"QA_ANSWER_CACHE": "0"}).answer_cache == 0
    assert Settings.from_env({"QA_ANSWER_CACHE": "50"}).answer_cache == 50
    assert Settings.from_env({}).answer_cache > 0
    for bad in ("-1", "many", "1.5", "100000000"):
        with pytest.raises(ConfigError, match="QA_ANSWER_CACHE"):
            Settings.from_env({"QA_ANSWER_CACHE": bad})


def test_lru_keeps_the_most_recently_used():
    lru: LRU[int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "b" is now the least recently used
    lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3 and len(lru) == 2


def test_an_answer_of_a_replaced_index_is_not_stored():
    from qa.answer import Answer

    old, new = object(), object()
    cache = AnswerCache(10)
    cache.bind(old)
    cache.put(old, ("q",), Answer("q", "from old", []))
    cache.bind(new)  # a reload while another thread was still answering from `old`
    cache.put(old, ("q",), Answer("q", "late, from old", []))
    assert cache.get(new, ("q",)) is None and cache.get(old, ("q",)) is None
    cache.put(new, ("q",), Answer("q", "from new", []))
    assert cache.get(new, ("q",)).answer == "from new"


def test_cached_only_looks_up(home):
    engine, emb = engine_for(home)
    assert engine.cached(QUESTION) is None  # no index loaded yet: nothing is loaded for it
    assert engine.cached(QUESTION, k=3) is None and emb.texts == []
    first = engine.ask(QUESTION, k=3)
    assert engine.cached(QUESTION) is None  # another k
    assert engine.cached(f" {QUESTION}\x00", k=3).to_dict() == first.to_dict()
    assert engine.cached("   ") is None and engine.cached(7) is None  # ask says what is wrong


def test_fresh_computes_again_past_the_cache(home):
    from qa.answer import Answer
    from qa.cache import answer_key

    engine, _ = engine_for(home)
    real = engine.ask(QUESTION)
    key = answer_key(QUESTION, QUESTION, engine.settings.k, engine.settings.mode, None, None, None)
    engine.answers.put(engine.index, key, Answer(QUESTION, "planted", []))
    assert engine.ask(QUESTION).answer == "planted"  # the key is the one ask uses
    assert engine.ask(QUESTION, fresh=True).to_dict() == real.to_dict()
    assert engine.ask(QUESTION).to_dict() == real.to_dict()  # and the fresh answer is kept
