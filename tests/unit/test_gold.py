"""`qa eval` without a model: SQuAD-style records, filters, and the answer metrics with baselines."""

from __future__ import annotations

import json

import pytest

from qa.errors import EvalError
from qa.evaluate import EvalReport, QuestionResult, answer_contains, answer_metrics, format_report
from qa.gold import load_gold, parse_articles, select


def _write(tmp_path, rows) -> str:
    p = tmp_path / "q.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(p)


SQUAD_LIKE = [
    {
        "question": "Who led them?",
        "answers": ["Rollo", "Rollo of Normandy"],
        "unanswerable": False,
        "source": "01_normans.txt",
    },
    {
        "question": "Who gave their name?",
        "answers": [],
        "unanswerable": True,
        "source": "01_normans.txt",
    },
    {"question": "What is a prime?", "answers": ["a number"], "source": "28_prime_number.txt"},
    {"question": "Where is Warsaw?", "answers": ["Poland"], "source": "33_warsaw.txt"},
    {"question": "Capital of Peru?", "sources": []},
]


def test_squad_records_read_with_answers_and_unanswerable(tmp_path):
    gold = load_gold(_write(tmp_path, SQUAD_LIKE))
    assert gold[0].answers == ("Rollo", "Rollo of Normandy") and gold[0].answerable
    assert (
        gold[1].sources == ("01_normans.txt",) and not gold[1].answerable and gold[1].unanswerable
    )
    assert not gold[4].answerable and gold[4].answers == ()
    assert gold[0].answer == "Rollo"  # the first, for messages


def test_bad_answers_and_flags_name_the_line(tmp_path):
    with pytest.raises(EvalError, match="line 1.*`answers`"):
        load_gold(_write(tmp_path, [{"question": "a?", "source": "x.txt", "answers": "Rollo"}]))
    with pytest.raises(EvalError, match="line 1.*`unanswerable`"):
        load_gold(_write(tmp_path, [{"question": "a?", "source": "x.txt", "unanswerable": "yes"}]))


def test_any_expected_answer_counts():
    assert answer_contains("It was Rollo of Normandy.", ["Charles", "rollo"])
    assert not answer_contains("It was Charles.", ["Rollo", "William"])


def test_select_by_articles_glob_and_every(tmp_path):
    gold = load_gold(_write(tmp_path, SQUAD_LIKE))
    assert parse_articles("18-35") == set(range(18, 36))
    assert parse_articles("1-3,7") == {1, 2, 3, 7}
    with pytest.raises(EvalError):
        parse_articles("eighteen")
    assert [g.question for g in select(gold, articles="18-35")] == [
        "What is a prime?",
        "Where is Warsaw?",
    ]
    assert [g.line for g in select(gold, sources_glob="01_*|33_*")] == [1, 2, 4]
    assert [g.line for g in select(gold, every=2)] == [1, 3, 5]
    assert [g.line for g in select(gold, articles="1-35", limit=1)] == [1]
    with pytest.raises(EvalError, match="no question is left"):
        select(gold, articles="99")


def _result(kind, answerable, abstained, contains, first, bm25_1=False, dense_3=True):
    base = {"bm25_top1": bm25_1, "bm25_top3": True, "dense_top1": False, "dense_top3": dense_3}
    return QuestionResult(
        1,
        "q?",
        kind,
        ["a.txt"],
        ["a.txt"],
        1,
        1.0 if answerable else None,
        abstained,
        ["x"] if answerable else [],
        contains if answerable else None,
        first if answerable else None,
        base if answerable else {},
        "answer",
        answerable,
    )


def test_answer_metrics_and_baselines():
    rs = [
        _result("who", True, False, True, True, bm25_1=True),
        _result("who", True, False, True, False),
        _result("when", True, True, False, False, dense_3=False),
        _result("when", False, True, None, None),
        _result("other", False, False, None, None),
    ]
    m = answer_metrics(rs)
    assert m["n"] == 5
    assert m["answer_contains"] == pytest.approx(2 / 3)
    assert m["first_quote"] == pytest.approx(1 / 3)
    assert m["abstention_accuracy"] == pytest.approx(1 / 2)
    assert m["false_abstention"] == pytest.approx(1 / 3)
    assert m["bm25_top1"] == pytest.approx(1 / 3) and m["bm25_top3"] == 1.0
    assert m["dense_top3"] == pytest.approx(2 / 3)
    assert answer_metrics([])["answer_contains"] is None
    by_kind = {k: answer_metrics([r for r in rs if r.kind == k]) for k in ("who", "when", "other")}
    report = EvalReport(
        5, "hybrid", 5, 3, 2, {"answer_contains": m["answer_contains"]}, [], rs, by_kind
    )
    text = format_report(report)
    assert "per question kind" in text and "bm25@1" in text
    assert any(line.strip().startswith("who") and "1.000" in line for line in text.splitlines())
    assert report.to_dict()["by_kind"]["when"]["false_abstention"] == 1.0
