"""Abstain on close misses: when the question's subject or asked thing is not in the evidence.

A question written to look answerable (SQuAD 2.0's unanswerable half) usually finds a sentence on the
right topic; what gives it away is what that sentence lacks: a rare question word, a name or number
the question uses, the asked type (a date for "when"), or a negation the question has and it has not.
A second logistic regression over such features (trained on SQuAD 2.0 dev articles 01-17 by
`python -m qa.answer.train`, threshold set there for <= 10% false abstention) decides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.score import (
    _NEGATION,
    _WORD,
    SENTENCE_FEATURES,
    Idf,
    Linear,
    QuestionTerms,
    content_stems,
)

ABSTAIN_FEATURES = (
    "best_logit",
    "margin",
    "best_idf_overlap",
    "best_cos",
    "top_relevance",
    "missing_idf_passages",
    "missing_idf_best",
    "max_missing_idf_best",
    "max_missing_idf_passages",
    "names_missing_best",
    "numbers_missing_best",
    "type_absent",
    "negation_mismatch",
    "cos_contrast",
    "maxcos_contrast",
    "rel_contrast",
    "max_cos",
)
# A question nothing in the corpus is about ("How do I bake bread?" over news): no sentence comes
# near it (SQuAD 01-17's answerable questions have a best cosine of at least 0.37 in 99 of 100) and
# its passages lack half of its rare words. Abstained on whatever the model says; the model itself
# sees cosines only relative to the other candidates (`*_contrast`), because absolute cosines shift
# with the corpus: short "Who is <name>?" questions over long news passages score 0.1-0.3 when
# answerable.
OFF_TOPIC_COS = 0.25
OFF_TOPIC_MISSING = 0.5
_DIGITS = re.compile(r"\d[\d,.]*")


@dataclass(frozen=True)
class Decision:
    abstain: bool
    logit: float  # > threshold: abstain
    missing: tuple[str, ...]  # question words the evidence lacks, rarest first (for the message)


def _names(question: str) -> list[str]:
    words = _WORD.findall(question)
    return [w for w in words[1:] if w[:1].isupper() and not w.isupper()]


def negation_unmatched(question: str, sentence: str) -> bool:
    """The question negates ("Who did not ...") and the sentence does not.

    One direction only: a sentence's own negated clause ("a move that hasn't been seen for decades")
    says nothing against a question without one, and firing on it made answerable questions abstain.
    """
    return bool(_NEGATION.search(question)) and not _NEGATION.search(sentence)


def question_features(
    question: str,
    terms: QuestionTerms,
    idf: Idf,
    rows: np.ndarray,
    logits: np.ndarray,
    best_text: str,
    passages: Sequence[str],
) -> tuple[np.ndarray, tuple[str, ...]]:
    """ABSTAIN_FEATURES for a question whose best sentence is `best_text`; and the missing words."""
    order = np.sort(logits)[::-1]
    best = int(np.argmax(logits))
    in_best = set(content_stems(best_text))
    in_passages = set(content_stems(" ".join(passages)))
    total = float(terms.weights.sum()) or 1.0
    norm = idf.max or 1.0
    miss_best = [
        (w, s) for s, w in zip(terms.stems, terms.weights, strict=True) if s not in in_best
    ]
    miss_pass = [
        (w, s) for s, w in zip(terms.stems, terms.weights, strict=True) if s not in in_passages
    ]
    names = _names(question)
    cos = rows[:, SENTENCE_FEATURES.index("cos")]
    mid = float(np.median(cos))
    rel = rows[:, SENTENCE_FEATURES.index("passage_rel")]
    low_best = best_text.lower()
    q_nums = _DIGITS.findall(question)
    f = np.array(
        [
            float(order[0]),
            float(order[0] - order[1]) if len(order) > 1 else 5.0,
            float(rows[best, SENTENCE_FEATURES.index("idf_overlap")]),
            float(rows[best, SENTENCE_FEATURES.index("cos")]),
            float(rows[:, SENTENCE_FEATURES.index("passage_rel")].max()),
            sum(w for w, _ in miss_pass) / total,
            sum(w for w, _ in miss_best) / total,
            max((w for w, _ in miss_best), default=0.0) / norm,
            max((w for w, _ in miss_pass), default=0.0) / norm,
            float(sum(n.lower() not in low_best for n in names)),
            float(sum(n not in best_text for n in q_nums)),
            float(
                terms.kind in ("when", "how many", "who", "why")
                and rows[best, SENTENCE_FEATURES.index("type_match")] == 0
            ),
            float(negation_unmatched(question, best_text)),
            float(cos[best] - mid),
            float(cos.max() - mid),
            float(rel.max() - np.median(rel)),
            float(cos.max()),
        ]
    )
    missing = tuple(s for _, s in sorted(miss_best, reverse=True))
    return f, missing


def off_topic(features: np.ndarray) -> bool:
    """No candidate sentence is near the question and its passages lack most of its rare words."""
    return bool(
        features[ABSTAIN_FEATURES.index("max_cos")] < OFF_TOPIC_COS
        and features[ABSTAIN_FEATURES.index("missing_idf_passages")] >= OFF_TOPIC_MISSING
    )


def held(features: np.ndarray) -> bool:
    """The best sentence holds every content word of the question and no negation is left unmatched:
    not a close miss by what it lacks ("Who is Maria Lindqvist?" -> "Chief executive Maria
    Lindqvist told analysts ..."), however far its cosine is from SQuAD's."""
    return bool(
        features[ABSTAIN_FEATURES.index("missing_idf_best")] == 0
        and features[ABSTAIN_FEATURES.index("negation_mismatch")] == 0
    )


def decide(features: np.ndarray, missing: Sequence[str], model: Linear) -> Decision:
    """Abstain when the question is off topic, or when the model's logit passes its threshold (set
    on articles 01-17) and the best sentence does not hold every word of the question."""
    cols = [ABSTAIN_FEATURES.index(f) for f in model.features]
    logit = float(model.logit(features[None, cols])[0])
    if not math.isfinite(logit):
        logit = 0.0
    abstain = off_topic(features) or (logit > model.threshold and not held(features))
    return Decision(abstain, logit, tuple(missing))
