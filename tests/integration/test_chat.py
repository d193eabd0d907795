"""Conversations: follow-up questions are resolved against earlier turns before retrieval."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.chat import Conversation
from qa.cli import cli

A2 = "002_00793e7f8cbc5f38.txt"


@pytest.mark.slow
def test_ryu_then_escape_retrieves_ryu_and_gives_the_year(engine, real_settings):
    conv = Conversation(engine)
    first = conv.ask("Who is Ryu Seong-hyeon?")
    assert not first.abstained and first.citations[0].source == A2
    second = conv.ask("When did he escape?")
    assert "Ryu Seong-hyeon" in second.resolved_question
    assert not second.abstained
    assert second.citations[0].source == A2
    assert "2019" in second.answer and any("escaped" in c.text for c in second.citations)
    assert second.figures == []  # a date question gets no figures block
    assert second.to_dict()["resolved_question"] == "When did Ryu Seong-hyeon escape?"
    # a fresh, self-contained question is not rewritten
    third = conv.ask("How many troops were deployed?")
    assert third.resolved_question == "How many troops were deployed?"
    assert "resolved_question" not in third.to_dict()
    assert {f.text for f in third.figures} >= {"about 11,000", "more than 12,000"}
    assert len(conv.turns) == 3


@pytest.mark.slow
def test_elliptic_follow_up_keeps_the_quantity(engine):
    conv = Conversation(engine)
    conv.ask("how many troops were deployed?")
    a = conv.ask("What about the wounded?")
    assert a.resolved_question == "How many troops were wounded?"
    assert a.figures and all("2,700" in f.quotes or "wounded" in f.text for f in a.figures)
    assert not any(f.low >= 10000 for f in a.figures)  # not the deployment figures


@pytest.mark.slow
def test_which_article_says_that_names_the_last_answers_sources(engine):
    conv = Conversation(engine)
    first = conv.ask("Who is Ryu Seong-hyeon?")
    second = conv.ask("Which article says that?")
    assert second.citations == first.citations and not second.abstained
    for c in first.citations:
        assert c.title in second.answer and c.source in second.answer


@pytest.mark.slow
def test_who_said_that_names_the_speaker_of_the_last_first_quote(engine):
    conv = Conversation(engine)
    first = conv.ask("What did the defector Pak Yusung say about captured soldiers?")
    quote = next(c for c in first.citations if c.id == first.quotes[0])
    assert "Pak Yusung, added" in quote.text
    second = conv.ask("Who said that?")
    assert second.answer.startswith(f"Pak Yusung said it [{quote.id}]")
    assert second.citations == [quote] and quote.source in second.answer


@pytest.mark.slow
def test_chat_json_resolves_follow_ups(real_settings):
    stdin = (
        "Who is Ryu Seong-hyeon?\nWhen did he escape?\nWho won the football world cup in 1998?\n"
    )
    res = CliRunner().invoke(
        cli,
        [
            "--corpus",
            str(real_settings.corpus_dir),
            "--index",
            str(real_settings.index_dir),
            "chat",
            "--json",
        ],
        input=stdin,
    )
    assert res.exit_code == 0, res.output
    first, second, third = (json.loads(line) for line in res.stdout.splitlines())
    assert "resolved_question" not in first
    assert second["question"] == "When did he escape?"
    assert second["resolved_question"] == "When did Ryu Seong-hyeon escape?"
    assert "2019" in second["answer"] and second["citations"][0]["source"] == A2
    src = (real_settings.corpus_dir / A2).read_text(encoding="utf-8")
    for c in second["citations"]:
        assert src[c["start"] : c["end"]] == c["text"]
    assert third["abstained"] is True and "resolved_question" not in third
