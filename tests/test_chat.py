"""Conversations: follow-up questions are resolved against earlier turns before retrieval."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.answer import Answer
from qa.chat import Conversation, is_follow_up, resolve_follow_up
from qa.cli import cli

A2 = "002_00793e7f8cbc5f38.txt"


def turn(question: str, abstained: bool = False) -> Answer:
    return Answer(question, "...", [], abstained=abstained, resolved_question=question)


@pytest.mark.parametrize(
    "question,follow_up",
    [
        ("When did he escape?", True),
        ("What about the wounded?", True),
        ("Why?", True),
        ("Where was his family?", True),
        ("How many troops were deployed?", False),
        ("What did John Kirby say about North Korean losses?", False),
        (
            "Is this North Korea's largest deployment since the Korean War?",
            False,
        ),  # names its own subject
        ("What injuries did the two captured soldiers have?", False),
    ],
)
def test_follow_up_detection(question, follow_up):
    assert is_follow_up(question) is follow_up


def test_resolution_rule():
    ryu = [turn("Who is Ryu Seong-hyeon?")]
    assert resolve_follow_up("When did he escape?", ryu) == "When did Ryu Seong-hyeon escape?"
    assert resolve_follow_up("Where was his family?", ryu) == "Where was Ryu Seong-hyeon's family?"
    assert (
        resolve_follow_up("How many troops were deployed?", ryu) == "How many troops were deployed?"
    )
    troops = [turn("how many troops were deployed?")]
    assert resolve_follow_up("What about the wounded?", troops) == (
        "What about the wounded? (how many troops were deployed?)"
    )
    # nothing to lean on: the first question, or only abstained turns before it
    assert resolve_follow_up("When did he escape?", []) == "When did he escape?"
    assert resolve_follow_up(
        "When did he escape?", [turn("Who is Ryu?"), turn("Who won the cup?", True)]
    ) == ("When did Ryu escape?")


@pytest.mark.slow
def test_ryu_then_escape_retrieves_ryu_and_gives_the_year(engine, real_settings):
    conv = Conversation(engine)
    first = conv.ask("Who is Ryu Seong-hyeon?")
    assert not first.abstained and first.citations[0].source == A2
    second = conv.ask("When did he escape?")
    assert "Ryu Seong-hyeon" in second.resolved_question
    assert not second.abstained
    assert second.citations[0].source == A2
    assert "2019" in second.answer and "escaped" in second.citations[0].text
    assert [f.text for f in second.figures] == ["2019"]
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
    assert "wounded" in {f.kind for f in a.figures}
    assert all(f.kind in ("wounded", "casualties") for f in a.figures)


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
