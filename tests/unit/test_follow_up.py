"""Follow-ups: which questions lean on the last turn, and the whole question searched instead."""

from __future__ import annotations

import pytest

from qa.answer import Answer, Citation
from qa.follow_up import (
    is_citation_question,
    is_follow_up,
    plural_phrase,
    resolve_follow_up,
    sources_answer,
)


def turn(question: str, quote: str = "", abstained: bool = False) -> Answer:
    cites = [Citation(1, "a.txt", "Title A", 0, len(quote), quote, 0.5)] if quote else []
    return Answer(question, quote or "...", cites, abstained=abstained, resolved_question=question)


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("When did he resign?", True),
        ("What about the injured?", True),
        ("And the wounded?", True),
        ("Over what period?", True),
        ("Why?", True),
        ("Who said that?", True),
        ("Which article says that?", True),
        ("Where was his office?", True),
        ("How many buses did the city buy?", False),
        ("What did Mayor Okafor say about the levy?", False),
        ("Is this Acme's largest factory?", False),  # names its own subject
    ],
)
def test_follow_up_detection(question, follow_up):
    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize(
    ("previous", "question", "resolved"),
    [
        ("Who is Jane Okafor?", "When did she take office?", "When did Jane Okafor take office?"),
        ("Who is Jane Okafor?", "Where was her office?", "Where was Jane Okafor's office?"),
        ("How many nurses were hired?", "And the injured?", "How many nurses were injured?"),
        (
            "How many nurses were hired?",
            "What about the dismissed?",
            "How many nurses were dismissed?",
        ),
        (
            "How many phones did Samsung sell?",
            "And the tablets?",
            "How many tablets did Samsung sell?",
        ),
        ("Who is Jane Okafor?", "And Tom Reyes?", "Who is Tom Reyes?"),
        (
            "How many nurses were hired?",
            "Over what period?",
            "How many nurses were hired, and over what period?",
        ),
        (
            "Why did the council raise the levy?",
            "Since when?",
            "Why did the council raise the levy, and since when?",
        ),
        # "they" binds to the plural noun phrase, not to a string of capitalised words
        (
            "What did Mayor Okafor say about the striking bus drivers?",
            "What do they want?",
            "What do the striking bus drivers want?",
        ),
        (
            "What injuries did the two rescued climbers have?",
            "Where were they taken?",
            "Where were the two rescued climbers taken?",
        ),
        ("How many nurses were hired?", "Where will they work?", "Where will nurses work?"),
        (
            "What did Mayor Okafor say about the striking bus drivers?",
            "They want what?",
            "The striking bus drivers want what?",
        ),
        (
            "Why are the striking bus drivers angry?",
            "What did their union say?",
            "What did the striking bus drivers' union say?",
        ),
    ],
)
def test_rewrites_are_whole_questions(previous, question, resolved):
    assert resolve_follow_up(question, [turn(previous)]) == resolved


def test_a_sources_answer_is_passed_over():
    turns = [turn("Who is Jane Okafor?"), turn("Which article says that?")]
    assert (
        resolve_follow_up("When did she take office?", turns) == "When did Jane Okafor take office?"
    )


def test_nothing_to_lean_on_leaves_the_question_alone():
    assert resolve_follow_up("When did she resign?", []) == "When did she resign?"
    only_abstained = [turn("Who won the cup?", abstained=True)]
    assert resolve_follow_up("When did she resign?", only_abstained) == "When did she resign?"
    assert resolve_follow_up("How many buses did the city buy?", [turn("Who is Jane Okafor?")]) == (
        "How many buses did the city buy?"
    )


def test_plural_phrase_passes_over_what_the_question_asks_for():
    assert (
        plural_phrase("What injuries did the two rescued climbers have?")
        == "the two rescued climbers"
    )
    assert plural_phrase("How many nurses were hired?") == "nurses"
    assert plural_phrase("What did Mayor Okafor say?") == ""


def test_which_article_says_that_is_answered_from_the_last_citations():
    assert is_citation_question("Which article says that?")
    assert is_citation_question("What is the source?")
    assert not is_citation_question("Which article of the treaty covers fishing rights in the bay?")
    cites = [
        Citation(1, "a.txt", "Levy rises", 0, 5, "Levy.", 0.5),
        Citation(2, "b.txt", "Council meets", 0, 5, "Meet.", 0.4),
        Citation(3, "a.txt", "Levy rises", 6, 9, "Up.", 0.3),
    ]
    last = Answer("Why did the levy rise?", "Levy. [1] Meet. [2] Up. [3]", cites)
    a = sources_answer("Which article says that?", last)
    assert a.citations == cites and not a.abstained
    assert a.answer == (
        "The previous answer quotes “Levy rises” (a.txt) [1][3]; “Council meets” (b.txt) [2]."
    )


def test_a_pronoun_binds_to_the_person_the_answer_names_not_a_weekday():
    last = turn(
        "Who won the women's race?",
        "Kenya's Grace Wanjiru won the women's race at the marathon on Sunday.",
    )
    assert resolve_follow_up("What was her prize?", [last]) == "What was Grace Wanjiru's prize?"


def test_it_leans_on_the_previous_question_not_a_date_in_the_answer():
    last = turn(
        "What did the council decide about bus fares?",
        "Single bus fares in Brightwater will be cut to £2 from June, the council decided on Thursday.",
    )
    assert (
        resolve_follow_up("When does it start?", [last]) == "About bus fares: When does it start?"
    )
