"""The answer layer: quoted sentences with citations, figures with their scope, honest abstention.

`compose` turns retrieved passages into an `Answer`; the rest of the package holds its parts.
"""

from qa.answer.compose import (
    Answer,
    Citation,
    Sentence,
    abstain_text,
    compose,
    missing_names,
    passage_sentences,
    question_names,
    score_sentences,
    split_sentences,
)

__all__ = [
    "Answer",
    "Citation",
    "Sentence",
    "abstain_text",
    "compose",
    "missing_names",
    "passage_sentences",
    "question_names",
    "score_sentences",
    "split_sentences",
]
