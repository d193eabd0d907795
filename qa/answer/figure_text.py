"""The figures block as text and as table rows, in the answer's citation numbering.

Every figure is shown with its scope; a scope with several values says "disagree" or "changed over
time"; copies of one story cite once and name the other outlets; latest/current questions put the
newest figure first and say which date it reflects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.answer.figure_scopes import Found, Scope, independent

if TYPE_CHECKING:
    from qa.answer.figure_block import FigureBlock


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


def shown_figures(block: FigureBlock, numbering: Mapping[int, int]) -> list[ShownFigure]:
    """One table row per value of each scope (`Answer.figures`)."""
    out = []
    many_subjects = _many_subjects(block.scopes)
    for s in block.scopes:
        for row in s.rows:
            f0 = row[0]
            q = f0.figure.quantity
            out.append(
                ShownFigure(
                    _item_text(s, row, many_subjects, dated=s.state == "changed" or block.latest),
                    block.asked.what,
                    q.low,
                    q.high,
                    q.qualifier,
                    s.unit,
                    s.period or f0.figure.period,
                    s.subject,
                    f0.as_of,
                    _cites(row, numbering),
                    tuple(dict.fromkeys(f.figure.quantity.surface for f in row)),
                    _also_in(row),
                )
            )
    return out


def _cites(row: Sequence[Found], numbering: Mapping[int, int]) -> tuple[int, ...]:
    return tuple(
        dict.fromkeys(numbering[f.sentence] for f in independent(row) if f.sentence in numbering)
    )


def _also_in(row: Sequence[Found]) -> tuple[str, ...]:
    firsts = {id(f) for f in independent(row)}
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
    elif not s.period and row[0].figure.period:  # a point in time ("in October") of a dated source
        parts.append(_lower_first(row[0].figure.period))
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
    if not block.scopes and block.hedged:
        return f"No figure in the sources clearly counts {what}; the closest sentences follow."
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
