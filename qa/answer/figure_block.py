"""The figures block of an answer: the figures the sources give for the asked quantity, each with its scope.

This module reads the candidate sentences and picks the figures; `figure_match` says which figures
count the asked thing, `figure_scopes` groups them, `figure_text` writes the block.

The rules, each testable on tiny texts:
- a figure belongs to the question when it has the asked unit (count, money, percent) and counts the
  asked thing (same stem, or a close word by the embedding model: "troops" ~ "soldiers"), and any
  capitalised modifier of the question ("Ukrainian soldiers") is its subject or in what it counts;
- figures are compared only within the same scope (unit, subject, period); different scopes are
  listed with their scope, never called a disagreement;
- within a scope, different values from the same date (or undated) disagree; from different dates
  (the article's `published`) they are a timeline, oldest first: "changed over time";
- copies of one story (manifest `same_story_as`) count once, naming the other outlets;
- latest/current questions put the newest figure first and say which date it reflects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.answer.asks import Asked, asked
from qa.answer.figure_match import (
    SYNONYM,
    WEAK_SYNONYM,
    another_named,
    event_closeness,
    event_stems,
    fullest,
    matches,
    on_topic,
    subject_ok,
    unit_ok,
)
from qa.answer.figure_scopes import (
    Found,
    Scope,
    doc_facts,
    group_scopes,
    independent,
    inner_capitals,
)
from qa.answer.figure_text import ShownFigure, render, shown_figures
from qa.answer.figures import names_in, sentence_figures
from qa.answer.similar import closeness
from qa.answer.stems import content_stems, stem

MAX_CANDIDATES = 40  # best-scoring sentences searched for figures


@dataclass
class FigureBlock:
    """What compose needs: the sentences to cite, the text to show, the table rows."""

    asked: Asked
    scopes: list[Scope]
    latest: bool = False
    near: set[int] = field(default_factory=set)  # sentences with a figure of the asked kind
    hedged: bool = False  # no figure counts it, but a quoted sentence has one of its kind

    def hedge(self, quoted: Sequence[int]) -> None:
        """No figure counts the asked thing, yet a quoted sentence holds one of the asked kind (a
        count of patients admitted when deaths are asked): say less than "no figure"."""
        self.hedged = not self.scopes and any(i in self.near for i in quoted)

    @property
    def sentences(self) -> list[int]:
        """Sentence indexes the block cites, in the order it cites them."""
        out = [f.sentence for s in self.scopes for row in s.rows for f in independent(row)]
        return list(dict.fromkeys(out))

    @property
    def disagree(self) -> bool:
        return any(s.state == "disagree" for s in self.scopes)

    @property
    def changed(self) -> bool:
        return any(s.state == "changed" for s in self.scopes)

    def render(self, numbering: Mapping[int, int]) -> str:
        return render(self, numbering)

    def figures(self, numbering: Mapping[int, int]) -> list[ShownFigure]:
        return shown_figures(self, numbering)


def _candidates(sentences: Sequence, scores: np.ndarray, min_score: float | None) -> list[int]:
    """The best MAX_CANDIDATES sentences scoring at least half of `min_score`: every source's
    figure, not only the quoted sentences (what a figure counts is checked on its own words)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:MAX_CANDIDATES]
    return [int(i) for i in order if min_score is None or scores[i] >= min_score / 2]


_NONE: frozenset[str] = frozenset()


def _sentence_before(sentences: Sequence, wanted: set[int]) -> dict[int, frozenset[str]]:
    """Content stems of the sentence just before each wanted one in the same passage."""
    by_chunk: dict[int, list[tuple[int, int]]] = {}
    for n, s in enumerate(sentences):
        if getattr(s, "start", None) is not None:
            by_chunk.setdefault(id(s.chunk), []).append((s.start, n))
    out: dict[int, frozenset[str]] = {}
    for i in wanted:
        s = sentences[i]
        earlier = [p for p in by_chunk.get(id(s.chunk), []) if p[0] < getattr(s, "start", -1)]
        if earlier:
            out[i] = content_stems(sentences[max(earlier)[1]].text)
    return out


def figure_block(
    question: str,
    resolved: str | None,
    sentences: Sequence,
    scores: np.ndarray,
    index=None,
    embedder=None,
    min_score: float | None = None,
) -> FigureBlock | None:
    """The figures block for a quantity question (None for any other question).

    `sentences` are compose's `Sentence`s (`.text`, `.chunk.doc_id`), `scores` their scores; only
    the best MAX_CANDIDATES sentences scoring at least `min_score` are read. An empty block means
    "the sources give no figure for" the asked quantity.
    """
    a = asked(question) or (asked(resolved) if resolved and resolved != question else None)
    if a is None:
        return None
    found: list[Found] = []
    for i in _candidates(sentences, scores, min_score):
        s = sentences[i]
        figs = getattr(s, "figures", None)
        figs = figs if figs is not None else sentence_figures(s.text)
        published, story, outlet = doc_facts(index, s.chunk.doc_id)
        found.extend(Found(f, i, s.chunk.doc_id, published, story, outlet) for f in figs)
    close = _closeness(a, found, embedder)
    events = event_stems(a)
    apart = bool(events) and any(events & f.figure.participles for f in found)
    prev = _sentence_before(sentences, {f.sentence for f in found})
    kept = [f for f in found if matches(f.figure, a, close, apart, prev.get(f.sentence, _NONE))]
    same = {k for (_, k), c in close.items() if c >= SYNONYM} | {a.key}
    counted = any(f.figure.key in same for f in found)  # for another event or subject, maybe
    if not kept and a.key and not counted:
        # nothing counts it closely: near words ("people" ~ "employees") in on-topic sentences;
        # not when the asked thing itself is counted ("4,812 patients enrolled" for "patients
        # died": "310 hospitals" is no count of patients)
        loose = {pair: 1.0 for pair, c in close.items() if c >= WEAK_SYNONYM}
        kept = [
            f
            for f in found
            if matches(f.figure, a, loose, apart, prev.get(f.sentence, _NONE))
            and on_topic(a, sentences[f.sentence].text)
        ]
    kept = _preferred_kinds(kept, a, resolved or question)
    named = [n for _, n in names_in(resolved or question) if n.lower() not in a.noun.lower()]
    if named:  # each passage's words read once
        seen: dict[int, frozenset[str]] = {}
        near = [_near_stems(f, sentences, prev, seen) for f in kept]
        kept = [f for f, n in zip(kept, near, strict=True) if not another_named(f.figure, named, n)]
    kept = fullest(kept, a)
    names = {w for i in {f.sentence for f in kept} for w in inner_capitals(sentences[i].text)}
    near = _near(a, found, sentences)
    return FigureBlock(a, group_scopes(kept, a, same, names), latest=a.latest, near=near)


def _preferred_kinds(kept: list[Found], a: Asked, question: str) -> list[Found]:
    """'By how much ...?': the percent or sum, not the counts around it ("By how much did the drug
    lower admissions?" is not the trial's 4,812 patients); 'How many X ...?': a share of X ("20% of
    Victorians") only when no count of X answers it."""
    counts = [f for f in kept if f.figure.quantity.kind == "count"]
    if re.search(r"\bby how much\b", question.lower()) and len(counts) < len(kept):
        return [f for f in kept if f.figure.quantity.kind != "count"]
    if a.unit == "count" and counts:
        return counts
    return kept


def _near_stems(f: Found, sentences: Sequence, prev: dict, seen: dict) -> frozenset[str]:
    """Content stems of a figure's passage (its sentence and the one before, without one);
    `seen` keeps them by passage."""
    s = sentences[f.sentence]
    passage = getattr(getattr(s, "chunk", None), "text", None)
    if not passage:
        return content_stems(s.text) | prev.get(f.sentence, _NONE)
    if id(s.chunk) not in seen:
        seen[id(s.chunk)] = content_stems(passage)
    return seen[id(s.chunk)]


def _closeness(a: Asked, found: Sequence[Found], embedder) -> dict[tuple[str, str], float]:
    """Cosine of the asked noun with each counted head word, and of asked with given events."""
    heads: dict[
        str, str
    ] = {}  # a figure's key -> a word it was written as ("soldier" -> "soldiers")
    for f in found:
        word = f.figure.counted.split()[-1] if f.figure.counted else ""
        if f.figure.key and word and (stem(word) == f.figure.key or f.figure.key not in heads):
            heads[f.figure.key] = word if stem(word) == f.figure.key else f.figure.key
    near = closeness(a.noun.split()[-1] if a.noun else "", heads.values(), embedder)
    close = {(a.key, k): near.get(w.lower(), 0.0) for k, w in heads.items()}
    close.update(event_closeness(a, found, embedder))
    return close


def _near(a: Asked, found: Sequence[Found], sentences: Sequence) -> set[int]:
    """Sentences with an on-topic figure of the asked kind and subject (see FigureBlock.hedge)."""
    counted_names = frozenset(
        f.figure.subject_key
        for f in found
        if any(w[:1].isupper() for w in f.figure.counted.split())
    )
    return {
        f.sentence
        for f in found
        if unit_ok(f.figure, a)
        and subject_ok(f.figure, a, counted_names)
        and on_topic(a, sentences[f.sentence].text)
    }
