"""Who said a quote: the attribution its own sentence gives, a pronoun's person, or no one."""

from __future__ import annotations

import pytest

from qa.answer import Answer, Citation
from qa.answer.speakers import speaker
from qa.follow_up import is_speaker_question, resolve_follow_up, speaker_answer


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            '"We will rebuild," said Ana Ortiz, a 41-year-old teacher from Lima, on Sunday.',
            ("Ana Ortiz, a 41-year-old teacher from Lima", "said"),
        ),
        (
            '"Fares will rise," Tom Baker, who chairs the transport committee, said.',
            ("Tom Baker", "said"),
        ),
        ('Another nurse, Mei Lin, added, "We were exhausted."', ("Mei Lin", "said")),
        (
            "Chief executive Maria Lindqvist told analysts that orders doubled.",
            ("Maria Lindqvist", "said"),
        ),
        ('"Prices will rise," said the bank\'s governor.', ("the bank's governor", "said")),
        ("The agency also confirmed that the plant was closed.", ("The agency", "said")),
        ("According to U.S. estimates, 12,000 people left.", ("U.S. estimates", "according to")),
        ("On Thursday, 300 people were evacuated from the valley.", ("", "")),
        ("The museum reopened in May after a long renovation.", ("", "")),
    ],
)
def test_the_speaker_a_sentence_names(sentence, expected):
    assert speaker(sentence) == expected


def test_he_said_takes_the_last_full_name_before():
    before = "Council leader Jane Okafor spoke on Monday. Her deputy agreed."
    assert speaker('"We will not stop," she said.', before) == ("Jane Okafor", "said")
    assert speaker('"We will not stop," she said.') == ("", "")  # no one to bind to


def last_answer(quote: str, source_text: str = "") -> tuple[Answer, dict]:
    start = source_text.find(quote) if source_text else 0
    c = Citation(1, "a.txt", "Title A", start, start + len(quote), quote, 0.5, outlet="Daily")
    return Answer("q?", f"{quote} [1]", [c], quotes=(1,)), {"a.txt": source_text}


def test_who_said_that_is_answered_from_the_last_first_quote():
    assert is_speaker_question("Who said that?") and is_speaker_question("According to whom?")
    assert not is_speaker_question("Who said the bridge would close?")
    last, _ = last_answer('"Fares will rise," Tom Baker, who chairs the committee, said.')
    a = speaker_answer("Who said that?", last)
    assert a.answer.startswith("Tom Baker said it [1], in “Title A” (a.txt, Daily).")
    assert a.citations == last.citations and a.quotes == (1,)
    last, _ = last_answer("Bus fares will rise by 10% in March.")
    a = speaker_answer("Who said that?", last)  # the article's own words: no speaker guessed
    assert "names no speaker [1]" in a.answer and "said it" not in a.answer


def test_a_pronoun_speaker_is_read_from_the_source_before_the_quote():
    text = 'Mayor Rosa Diaz met drivers on Monday. "We hear you," she said. Talks resume soon.'
    last, texts = last_answer('"We hear you," she said.', text)
    a = speaker_answer("Who said that?", last, texts.get)
    assert a.answer.startswith("Mayor Rosa Diaz said it [1]")


def test_who_said_that_without_a_quote_asks_about_the_previous_question():
    prev = Answer("How many nurses were hired?", "...", [], resolved_question=None)
    assert resolve_follow_up("Who said that?", [prev]) == (
        "Who said that: How many nurses were hired?"
    )
