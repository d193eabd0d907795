"""Figures with their scope, on tiny inline texts: the number parser, what a figure counts, its
subject and period, when sources disagree, change over time, copies of one story, latest values."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from qa.answer.asks import asked, is_explanation
from qa.answer.figure_block import figure_block
from qa.answer.figures import sentence_figures
from qa.answer.quantities import parse_quantities


def numbers(text: str) -> list[tuple[str, float, float, str, str]]:
    return [
        (q.surface, q.low, q.high, q.qualifier, q.unit)
        for q in parse_quantities(text)
        if not q.year
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("about 11,000 soldiers", [("11,000", 11000, 11000, "about", "")]),
        ("10-12 thousand workers", [("10-12 thousand", 10000, 12000, "", "")]),
        ("11,000-12,000 fans", [("11,000-12,000", 11000, 12000, "", "")]),
        ("more than a dozen bodies", [("a dozen", 12, 12, "more than", "")]),
        ("nearly 300 homes", [("300", 300, 300, "nearly", "")]),
        ("up to 5 per cent", [("5 per cent", 5, 5, "up to", "%")]),
        ("a $2.5 billion deal", [("$2.5 billion", 2.5e9, 2.5e9, "", "USD")]),
        ("a €40m fine", [("€40m", 40e6, 40e6, "", "EUR")]),
        ("£3.2bn in sales", [("£3.2bn", 3.2e9, 3.2e9, "", "GBP")]),
        ("revenue rose 12%", [("12%", 12, 12, "", "%")]),
        ("twenty-five players", [("twenty-five", 25, 25, "", "")]),
        ("hundreds of people", [("hundreds", 200, 999, "about", "")]),
        ("from 3% to 5%", [("3%", 3, 3, "", "%"), ("5%", 5, 5, "", "%")]),
        # a range written with the unit twice is one value; after a change verb it is two
        ("only 1% to 3% of the power", [("1% to 3%", 1, 3, "", "%")]),
        ("between 30%–50% oxygen", [("30%–50%", 30, 50, "", "%")]),
        ("sales rose 2% to 5%", [("2%", 2, 2, "", "%"), ("5%", 5, 5, "", "%")]),
        (
            "sales rose 5% to $2 billion",
            [("5%", 5, 5, "", "%"), ("$2 billion", 2e9, 2e9, "", "USD")],
        ),
        ("lost 30 to 50 thousand people", [("30 to 50 thousand", 30e3, 50e3, "", "")]),
        ("estimates range from 5,000 to 9,000", [("5,000 to 9,000", 5000, 9000, "", "")]),
        ("between 3 and 14 hours a week", [("between 3 and 14", 3, 14, "", "")]),
        ("3 and 14 hours", [("3", 3, 3, "", ""), ("14", 14, 14, "", "")]),
        # shares in words are percents; a half that is a period is none
        ("nearly two-thirds of the milk", [("two-thirds", 66.7, 66.7, "nearly", "%")]),
        ("Half of the voters", [("Half", 50, 50, "", "%")]),
        ("in the first half of the year", []),
        ("half an hour", []),
        ("one in five bird species", [("one in five", 20, 20, "", "%")]),
        ("won 3 in 4 minutes", [("3", 3, 3, "", ""), ("4", 4, 4, "", "")]),
        ("used half as much coal", [("half", 50, 50, "", "%")]),
        ("claim 6 million lira", [("6 million lira", 6e6, 6e6, "", "ITL")]),
        ("200,000 Danish krone", [("200,000 Danish krone", 2e5, 2e5, "", "DKK")]),
        ("scored 3 goals and won", [("3", 3, 3, "", "")]),
        ("the 32-year-old mayor", []),
        ("MiG-29 jets and COVID-19 cases", []),
        ("on March 5, 2024 at 10:30", []),
    ],
)
def test_number_parser(text, expected):
    assert numbers(text) == [(s, float(lo), float(hi), q, u) for s, lo, hi, q, u in expected]


def test_what_a_share_counts_and_how_it_is_labelled():
    (power,) = sentence_figures("The pump consumes only 1% to 3% of the turbine power.")
    assert (power.quantity.surface, power.counted, power.label) == (
        "1% to 3%",
        "turbine power",
        "turbine power",
    )  # "of the X": the article is skipped
    (milk,) = sentence_figures("The state produces nearly two-thirds of the nation's milk.")
    assert (milk.counted, milk.label) == ("milk", "milk")  # so is a possessive
    (pump,) = sentence_figures("The pump consumes 5%.")
    assert pump.key == "consum" and pump.label == ""  # a verb before the number is no label
    (profit,) = sentence_figures("The company said profit fell 5%.")
    assert profit.label == "profit"  # a noun opening its clause is


def test_a_part_of_a_whole_is_one_figure_counting_what_the_whole_counts():
    (part,) = sentence_figures("The party won 31 of the 57 seats in Sunday's election.")
    assert (part.quantity.surface, part.quantity.low, part.counted) == ("31 of the 57", 31, "seats")
    assert part.period == ""  # "in Sunday's election" names an election, not a period
    (whole,) = sentence_figures("It is one of the 11 megaregions of the country.")
    assert (whole.quantity.surface, whole.counted) == ("11", "megaregions")  # "one of": a member


def test_years_are_dates_not_figures():
    (q,) = parse_quantities("In 2019 he fled.")
    assert q.year and q.surface == "2019"
    assert sentence_figures("In 2019 he fled to Seoul.") == ()


def test_a_figure_knows_what_it_counts_whose_it_is_and_when():
    phones, engineers = sentence_figures("Samsung sold 60 million phones and sent 2,000 engineers.")
    assert (phones.counted, phones.subject, phones.quantity.low) == ("phones", "Samsung", 60e6)
    assert (engineers.counted, engineers.subject, engineers.quantity.low) == (
        "engineers",
        "Samsung",
        2000,
    )
    week, since = sentence_figures(
        "The clinic treated about 1,000 patients in one week, and more than 3,000 since mid-November."
    )
    assert (week.counted, week.period, week.quantity.qualifier) == (
        "patients",
        "in one week",
        "about",
    )
    assert (since.counted, since.period) == (
        "patients",
        "since mid-November",
    )  # the same noun, elided
    (share,) = sentence_figures("In 2023, 58% of voters turned out.")
    assert (share.unit, share.counted, share.period) == ("percent", "voters", "In 2023")
    pct, money = sentence_figures("Revenue rose 12% to $2.5 billion in 2023.")
    assert (pct.unit, pct.counted) == ("percent", "Revenue")
    assert (money.unit, money.period) == ("USD", "in 2023")


def test_durations_and_articles_are_not_figures():
    (days,) = sentence_figures("The trial lasted seven days.")
    assert days.duration  # a length of time: a figure only when the question asks how many days
    s = sents(("a", "The trial lasted seven days and heard 40 witnesses."))
    assert "seven" not in block("How many witnesses were heard?", s)[1]
    assert "seven [1]" in block("How many days did the trial last?", s)[1]
    assert sentence_figures("One patient was still waiting.") == ()


def test_questions():
    a = asked("How many engineers did Samsung send?")
    assert (a.unit, a.noun, a.what) == ("count", "engineers", "engineers")
    assert asked("How much did the bridge cost?").unit == "money"
    assert asked("What percentage of voters turned out in 2022?").unit == "percent"
    assert asked("How many patients were treated in a single week?").period == "in one week"
    assert asked("What is the latest number of cases?").latest
    assert asked("How many workers have been dismissed?").what == "workers dismissed"
    for q in ("Why did sales fall?", "How did the mayor win?", "Who is the mayor?"):
        assert asked(q) is None
    assert is_explanation("Why did sales fall?") and is_explanation("How does the levy work?")


# ---------------------------------------------------------------- the block


def sents(*pairs: tuple[str, str]) -> list:
    return [NS(text=t, chunk=NS(doc_id=d)) for d, t in pairs]


class Docs:
    """An index as figure_block reads it: only its manifest's document entries."""

    def __init__(self, docs: dict[str, dict] | None = None) -> None:
        self.documents = docs or {}


def block(question: str, sentences: list, docs: dict | None = None):
    b = figure_block(question, None, sentences, np.linspace(1.0, 0.5, len(sentences)), Docs(docs))
    if b is None:
        return None, ""
    numbering = {i: n for n, i in enumerate(b.sentences, start=1)}
    return b, b.render(numbering)


def test_samsung_engineers_not_phones():
    s = sents(("a", "Samsung sold 60 million phones and sent 2,000 engineers."))
    b, text = block("How many engineers did Samsung send?", s)
    assert text == "The source gives one figure for engineers: 2,000 [1]."
    assert not b.disagree and [f.text for f in b.figures({0: 1})] == ["2,000"]
    _, text = block("How many phones did Samsung sell?", s)
    assert "60 million [1]" in text and "2,000" not in text


def test_different_periods_are_listed_with_their_scope_not_called_a_disagreement():
    s = sents(
        ("a", "The clinic treated about 1,000 patients in one week."),
        ("b", "The clinic has treated more than 3,000 patients since mid-November."),
    )
    b, text = block("How many patients did the clinic treat?", s)
    assert not b.disagree and "disagree" not in text
    assert (
        "about 1,000 in one week [1]" in text and "more than 3,000 since mid-November [2]" in text
    )


def test_different_subjects_and_things_do_not_disagree():
    s = sents(
        ("a", "The carmaker Acme hired 400 workers."),
        ("b", "The retailer Globex hired 900 workers."),
        ("c", "The carmaker Acme bought 30 trucks."),
    )
    b, text = block("How many workers were hired?", s)
    assert not b.disagree and "disagree" not in text
    assert "400 (Acme) [1]" in text and "900 (Globex) [2]" in text and "30" not in text
    # a sentence's first word may be a name or not: it still keeps the scopes apart, unnamed
    s = sents(("a", "Acme hired 400 workers."), ("b", "Globex hired 900 workers."))
    b, text = block("How many workers were hired?", s)
    assert not b.disagree and "400 [1]; 900 [2]" in text


def test_same_scope_different_values_disagree():
    s = sents(
        ("a", "About 40,000 fans attended the final."),
        ("b", "Some 45,000 fans attended the final."),
    )
    b, text = block("How many fans attended the final?", s)
    assert b.disagree and text.startswith(
        "The sources disagree on fans attended: about 40,000 [1]; about 45,000 [2]"
    )


def test_same_figure_twice_is_one_figure_with_both_citations():
    s = sents(
        ("a", "The council hired 12 wardens."),
        ("b", "Twelve wardens? No: the council hired 12 wardens."),
    )
    b, text = block("How many wardens did the council hire?", s)
    assert not b.disagree and "12 [1][2]" in text


def test_dated_sources_make_a_timeline_oldest_first():
    s = sents(
        ("new", "Officials counted 150 cases."),
        ("old", "Officials counted 120 cases."),
    )
    docs = {
        "old": {"meta": {"published": "2024-05-01"}},
        "new": {"meta": {"published": "2024-06-01"}},
    }
    b, text = block("How many cases did officials count?", s, docs)
    assert b.changed and not b.disagree
    assert "changed over time: 120 as of 2024-05-01 [1]; 150 as of 2024-06-01 [2]" in text
    assert [f.as_of for f in b.figures({1: 1, 0: 2})] == ["2024-05-01", "2024-06-01"]


def test_same_date_different_values_still_disagree():
    s = sents(("a", "Officials counted 150 cases."), ("b", "Officials counted 170 cases."))
    docs = {"a": {"meta": {"published": "2024-06-01"}}, "b": {"meta": {"published": "2024-06-01"}}}
    b, _ = block("How many cases did officials count?", s, docs)
    assert b.disagree and not b.changed


def test_latest_question_prefers_the_newest_source_and_names_its_date():
    s = sents(("old", "Officials counted 120 cases."), ("new", "Officials counted 150 cases."))
    docs = {
        "old": {"meta": {"published": "2024-05-01"}},
        "new": {"meta": {"published": "2024-06-01"}},
    }
    _, text = block("What is the latest number of cases officials counted?", s, docs)
    assert text.startswith("Latest figure for cases counted (as of 2024-06-01): 150 [2].")


def test_syndicated_copies_count_once_and_name_the_other_outlets():
    s = sents(
        ("wire", "Officials counted 150 cases."),
        ("copy", "Officials counted 150 cases."),
        ("other", "Officials counted 170 cases."),
    )
    docs = {
        "wire": {"meta": {"outlet": "Wire"}},
        "copy": {"meta": {"outlet": "Daily"}, "same_story_as": "wire"},
        "other": {"meta": {"outlet": "Herald"}},
    }
    b, text = block("How many cases did officials count?", s, docs)
    assert b.sentences == [0, 2]  # the copy is not quoted as a source of its own
    assert "150 [1] (the same story also in Daily)" in text
    s2 = sents(("wire", "Officials counted 150 cases."), ("copy", "Officials counted 160 cases."))
    b2, _ = block("How many cases did officials count?", s2, docs)
    assert not b2.disagree  # a copy cannot disagree with its own story


def test_money_and_percent():
    s = sents(
        ("a", "The council approved a €40m budget for the new library."),
        ("b", "About 12% of the budget goes to books."),
    )
    _, text = block("How much will the new library cost?", s)
    assert "€40m" in text and "12%" not in text
    _, text = block("What percentage of the budget goes to books?", s)
    assert "12%" in text and "€40m" not in text


def test_no_figure_for_the_asked_quantity_says_so():
    s = sents(("a", "The council approved a €40m budget for the new library."))
    b, text = block("How much does the mayor earn?", s)
    assert b.scopes == [] and text.startswith("The sources give no figure for mayor earn")
    b, text = block(
        "How many Ukrainian players scored?", sents(("a", "Twelve Brazilian players scored."))
    )
    assert b.scopes == []  # the asked subject is not the one counted


def test_no_figures_block_on_why_and_how_questions():
    s = sents(("a", "Sales fell 5% because prices rose."))
    assert block("Why did sales fall?", s) == (None, "")
    assert block("How did the company respond?", s) == (None, "")


def test_timeline_names_outlets_and_ignores_file_dates():
    s = sents(("old", "Officials counted 120 cases."), ("new", "Officials counted 150 cases."))
    docs = {
        "old": {"meta": {"published": "2024-05-01", "outlet": "Herald"}},
        "new": {"meta": {"published": "2024-06-01", "outlet": "Ledger"}},
    }
    _, text = block("How many cases did officials count?", s, docs)
    assert "120 as of 2024-05-01 (Herald) [1]; 150 as of 2024-06-01 (Ledger) [2]" in text
    # a date read from the file's modification time is no date of the figure: not a timeline
    for d in docs.values():
        d["meta"]["date_source"] = "file mtime"
    b, _ = block("How many cases did officials count?", s, docs)
    assert b.disagree and not b.changed


def test_a_combined_count_is_not_set_against_its_part():
    s = sents(
        ("a", "About 40 workers were killed and 120 injured in the blast."),
        ("b", "More than 200 workers were killed or injured."),
    )
    b, text = block("How many workers were injured?", s)
    assert not b.disagree and "40" not in text  # "killed" is another count
    assert "120 [1]" in text and "more than 200 killed or injured [2]" in text
    s = sents(
        ("a", "The hospital now has 120 beds for flu patients after it opened 45 extra beds.")
    )
    b, text = block("How many beds does the hospital have?", s)
    assert "120" in text and not b.disagree  # "after it opened ..." is another clause's event


def test_a_month_in_a_dated_source_joins_the_timeline_but_a_measurement_period_does_not():
    s = sents(
        ("old", "In October, officials said about 100 inspectors were hired."),
        ("new", "Officials said 140 inspectors were hired."),
        ("week", "Officials said 30 inspectors were hired in one week."),
    )
    docs = {
        "old": {"meta": {"published": "2024-12-01", "outlet": "Ledger"}},
        "new": {"meta": {"published": "2025-01-10", "outlet": "Wire"}},
        "week": {"meta": {"published": "2025-01-12", "outlet": "Times"}},
    }
    b, text = block("How many inspectors were hired?", s, docs)
    assert b.changed and not b.disagree
    assert (
        "changed over time: about 100 in October as of 2024-12-01 (Ledger) [1]; "
        "140 as of 2025-01-10 (Wire) [2]" in text
    )
    assert "30 in one week" in text  # an explicit measurement period keeps its own scope
    # undated, the month stays a scope of its own: nothing says when the other figure held
    b2, text2 = block("How many inspectors were hired?", s[:2])
    assert (
        not b2.disagree and "each with its own scope" in text2 and "about 100 in October" in text2
    )


def test_time_points_and_periods():
    from qa.answer.periods import is_time_point

    for p in ("In October", "on Monday", "by mid-March 2024", "in early January"):
        assert is_time_point(p), p
    for p in ("in one week", "since mid-November", "in 2023", "", "over three months"):
        assert not is_time_point(p), p


# ---------------------------------------------------------------- what is asked, what is counted


def test_participles_and_irregular_verbs():
    from qa.answer.stems import is_participle, verb_stem

    assert [
        w
        for w in ("killed", "taken", "shown", "open", "hundred", "women", "Dresden")
        if is_participle(w)
    ] == [
        "killed",
        "taken",
        "shown",
    ]
    assert verb_stem("rose") == verb_stem("rising") and verb_stem("paid") == verb_stem("pay")


def test_a_quantity_question_asks_for_the_figure_itself():
    from qa.answer.asks import is_quantity_question

    assert is_quantity_question("What is the latest number of cases?")
    assert is_quantity_question("What was the size of the army?")
    assert not is_quantity_question("What country took in the largest number of refugees?")
    assert not is_quantity_question("What method is used to quantify the amount of resources?")
    assert not is_quantity_question("How often are elections held?")


def test_by_how_much_takes_a_percent_and_percent_of_revenue():
    s = sents(("a", "The council approved an £18m budget, with council tax rising by 4.99%."))
    assert asked("By how much will council tax rise?").unit == "any"
    _, text = block("By how much will council tax rise?", s)
    assert "4.99%" in text and "£18m" not in text
    s = sents(("a", "Acme said revenue rose 12% to $2.5 billion in the third quarter."))
    _, text = block("By what percentage did Acme's revenue rise?", s)
    assert "12%" in text and "$2.5 billion" not in text


def test_the_whole_asked_noun_phrase_wins_over_its_head_alone():
    s = sents(
        ("a", "The hospital now has 165 beds after it opened 45 extra beds in a converted wing.")
    )
    _, text = block("How many extra beds did the hospital open?", s)
    assert "45" in text and "165" not in text
    _, text = block("How many beds does the hospital have?", s)
    assert "165" in text


def test_a_figure_of_another_event_is_not_called_missing():
    s = sents(("a", "St Mary's Hospital admitted 340 patients with flu last week."))
    b, _ = block("How many flu patients died at St Mary's Hospital?", s)
    assert b.scopes == []  # admitted is not died
    b.hedge([0])  # ... but the quoted sentence holds a count of patients: do not say "no figure"
    text = b.render({0: 1})
    assert "clearly counts" in text and "give no figure" not in text
    b, _ = block("How much does the mayor earn?", s)
    b.hedge([0])  # a figure of another topic is no reason to hedge
    assert b.render({0: 1}).startswith("The sources give no figure for mayor earn")


def test_the_sentence_before_can_name_what_a_figure_costs():
    chunk = NS(doc_id="a")
    first = "The hospital opened 45 extra beds in a converted outpatient wing."
    second = "The conversion cost $1.8 million."
    s = [
        NS(text=first, chunk=chunk, start=0),
        NS(text=second, chunk=chunk, start=len(first) + 1),
    ]
    _, text = block("How much did converting the outpatient wing cost?", s)
    assert "$1.8 million" in text
    _, text = block("How much did converting the outpatient wing cost?", s[1:])
    assert "$1.8 million" not in text  # alone, the sentence says nothing about a wing


def test_a_count_of_another_subject_is_still_no_figure():
    s = sents(("a", "Twelve Brazilian players scored in the final."))
    b, _ = block("How many Ukrainian players scored in the final?", s)
    b.hedge([0])  # the quoted count is of Brazilian players: the asked one is missing
    assert b.render({0: 1}).startswith("The sources give no figure for Ukrainian players")


def test_a_name_sharing_a_word_with_the_asked_one_is_another_subject():
    s = sents(("a", "About 300 North Korean soldiers were killed in January."))
    b, _ = block("How many South Korean soldiers were killed?", s)
    b.hedge([0])
    assert b.render({0: 1}).startswith("The sources give no figure for South Korean soldiers")
    b, text = block("How many Korean soldiers were killed?", s)
    assert "300" in text  # a name the figure narrows is the same subject


class WordVectors:
    """A deterministic embedder for single words: given 2-d directions, others orthogonal."""

    name = "word-vectors"

    def __init__(self, angles: dict[str, float]) -> None:
        self.angles = angles

    def encode(self, words):
        out = np.zeros((len(words), 2 + len(words)), dtype=np.float32)
        for i, w in enumerate(words):
            if w in self.angles:
                out[i, :2] = np.cos(self.angles[w]), np.sin(self.angles[w])
            else:
                out[i, 2 + i] = 1.0
        return out


def test_a_near_word_does_not_stand_in_for_an_asked_thing_counted_for_another_event():
    # "hospitals" is a near word of "patients" (cosine 0.6: above the loose 0.5, below 0.7)
    near = WordVectors({"patients": 0.0, "hospitals": float(np.arccos(0.6))})
    s = sents(("a", "The trial enrolled 4,812 patients at 310 hospitals in 19 countries."))
    question = "How many patients died during the trial?"
    b = figure_block(question, None, s, np.ones(1), Docs(), near, min_score=0.0)
    assert b.scopes == []  # 310 hospitals is no count of patients who died
    s = sents(("a", "The trial ran at 310 hospitals in 19 countries."))
    b = figure_block("How many patients took part in the trial?", None, s, np.ones(1), Docs(), near)
    assert [f.low for f in b.figures({0: 1})] == [310]  # the near word, when nothing else counts


def test_a_figure_of_a_subject_the_question_does_not_name_is_not_given():
    s = sents(("a", "Brennholm, the largest port, handles about 3.2 million containers a year."))
    b, _ = block("How many containers a year does the Port of Selby handle?", s)
    assert b.scopes == []  # Brennholm's count is no figure for Selby
    b, text = block("How many containers a year does Brennholm handle?", s)
    assert "3.2 million" in text
    s = sents(
        ("a", "The Port of Selby is small."), ("a", "It handles about 2 million containers a year.")
    )
    b, text = block("How many containers a year does the Port of Selby handle?", s)
    assert "2 million" in text  # no subject of its own: the sentence before may name it


def test_by_how_much_prefers_the_change_to_the_counts_around_it():
    s = sents(
        ("a", "The drug cut heart failure admissions by 23 percent."),
        ("a", "The heart failure trial enrolled 4,812 patients at 310 hospitals."),
    )
    b, text = block("By how much did the drug lower heart failure admissions?", s)
    assert "23 percent" in text and "4,812" not in text and "310" not in text


def test_a_count_question_takes_a_share_only_when_no_count_answers_it():
    s = sents(("a", "Around 20% of Victorians claim no religion."))
    b, text = block("How many Victorians are non-religious?", s)
    assert "20%" in text and b.scopes
    s = sents(
        ("a", "Around 20% of Victorians claim no religion."),
        ("b", "Some 1.2 million Victorians claim no religion."),
    )
    b, text = block("How many Victorians are non-religious?", s)
    assert "1.2 million" in text and "20%" not in text and not b.disagree


def test_how_much_did_it_increase_takes_a_percent_or_a_sum():
    assert asked("How much did the price of oil increase?").unit == "any"
    assert asked("How much did the oil cost?").unit == "money"


def test_figures_of_different_events_are_not_set_against_each_other():
    s = sents(
        ("a", "More than 12,000 workers have been deployed to the site."),
        ("b", "More than 3,000 workers have been injured since March."),
        ("c", "About 11,000 workers were deployed in May."),
    )
    b, text = block("How many workers are at the site?", s)
    assert "3,000" in text and "12,000" in text
    for scope in b.scopes:  # deployed and injured figures never share a scope
        events = {f.figure.events for row in scope.rows for f in row}
        assert len(events) == 1, events


def test_a_money_verb_in_any_form_asks_for_money():
    assert asked("How much is the city paying for the buses?").unit == "money"
    s = sents(("a", "The city has bought 40 buses."))
    b, text = block("How much is the city paying for the buses?", s)
    assert b.scopes == [] and "40" not in text.split(";")[0]


def test_a_figure_continuing_another_keeps_its_subject_and_events():
    s = sents(
        (
            "a",
            "Federal inspectors counted 11,000 Norland workers on the site, with over 3,000 "
            "injured since March.",
        ),
        ("b", "Around 300 Norland workers had been killed and over 2,700 injured."),
        ("c", "More than 3,000 Norland workers have been killed or injured."),
    )
    b, text = block("How many Norland workers have been killed or injured?", s)
    assert not b.disagree  # a part ("2,700 injured") is never set against the whole
    assert "more than 2,700 injured" in text and "about 300 killed" in text
    assert "since March" in text  # inspectors' "over 3,000": still Norland workers


def test_one_source_giving_two_values_does_not_disagree_with_itself():
    s = sents(
        ("a", "A 2001 analysis using 26 species found the group is not monophyletic."),
        ("a", "Only 100-150 species have been validated."),
    )
    b, text = block("How many species are there?", s)
    assert not b.disagree and "26" in text and "100-150" in text
    s = sents(("a", "Only 100-150 species have been validated."), ("b", "There are 90 species."))
    assert block("How many species are there?", s)[0].disagree  # two sources do


def test_a_single_figure_leads_the_quotes_with_its_own_sentence():
    from qa.answer.compose import _figure_first

    s = sents(
        ("a", "The firm may appeal against the fine."), ("a", "Regulators fined the firm €40m.")
    )
    b, _ = block("How much was the firm fined?", s)
    assert b.sentences == [1]
    assert _figure_first(b, [0, 1]) == [1, 0]  # the sentence the figure is read from, first
    assert _figure_first(b, [0]) == [0]  # not quoted: nothing to move
    s = sents(("a", "Acme hired 40 engineers."), ("b", "Acme hired 55 engineers."))
    b, _ = block("How many engineers did Acme hire?", s)
    assert b.disagree and _figure_first(b, [1, 0]) == [1, 0]  # several figures: the scorer's order
