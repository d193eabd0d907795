"""The answer layer: quoted sentences with citations, figures with their scope, honest abstention.

`compose` turns retrieved passages into an `Answer`: `records` holds the dataclasses, `score` ranks
candidate sentences, `abstain` decides when the evidence does not answer, `kinds` says what a
question asks for, `figures` summarises quantities.
"""

from qa.answer.compose import (
    abstain_text,
    compose,
    missing_names,
    passage_sentences,
    question_names,
    rank_sentences,
    split_sentences,
)
from qa.answer.kinds import question_kind
from qa.answer.records import Answer, Citation, Sentence

__all__ = [
    "Answer",
    "Citation",
    "Sentence",
    "abstain_text",
    "compose",
    "missing_names",
    "passage_sentences",
    "question_kind",
    "question_names",
    "rank_sentences",
    "split_sentences",
]
