"""Sources that take opposite sides on a yes/no or fact question, beyond numbers.

Why: "the company confirmed the talks" and "the company denied holding talks" are both quotable;
quoting only one, or both as if they agreed, misleads. Two sentences take opposite sides when
both are about the question's claim (they share at least two of its content words) and one is
negated where the other is not ("did" / "did not"), or they use a pair of opposite words
("confirmed" / "denied", "approved" / "rejected"; the pairs are in `words.json`). Copies of one
story (manifest `same_story_as`) never oppose each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.asks import is_explanation
from qa.answer.stems import WORD, content_stems
from qa.answer.words import word_set, words

MAX_CANDIDATES = 12  # best-scoring sentences compared
MIN_SHARED = 2  # question content words both sentences must share


@dataclass(frozen=True)
class Sides:
    """Two sets of sentences (indexes into compose's list) that take opposite sides."""

    one: tuple[int, ...]
    other: tuple[int, ...]
    names: Mapping[int, str]  # sentence index -> the outlet (or file) it comes from

    @property
    def sentences(self) -> list[int]:
        return [*self.one, *self.other]

    def render(self, numbering: Mapping[int, int]) -> str:
        def side(ids: Sequence[int]) -> str:
            return " and ".join(
                f"[{numbering[i]}] ({self.names[i]})" for i in ids if i in numbering
            )

        return (
            f"The sources differ on this: {side(self.one)} and {side(self.other)} take opposite sides; "
            "both are quoted."
        )


def _negated(text: str) -> bool:
    low = text.lower().replace("’", "'")
    if "n't" in low:
        return True
    return bool(set(WORD.findall(low)) & word_set("negations"))


def _opposites() -> dict[str, str]:
    out: dict[str, str] = {}
    for a, b in words()["opposite_verbs"]:
        out[a] = b
        out[b] = a
    return out


def _opposed(a: str, b: str) -> bool:
    if _negated(a) != _negated(b):
        return True
    wa, wb = set(WORD.findall(a.lower())), set(WORD.findall(b.lower()))
    opp = _opposites()
    return any(opp.get(w) in wb and opp.get(w) not in wa for w in wa)


def _story(index, doc_id: str) -> tuple[str, str]:
    docs = getattr(index, "documents", None) or {}
    entry = docs.get(doc_id) or {}
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else entry
    story = str(entry.get("same_story_as") or doc_id)
    return story, str(meta.get("outlet") or doc_id)


def opposing_sides(
    question: str,
    sentences: Sequence,
    scores: np.ndarray,
    index=None,
    min_score: float | None = None,
) -> Sides | None:
    """The best pair of sentences from different stories taking opposite sides on the question's claim.

    None for why/how questions, when no two relevant sentences oppose each other, or when they
    come from copies of one story.
    """
    if is_explanation(question):
        return None
    q = content_stems(question) - word_set("negations")
    if len(q) < MIN_SHARED:
        return None
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:MAX_CANDIDATES]
    cands = [int(i) for i in order if min_score is None or scores[i] >= min_score]
    about = {i: content_stems(sentences[i].text) & q for i in cands}
    best: tuple[float, int, int] | None = None
    for x, i in enumerate(cands):
        for j in cands[x + 1 :]:
            shared = about[i] & about[j]
            if len(shared) < MIN_SHARED:
                continue
            si, sj = (
                _story(index, sentences[i].chunk.doc_id),
                _story(index, sentences[j].chunk.doc_id),
            )
            if si[0] == sj[0] or not _opposed(sentences[i].text, sentences[j].text):
                continue
            score = float(scores[i]) + float(scores[j])
            if best is None or score > best[0]:
                best = (score, i, j)
    if best is None:
        return None
    _, i, j = best
    names = {k: _story(index, sentences[k].chunk.doc_id)[1] for k in (i, j)}
    return Sides((i,), (j,), names)
