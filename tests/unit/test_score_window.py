"""The scorer's neighbour and per-kind features and the quote count, on tiny inline texts.

A question often takes its words from the sentence before the one that answers ("What ratios are used
in dating studies?" over "... isotope ratios are measured ... These are used in dating studies."); the
`window` feature gives a sentence its passage neighbours' question words. The answer quotes a second
sentence only when the scorer finds it nearly as likely as the first."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answer.compose import KEEP_SHARE, QUOTE_MIN, Ranked, _select, passage_sentences
from qa.answer.score import SENTENCE_FEATURES, Idf, QuestionTerms, sentence_features
from qa.corpus import Chunk
from qa.retrieve import Hit

FIRST = (
    "Geologists measure isotope ratios of radioactive elements in minerals. "
    "These ratios are used in dating studies of old rocks. "
    "The museum opened a new hall in the spring."
)
SECOND = "Dating studies of rocks began in the last century at several universities."


def _hits(*texts: str) -> list[Hit]:
    out = []
    for i, t in enumerate(texts):
        c = Chunk(i, f"doc{i}.txt", f"Doc {i}", 0, len(t), t)
        out.append(Hit(c, 1.0 / (1 + i), 0.5, i + 1, i + 1))
    return out


def _rows(question: str, *texts: str):
    hits = _hits(*texts)
    sents = passage_sentences(hits)
    idf = Idf({"date": 10, "studi": 10, "rock": 10, "isotop": 2, "ratio": 5, "museum": 50}, 100)
    rows = sentence_features(QuestionTerms.of(question, idf), sents, hits, np.zeros(len(sents)))
    return sents, rows


def _f(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, SENTENCE_FEATURES.index(name)]


def test_window_counts_the_question_words_of_passage_neighbours():
    sents, rows = _rows("What is measured in minerals for dating studies?", FIRST, SECOND)
    texts = [s.text for s in sents]
    first = texts.index(FIRST.split(". ")[0] + ".")
    other = texts.index(SECOND)
    # the first sentence lacks "dating studies"; its neighbour has them
    assert _f(rows, "window")[first] > _f(rows, "idf_overlap")[first]
    # a sentence of another passage never borrows words from this passage
    assert _f(rows, "window")[other] == pytest.approx(_f(rows, "idf_overlap")[other])
    assert _f(rows, "window_rel").max() == 0.0


def test_window_never_below_the_sentence_own_overlap():
    _, rows = _rows("When did dating studies of rocks begin?", FIRST, SECOND)
    assert np.all(_f(rows, "window") >= _f(rows, "idf_overlap") - 1e-12)


@pytest.mark.parametrize(
    ("question", "feature"),
    [
        ("When did dating studies begin?", "type_when"),
        ("How many rocks were dated?", "type_how_many"),
        ("Who measured the ratios?", "type_who"),
    ],
)
def test_type_match_is_split_by_question_kind(question, feature):
    _, rows = _rows(question, FIRST, SECOND)
    kinds = ("type_who", "type_when", "type_how_many", "type_why")
    assert np.array_equal(_f(rows, feature), _f(rows, "type_match"))
    for other in kinds:
        if other != feature:
            assert not _f(rows, other).any()


def _ranked(logits: list[float], texts: list[str]) -> Ranked:
    n = len(logits)
    return Ranked(
        [type("S", (), {"text": t})() for t in texts],
        np.zeros((n, len(SENTENCE_FEATURES))),
        np.array(logits, dtype=np.float64),
        np.zeros(n),
        np.eye(n, dtype=np.float32),
        None,
        None,
    )


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_one_quote_when_one_sentence_is_clearly_best():
    r = _ranked([_logit(0.9), _logit(0.9 * KEEP_SHARE * 0.8), _logit(0.01)], ["a", "b", "c"])
    assert _select(r, [], 4) == [0]


def test_a_close_second_sentence_is_quoted_too_but_not_a_duplicate():
    r = _ranked([_logit(0.5), _logit(0.45), _logit(0.44)], ["a", "a", "b"])
    assert _select(r, [], 4) == [0, 2]  # the repeated text is skipped
    low = _ranked([_logit(0.2), _logit(QUOTE_MIN * 0.9)], ["a", "b"])
    assert _select(low, [], 4) == [0]  # below the floor: not quoted however close


def test_shipped_models_rank_with_the_window_and_abstain_with_their_own_scorer():
    from qa.answer.score import load_weights

    w = load_weights()
    assert set(w) == {"sentence", "abstain_sentence", "abstain"}
    for name in ("sentence", "abstain_sentence"):
        assert set(w[name].features) <= set(SENTENCE_FEATURES)
    sent = w["sentence"]
    # more of the question's rare words around a sentence never lowers its score
    assert sent.coef[sent.features.index("window_rel")] > 0
    assert "window" not in w["abstain_sentence"].features
