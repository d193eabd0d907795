"""Figures grouped by scope: what they count, for whom, over what period; one row per value.

The rules: figures are compared only within the same scope (unit, subject, period); different
scopes are listed with their scope, never called a disagreement. Within a scope, different values
from the same date (or undated) disagree; from different dates (the article's `published`) they
are a timeline, oldest first ("changed over time"). Copies of one story (manifest `same_story_as`)
count once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.answer.asks import Asked, event_stems
from qa.answer.figures import Figure
from qa.answer.periods import is_time_point, normalize_period


@dataclass(frozen=True)
class Found:
    """A figure of one retrieved sentence, with the document facts that scope it."""

    figure: Figure
    sentence: int  # index into compose's sentence list
    doc_id: str
    as_of: str  # the article's published date (ISO), "" when unknown
    story: str  # the story it belongs to (doc id of the first copy)
    outlet: str


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


def doc_facts(index, doc_id: str) -> tuple[str, str, str]:
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


def inner_capitals(text: str) -> set[str]:
    """Capitalised words not opening the sentence: names for sure ("Samsung" in "... said Samsung")."""
    return set(re.findall(r"(?<=[\w,;:] )[A-Z][\w'’-]*", text))


def _value_key(f: Found) -> tuple[float, float, str]:
    q = f.figure.quantity
    return (q.low, q.high, "" if q.is_range else q.qualifier)


def independent(row: Sequence[Found]) -> list[Found]:
    """The first figure of each story in a row: copies of a story are not independent sources."""
    seen: set[str] = set()
    out = []
    for f in row:
        if f.story not in seen:
            seen.add(f.story)
            out.append(f)
    return out


def point_in_time(f: Found) -> bool:
    """A dated source's "In October ...": the time the figure was reported, not a measurement period,
    so the figure joins the timeline of the same quantity (shown with its own words)."""
    return bool(f.as_of) and is_time_point(f.figure.period)


def _own_other_value(scope: Scope | None, f: Found) -> bool:
    """The scope already holds another value from f's own document."""
    return scope is not None and any(
        x.doc_id == f.doc_id and _value_key(x) != _value_key(f) for row in scope.rows for x in row
    )


def _other_events(fig: Figure, asked: frozenset[str]) -> frozenset[str]:
    """What happened to the figure's thing when it is not what the question asks ("deployed")."""
    return fig.participles if fig.participles != asked else frozenset()


def group_scopes(found: Sequence[Found], a: Asked, same: set[str], names: set[str]) -> list[Scope]:
    """Figures grouped by what they count (`same`: keys counting the asked thing), subject and period."""
    by_scope: dict[tuple[str, str, str, str], Scope] = {}
    asked_events = event_stems(a)
    others = {_other_events(f.figure, asked_events) for f in found} - {frozenset()}
    several = len(others) > 1 or bool(asked_events and others)  # an event besides the asked one
    for f in found:
        fig = f.figure
        thing = a.key if fig.key in same else fig.key
        # figures of different events never share a scope ("deployed" != "killed or wounded");
        # one named only when the evidence has several ("wounded" when "killed or wounded" is asked)
        mine = _other_events(fig, asked_events)
        mixed = bool(mine) and several
        period = "" if point_in_time(f) else fig.period
        events = "+" + ",".join(sorted(mine)) if several else ""
        key = (fig.unit, thing + events, fig.subject_key, normalize_period(period))
        # a source does not disagree with itself: its two values count two things
        while _own_other_value(by_scope.get(key), f):
            key = (*key[:3], key[3] + "'")
        counted = fig.label if thing != a.key else (fig.events if mixed else "")
        scope = by_scope.setdefault(key, Scope(fig.unit, fig.subject, period, counted))
        scope.mixed = mixed
        for row in scope.rows:  # one row per value; a story's copies join its row whatever they say
            if _value_key(row[0]) == _value_key(f) or any(
                x.story == f.story and x.doc_id != f.doc_id for x in row
            ):
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
        for row in s.rows:  # a story is dated and quoted by its first publication (oldest copy)
            row.sort(key=lambda f: (not f.as_of, f.as_of))
        s.rows.sort(
            key=lambda r: (r[0].as_of or "", r[0].figure.quantity.low, r[0].figure.quantity.high)
        )
    scopes.sort(
        key=lambda s: (normalize_period(s.period) != a.period, -len(s.rows), s.period, s.subject)
    )
    return scopes
