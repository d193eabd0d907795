"""Sources that take opposite sides on a yes/no or fact question, on tiny inline texts."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np

from qa.answer.sides import opposing_sides


def sents(*pairs: tuple[str, str]) -> list:
    return [NS(text=t, chunk=NS(doc_id=d)) for d, t in pairs]


class Docs:
    def __init__(self, docs: dict | None = None) -> None:
        self.documents = docs or {}


def sides(question: str, sentences: list, docs: dict | None = None):
    return opposing_sides(question, sentences, np.linspace(1.0, 0.5, len(sentences)), Docs(docs))


def test_negated_and_plain_statements_from_two_sources_are_both_shown():
    s = sents(
        ("a.txt", "The mayor signed the stadium contract on Monday."),
        ("b.txt", "The mayor has not signed the stadium contract, her office said."),
    )
    found = sides(
        "Did the mayor sign the stadium contract?", s, {"a.txt": {"meta": {"outlet": "Herald"}}}
    )
    assert found is not None and found.sentences == [0, 1]
    text = found.render({0: 1, 1: 2})
    assert text.startswith(
        "The sources differ on this: [1] (Herald) and [2] (b.txt) take opposite sides"
    )
    assert "agree" not in text


def test_opposite_words():
    s = sents(
        ("a.txt", "Norveta confirmed talks with the regulator."),
        ("b.txt", "Norveta denied talks with the regulator."),
    )
    assert sides("Is Norveta holding talks with the regulator?", s) is not None


def test_agreeing_or_unrelated_sentences_are_not_opposed():
    agree = sents(
        ("a.txt", "The mayor signed the stadium contract on Monday."),
        ("b.txt", "On Monday the mayor signed the stadium contract."),
    )
    assert sides("Did the mayor sign the stadium contract?", agree) is None
    unrelated = sents(
        ("a.txt", "The mayor signed the stadium contract on Monday."),
        ("b.txt", "The bus drivers did not strike."),
    )
    assert sides("Did the mayor sign the stadium contract?", unrelated) is None


def test_copies_of_one_story_never_oppose_each_other():
    s = sents(
        ("a.txt", "The mayor signed the stadium contract on Monday."),
        ("b.txt", "The mayor has not signed the stadium contract."),
    )
    assert (
        sides("Did the mayor sign the stadium contract?", s, {"b.txt": {"same_story_as": "a.txt"}})
        is None
    )


def test_no_sides_on_why_questions():
    s = sents(
        ("a.txt", "The mayor signed the stadium contract on Monday."),
        ("b.txt", "The mayor has not signed the stadium contract."),
    )
    assert sides("Why did the mayor sign the stadium contract?", s) is None
