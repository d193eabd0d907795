"""The figures block of an answer: the figures the sources give for the asked quantity, each with its scope.

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

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from qa.answer.figures import (
    Asked,
    Figure,
    asked,
    content_stems,
    normalize_period,
    sentence_figures,
    stem,
)
from qa.answer.similar import closeness
from qa.answer.words import word_union

MAX_CANDIDATES = 40  # best-scoring sentences searched for figures
WEAK_SYNONYM = (
    0.5  # ... and a looser cosine, used only when no figure counts the asked thing closely
)
EVENT_SYNONYM = 0.5  # cosine of two event words ("razed", "destroyed") taken as one event
SYNONYM = 0.7  # MiniLM cosine of two counted words above which they count the same thing


@dataclass(frozen=True)
class Found:
    """A figure of one retrieved sentence, with the document facts that scope it."""

    figure: Figure
    sentence: int  # index into compose's sentence list
    doc_id: str
    as_of: str  # the article's published date (ISO), "" when unknown
    story: str  # the story it belongs to (doc id of the first copy)
    outlet: str


@dataclass(frozen=True)
class ShownFigure:
    """One row of the figures table (`Answer.figures`), in the answer's citation numbering."""

    text: str  # "about 1,000 in one week"
    label: str  # what it counts ("engineers")
    low: float
    high: float
    qualifier: str
    unit: str
    period: str
    subject: str
    as_of: str
    citations: tuple[int, ...]
    quotes: tuple[str, ...]
    also_in: tuple[str, ...] = ()  # other outlets carrying the same story

    @property
    def kind(self) -> str:
        return self.label

    def to_dict(self) -> dict:
        out = {
            "text": self.text,
            "kind": self.label,
            "label": self.label,
            "low": self.low,
            "high": self.high,
            "qualifier": self.qualifier,
            "unit": self.unit,
            "period": self.period,
            "subject": self.subject,
            "as_of": self.as_of,
            "citations": list(self.citations),
            "quotes": list(self.quotes),
        }
        if self.also_in:
            out["also_in"] = list(self.also_in)
        return out


@dataclass
class Scope:
    """Figures counting the same thing for the same subject over the same period."""

    unit: str
    subject: str
    period: str
    thing: str = ""  # what it counts, as written in its first figure ("budget")
    rows: list[list[Found]] = field(
        default_factory=list
    )  # one list per distinct value (copies merged)
    mixed: bool = False  # counts the asked thing with other events ("killed or wounded")
    shown_subject: str = (
        ""  # the subject when it is surely a name (not only a sentence's first word)
    )

    @property
    def dated(self) -> bool:
        dates = [min(f.as_of for f in r) for r in self.rows]
        return len(self.rows) > 1 and all(dates) and len(set(dates)) == len(dates)

    @property
    def state(self) -> str:
        if len(self.rows) <= 1:
            return "one"
        return "changed" if self.dated else "disagree"


@dataclass
class FigureBlock:
    """What compose needs: the sentences to cite, the text to show, the table rows."""

    asked: Asked
    scopes: list[Scope]
    latest: bool = False

    @property
    def sentences(self) -> list[int]:
        """Sentence indexes the block cites, in the order it cites them."""
        out = [f.sentence for s in self.scopes for row in s.rows for f in _independent(row)]
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
        out = []
        many_subjects = _many_subjects(self.scopes)
        for s in self.scopes:
            for row in s.rows:
                f0 = row[0]
                q = f0.figure.quantity
                out.append(
                    ShownFigure(
                        _item_text(
                            s, row, many_subjects, dated=s.state == "changed" or self.latest
                        ),
                        self.asked.what,
                        q.low,
                        q.high,
                        q.qualifier,
                        s.unit,
                        s.period,
                        s.subject,
                        f0.as_of,
                        _cites(row, numbering),
                        tuple(dict.fromkeys(f.figure.quantity.surface for f in row)),
                        _also_in(row),
                    )
                )
        return out


# ---------------------------------------------------------------- matching


def _doc_facts(index, doc_id: str) -> tuple[str, str, str]:
    docs = getattr(index, "documents", None) or {}
    meta = docs.get(doc_id) or {}
    if not isinstance(meta, dict):
        return "", doc_id, doc_id
    nested = meta.get("meta") if isinstance(meta.get("meta"), dict) else {}
    published = str(meta.get("published") or nested.get("published") or "")[:10]
    if (meta.get("date_source") or nested.get("date_source")) == "file mtime":
        published = ""  # a file's modification time says nothing about when a figure held
    story = str(meta.get("same_story_as") or nested.get("same_story_as") or doc_id)
    outlet = str(meta.get("outlet") or nested.get("outlet") or "")
    return published, story, outlet


def matches(
    f: Figure,
    a: Asked,
    close: Mapping[tuple[str, str], float] | None = None,
    events_told_apart: bool = False,
) -> bool:
    """Does figure `f` count what question `a` asks for? (unit, counted thing, subject, event).

    `events_told_apart`: some figure of the evidence names the asked event ("wounded"); then a
    figure naming only other events ("killed") counts something else."""
    close = close or {}
    if a.unit == "any":
        return any(
            matches(f, replace(a, unit=u), close, events_told_apart)
            for u in ("count", "money", "percent")
        )
    if f.duration and a.key not in _stems_of("time_units"):
        return False  # "seven days" is no count of anything but days
    if f.unit != a.unit and not (a.unit == "money" and f.quantity.kind == "money"):
        return False
    counted = content_stems(f.counted) | ({f.key} if f.key else set())
    if a.modifiers:
        mine = {w.lower()[:5] for w in (f.subject + " " + f.counted).split()}
        if (f.subject or any(w[:1].isupper() for w in f.counted.split())) and not any(
            m.lower()[:5] in mine for m in a.modifiers
        ):
            return False  # "Ukrainian soldiers" asked, "North Korean soldiers" given
    if a.unit != "count":
        return _about(a, f.context | counted)
    verbs = a.stems - {a.key} - content_stems(a.noun)
    if a.key:
        elided = not f.counted or f.counted.split()[-1].lower().endswith(
            ("ed", "en")
        )  # "2,700 wounded"
        noun_ok = (
            a.key in counted
            or close.get((a.key, f.key), 0.0) >= SYNONYM
            or (elided and a.key in f.context)
        )
        if not noun_ok:
            return False
        # what happened to them: "wounded" asked, "killed" given -> another figure
        asked_events = {v for v in verbs if v in _event_stems(a)}
        if asked_events and f.participles:
            if events_told_apart or asked_events & f.participles:
                return bool(asked_events & f.participles)
            # "died" asked, "admitted" given: another event; "razed" ~ "destroyed": the same one
            return any(
                close.get((e, p), 0.0) >= EVENT_SYNONYM for e in asked_events for p in f.participles
            )
        return True
    return _about(a, counted | f.participles | f.context)


def _on_topic(a: Asked, text: str) -> bool:
    """The sentence names one of the question's names or shares one of its topic words."""
    names = [w for w in re.findall(r"[\w'’-]+", a.what) if w[:1].isupper()]
    return any(n in text for n in names) or bool(_topic(a) - {a.key} & content_stems(text))


def _about(a: Asked, stems: frozenset[str]) -> bool:
    """The figure's clause shares the question's topic: two of its words (or all, when it has fewer)."""
    topic = {w[:5] for w in _topic(a)}  # 5 letters: "converting" ~ "conversion"
    return bool(topic) and len(topic & {w[:5] for w in stems}) >= min(2, len(topic))


def _topic(a: Asked) -> frozenset[str]:
    """What a question is about: its content stems without names, periods, reporting and money words
    ("How much did Acme pay its chief executive last year?" -> chief, executive); with the money
    words when nothing else is left ("How much was Norveta fined?" -> fine)."""
    names = {stem(w) for w in re.findall(r"[\w'’-]+", a.what) if w[:1].isupper()}
    base = a.stems - names - _stems_of(*_NOT_TOPIC)
    topic = frozenset(w for w in base - _stems_of("money_words") if len(w) >= 3)
    return topic or frozenset(base)


_NOT_TOPIC = (
    "time_units",
    "period_words",
    "latest_words",
    "percent_question_words",
    "quantity_phrases",
    "attribution_words",
)


@functools.cache
def _stems_of(*lists: str) -> frozenset[str]:
    return frozenset(stem(p) for w in word_union(*lists) for p in w.split())


def _event_stems(a: Asked) -> frozenset[str]:
    """Stems of the question's -ed/-en words after its noun ("wounded", "killed", "deployed")."""
    return frozenset(
        stem(w) for w in a.what.split()[1:] if w.lower().endswith(("ed", "en")) and w[:1].islower()
    )


def _event_closeness(a: Asked, found: Sequence[Found], embedder) -> dict[tuple[str, str], float]:
    """Cosine of each asked event word with each event word of the figures (stems embed as words)."""
    parts = {p for f in found for p in f.figure.participles}
    out: dict[tuple[str, str], float] = {}
    for e in _event_stems(a):
        for p, c in closeness(e, sorted(parts - {e}), embedder).items():
            out[(e, p)] = c
    return out


def _candidates(sentences: Sequence, scores: np.ndarray, min_score: float | None) -> list[int]:
    """The best MAX_CANDIDATES sentences scoring at least half of `min_score`: every source's
    figure, not only the quoted sentences (what a figure counts is checked on its own words)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:MAX_CANDIDATES]
    return [int(i) for i in order if min_score is None or scores[i] >= min_score / 2]


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
        published, story, outlet = _doc_facts(index, s.chunk.doc_id)
        found.extend(Found(f, i, s.chunk.doc_id, published, story, outlet) for f in figs)
    heads: dict[
        str, str
    ] = {}  # a figure's key -> a word it was written as ("soldier" -> "soldiers")
    for f in found:
        word = f.figure.counted.split()[-1] if f.figure.counted else ""
        if f.figure.key and word and (stem(word) == f.figure.key or f.figure.key not in heads):
            heads[f.figure.key] = word if stem(word) == f.figure.key else f.figure.key
    near = closeness(a.noun.split()[-1] if a.noun else "", heads.values(), embedder)
    close = {(a.key, k): near.get(w.lower(), 0.0) for k, w in heads.items()}
    close.update(_event_closeness(a, found, embedder))
    events = _event_stems(a)
    apart = bool(events) and any(events & f.figure.participles for f in found)
    kept = [f for f in found if matches(f.figure, a, close, apart)]
    same = {k for (_, k), c in close.items() if c >= SYNONYM} | {a.key}
    if (
        not kept and a.key
    ):  # nothing counts it closely: near words ("people" ~ "employees") in on-topic sentences
        loose = {pair: 1.0 for pair, c in close.items() if c >= WEAK_SYNONYM}
        kept = [
            f
            for f in found
            if matches(f.figure, a, loose, apart) and _on_topic(a, sentences[f.sentence].text)
        ]
    names = {w for i in {f.sentence for f in kept} for w in _inner_capitals(sentences[i].text)}
    return FigureBlock(a, _scopes(kept, a, same, names), latest=a.latest)


def _inner_capitals(text: str) -> set[str]:
    """Capitalised words not opening the sentence: names for sure ("Samsung" in "... said Samsung")."""
    return set(re.findall(r"(?<=[\w,;:] )[A-Z][\w'’-]*", text))


def _value_key(f: Found) -> tuple[float, float, str]:
    q = f.figure.quantity
    return (q.low, q.high, "" if q.is_range else q.qualifier)


def _independent(row: Sequence[Found]) -> list[Found]:
    """The first figure of each story in a row: copies of a story are not independent sources."""
    seen: set[str] = set()
    out = []
    for f in row:
        if f.story not in seen:
            seen.add(f.story)
            out.append(f)
    return out


def _scopes(found: Sequence[Found], a: Asked, same: set[str], names: set[str]) -> list[Scope]:
    """Figures grouped by what they count (`same`: keys counting the asked thing), subject and period."""
    by_scope: dict[tuple[str, str, str, str], Scope] = {}
    for f in found:
        fig = f.figure
        thing = a.key if fig.key in same else fig.key
        mixed = bool(fig.participles - a.stems)  # "killed or wounded" when "wounded" is asked
        key = (fig.unit, thing + ("+" if mixed else ""), fig.subject_key, fig.period_key)
        counted = fig.counted if thing != a.key else (fig.events if mixed else "")
        scope = by_scope.setdefault(key, Scope(fig.unit, fig.subject, fig.period, counted))
        scope.mixed = mixed
        for row in scope.rows:  # one row per value; a story's copies join its row whatever they say
            if _value_key(row[0]) == _value_key(f) or any(x.story == f.story for x in row):
                row.append(f)
                break
        else:
            scope.rows.append([f])
    scopes = list(by_scope.values())
    for s in scopes:
        s.shown_subject = s.subject if (" " in s.subject or s.subject in names) else ""
    if len({s.thing for s in scopes}) < 2:
        for s in scopes:
            if not s.mixed:
                s.thing = ""  # all count the same thing: no need to say what each counts
    for s in scopes:
        s.rows.sort(
            key=lambda r: (r[0].as_of or "", r[0].figure.quantity.low, r[0].figure.quantity.high)
        )
    scopes.sort(
        key=lambda s: (normalize_period(s.period) != a.period, -len(s.rows), s.period, s.subject)
    )
    return scopes


# ---------------------------------------------------------------- text


def _cites(row: Sequence[Found], numbering: Mapping[int, int]) -> tuple[int, ...]:
    return tuple(
        dict.fromkeys(numbering[f.sentence] for f in _independent(row) if f.sentence in numbering)
    )


def _also_in(row: Sequence[Found]) -> tuple[str, ...]:
    firsts = {id(f) for f in _independent(row)}
    cited = {f.outlet or f.doc_id for f in row if id(f) in firsts}
    return tuple(
        dict.fromkeys(
            f.outlet or f.doc_id
            for f in row
            if id(f) not in firsts and (f.outlet or f.doc_id) not in cited
        )
    )


def _lower_first(period: str) -> str:
    """ "In 2018" (a sentence's first words) shown inside a line: "in 2018"."""
    return period[:1].lower() + period[1:] if period[:2].istitle() and " " in period else period


def _many_subjects(scopes: Sequence[Scope]) -> bool:
    """Name subjects only when at least two scopes name different ones."""
    return (
        len({" ".join(w.lower()[:5] for w in s.subject.split()) for s in scopes if s.subject}) > 1
    )


def _value(f: Found) -> str:
    q = f.figure.quantity
    return q.surface if (q.is_range or not q.qualifier) else f"{q.qualifier} {q.surface}"


def _item_text(
    s: Scope, row: Sequence[Found], many_subjects: bool, dated: bool, in_header: bool = False
) -> str:
    parts = [_value(row[0])]
    if s.thing:
        parts.append(s.thing)
    if s.period and not in_header:
        parts.append(_lower_first(s.period))
    if many_subjects and s.shown_subject:
        parts.append(f"({s.shown_subject})")
    if dated and row[0].as_of:
        parts.append(f"as of {row[0].as_of}" + (f" ({row[0].outlet})" if row[0].outlet else ""))
    return " ".join(parts)


def _row_text(
    s: Scope,
    row: Sequence[Found],
    numbering,
    many_subjects: bool,
    dated: bool,
    in_header: bool = False,
) -> str:
    text = (
        _item_text(s, row, many_subjects, dated, in_header)
        + " "
        + "".join(f"[{c}]" for c in _cites(row, numbering))
    )
    also = _also_in(row)
    return text + (f" (the same story also in {', '.join(also)})" if also else "")


def render(block: FigureBlock, numbering: Mapping[int, int]) -> str:
    """The block as text: one line per state, every figure with its scope and citations."""
    what = block.asked.what or "this"
    if not block.scopes:
        return f"The sources give no figure for {what}; the closest sentences follow."
    many_subjects = _many_subjects(block.scopes)
    lines = []
    if block.latest:
        newest = max((r for s in block.scopes for r in s.rows), key=lambda r: r[0].as_of or "")
        if newest[0].as_of:
            lines.append(
                f"Latest figure for {what} (as of {newest[0].as_of}): {_value(newest[0])} "
                + "".join(f"[{c}]" for c in _cites(newest, numbering))
                + "."
            )
    simple = [s for s in block.scopes if s.state == "one"]
    for s in block.scopes:
        if s.state == "one":
            continue
        items = "; ".join(
            _row_text(
                s, r, numbering, False, dated=s.state == "changed" or block.latest, in_header=True
            )
            for r in s.rows
        )
        scope = " ".join(
            p
            for p in (
                _lower_first(s.period),
                f"for {s.shown_subject}" if many_subjects and s.shown_subject else "",
            )
            if p
        )
        where = f" {scope}" if scope else ""
        if s.state == "changed":
            lines.append(f"The figure for {what}{where} changed over time: {items}.")
        else:
            lines.append(f"The sources disagree on {what}{where}: {items}.")
    if simple:
        items = "; ".join(
            _row_text(s, s.rows[0], numbering, many_subjects, dated=block.latest) for s in simple
        )
        cited = {c for s in simple for c in _cites(s.rows[0], numbering)}
        if len(simple) == 1 and not lines:
            who = "The sources give" if len(cited) > 1 else "The source gives"
            lines.append(f"{who} one figure for {what}: {items}.")
        elif len(simple) == 1:
            lines.append(f"Another figure for {what}: {items}.")
        else:
            other = "Other figures" if lines else "Figures"
            lines.append(f"{other} for {what}, each with its own scope: {items}.")
    return " ".join(lines)
