"""Answers on the real corpus with the real model: quoted sentences, exact offsets, figures, abstention."""

from __future__ import annotations

import re

import pytest

from qa.answer import split_sentences
from qa.corpus import read_document
from tests.conftest import make_home, settings_for

A0, A1, A2, A3 = (
    "000_1b968beef730d8b4.txt",
    "001_e4cce470ff14cd12.txt",
    "002_00793e7f8cbc5f38.txt",
    "003_56f3c575adb43a3c.txt",
)
TROOPS = "how many troops were deployed?"


def check_citations(answer, corpus_dir):
    """Every span equals its source text, sits in its passage, and every quoted sentence carries its [n]."""
    assert [c.id for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    by_id = {c.id: c for c in answer.citations}
    for c in answer.citations:
        assert read_document(corpus_dir, c.source).text[c.start : c.end] == c.text
        assert c.passage_start <= c.start < c.end <= c.passage_end
    # numbered in order of first appearance in the answer text
    first_seen = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)))
    assert first_seen == [c.id for c in answer.citations]
    # the quoted part (last paragraph) is nothing but cited sentences: "<sentence> [n] <sentence> [n]"
    body = answer.answer.split("\n\n")[-1]
    pieces = re.findall(r"(.+?) \[(\d+)\](?: |$)", body)
    assert pieces and " ".join(f"{t} [{n}]" for t, n in pieces) == body
    for text, n in pieces:
        assert by_id[int(n)].text == text
    return pieces


@pytest.fixture(scope="module")
def troops(engine):
    return engine.ask(TROOPS)


@pytest.mark.slow
def test_troop_question_quotes_the_sentences_that_give_the_figures(troops, real_settings):
    assert not troops.abstained
    check_citations(troops, real_settings.corpus_dir)
    cited: dict[str, list[str]] = {}
    for c in troops.citations:
        cited.setdefault(c.source, []).append(c.text)
    assert {A0, A1, A2, A3} <= set(cited)
    for source, figure in [(A0, "11,000"), (A1, "10,000"), (A2, "12,000"), (A3, "11,000-12,000")]:
        assert any(figure in text for text in cited[source]), cited[source]


@pytest.mark.slow
def test_troop_figures_each_with_its_scope_and_citation(troops):
    shown = {f.text for f in troops.figures}
    assert {"about 11,000", "11,000-12,000", "more than 12,000"} <= shown
    assert any(f.text.startswith("about 10,000") for f in troops.figures)
    assert not any("3,000" in t for t in shown)  # killed or wounded: another count
    rng = next(f for f in troops.figures if f.text == "11,000-12,000")
    assert (rng.low, rng.high) == (11000, 12000)
    assert troops.figures_disagree  # undated, same thing, same subject, no period: they disagree
    first_line = troops.answer.split("\n\n")[0]
    assert first_line.startswith("The sources disagree on troops deployed")
    by_id = {c.id: c for c in troops.citations}
    for f in troops.figures:
        assert f.citations and f"{f.text} " + "".join(f"[{c}]" for c in f.citations) in first_line
        for cid in f.citations:  # each figure's citation quotes that figure
            assert any(q in by_id[cid].text for q in f.quotes)
    out = troops.to_dict()
    assert out["figures_disagree"] is True and {f["text"] for f in out["figures"]} == shown


@pytest.mark.slow
def test_casualty_figures_are_about_the_asked_quantity(engine, real_settings):
    a = engine.ask("How many North Korean soldiers were wounded?")
    check_citations(a, real_settings.corpus_dir)
    assert ("2,700",) in [f.quotes for f in a.figures]
    assert not any(q == "300" for f in a.figures for q in f.quotes)  # "300 killed": another count
    assert not a.figures_disagree  # "3,000 killed or wounded", if given, is its own scope
    assert all("killed or wounded" in f.text for f in a.figures if "3,000" in f.quotes)


@pytest.mark.slow
def test_close_miss_quantity_says_the_sources_give_no_figure(engine):
    a = engine.ask("How many Ukrainian soldiers have been killed?")
    assert a.figures == [] and not a.figures_disagree
    assert a.abstained or a.answer.startswith(
        "The sources give no figure for Ukrainian soldiers killed"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "question,expected_source,fact",
    [
        ("Who is Ryu Seong-hyeon?", A2, "defector"),
        ("What injuries did the two captured soldiers have?", A3, "jaw injuries"),
        (
            "Which fighter jets will Russia provide to North Korea in exchange for troops?",
            A1,
            "MiG-29",
        ),
        pytest.param(
            "How did the defector get across the border?",
            A2,
            "minefield",
            # A known miss of the learned sentence scorer (trained on SQuAD 01-17 only, never on
            # these articles): it quotes a neighbouring quote instead. Kept visible, not tuned away.
            marks=pytest.mark.xfail(
                strict=True, reason="paraphrase: the scorer ranks another sentence first"
            ),
        ),
    ],
)
def test_answers_quote_the_fact(engine, real_settings, question, expected_source, fact):
    a = engine.ask(question)
    pieces = check_citations(a, real_settings.corpus_dir)
    assert len(pieces) <= 6
    assert any(c.source == expected_source and fact in c.text for c in a.citations), a.answer


@pytest.mark.slow
def test_near_identical_sentences_are_quoted_once(tmp_path, embedder):
    from qa.chat import Engine
    from qa.index import build_index

    body = "The bridge over the Selva river reopened on Monday after four months of repairs. "
    home = make_home(
        tmp_path,
        {
            "a.txt": "Bridge reopens\n" + body * 3 + "Traffic was heavy on the first day.",
            "b.txt": "Selva crossing\nOfficials said the bridge over the Selva river reopened on Monday after four "
            "months of repairs. Engineers will inspect it again in spring.",
        },
    )
    s = settings_for(home)
    build_index(s, embedder)
    a = Engine(s, embedder).ask("When did the bridge over the Selva reopen?")
    pieces = check_citations(a, s.corpus_dir)
    texts = [t for t, _ in pieces]
    assert len(texts) == len(set(texts))
    assert sum("reopened on Monday" in t for t in texts) == 1


UNRELATED = [
    "Who won the football world cup in 1998?",
    "What is the boiling point of ethanol?",
    "How do I bake sourdough bread?",
    "What was Apple's stock price yesterday?",
    "What is the chemical formula of table salt?",
    "Which team won the Super Bowl?",
    "How many moons does Jupiter have?",
    "What is the population of Seoul?",  # near the domain: caught by the name check
]
CORPUS_QUESTIONS = [
    "how many troops were deployed?",
    "Why do North Korean soldiers kill themselves rather than surrender?",
    "Did Putin acknowledge the North Korean troops?",
    "what are pyongyang's soldiers told about americans",
    "who is Kirby",
    "Which agency did the prisoners belong to?",
    "what does kim the 32 year old defector think",
    "What did Lee Seong-kweun say?",
]


@pytest.mark.slow
@pytest.mark.parametrize("question", UNRELATED)
def test_unrelated_questions_abstain_and_show_the_closest_passages(engine, question):
    a = engine.ask(question)
    assert a.abstained and a.citations == [] and a.figures == []
    assert a.answer.startswith("The corpus does not say")
    assert 1 <= len(a.closest) <= 3
    out = a.to_dict()
    assert out["abstained"] is True and out["citations"] == [] and out["closest"]
    if "Seoul" in question:
        assert "No passage mentions Seoul" in a.answer


@pytest.mark.slow
@pytest.mark.parametrize("question", CORPUS_QUESTIONS)
def test_corpus_questions_are_answered(engine, real_settings, question):
    a = engine.ask(question)
    assert not a.abstained, a.answer
    check_citations(a, real_settings.corpus_dir)


@pytest.mark.slow
def test_sentence_spans_are_exact_on_every_passage(engine):
    for chunk in engine.index.chunks:
        spans = split_sentences(chunk.text)
        assert spans
        for a, b in spans:
            assert chunk.text[a:b] == chunk.text[a:b].strip() and chunk.text[a:b]
        assert [a for a, _ in spans] == sorted(a for a, _ in spans)
