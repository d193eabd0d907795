"""Period phrases in a sentence ("in one week", "since mid-November", "in 2023"), one spelling each.

Why: two figures can only disagree when they hold over the same period; the month, unit and
number words come from `words.json`.
"""

from __future__ import annotations

import functools
import re

from qa.answer.words import word_set, words


@functools.cache
def _period_pattern() -> re.Pattern:
    import calendar

    w = words()
    months = [m for m in calendar.month_name if m] + [m + "." for m in calendar.month_abbr if m]
    month = "|".join(re.escape(m) for m in sorted(months, key=len, reverse=True))
    units = "|".join(sorted(w["time_units"], key=len, reverse=True))
    nums = "|".join(sorted(w["number_words"], key=len, reverse=True))
    mods = "|".join(sorted(w["period_words"], key=len, reverse=True))
    days = "|".join(w["weekdays"])
    edge = r"(?:(?:early|mid|late|the end of|the start of|the beginning of)[\s-]+)?"
    when = (
        rf"{edge}(?:(?:{month})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?|\d{{4}}(?:\s*[-–]\s*\d{{2,4}}|\s+(?:and|to)\s+\d{{4}})?(?!\d|,\d)"
        rf"|q[1-4](?:\s+\d{{4}})?|(?:the\s+)?(?:{mods})\s+(?:{units})(?:\s+of\s+\d{{4}})?|{days})"
    )
    span = (
        rf"(?:in|during|over|within|for|throughout|in\s+just)\s+(?:the\s+)?(?:(?:{mods})\s+)?"
        rf"(?:(?:a|an|one|\d+(?:\.\d+)?|{nums})\s+)?(?:(?:{mods})\s+)?(?:{units})\b"
    )
    return re.compile(
        rf"\b(?:{span}|(?:since|by|until|till|through|from|in|during|as of|before|after|between|on|at)\s+{when}(?!['’]s\b)"
        rf"|(?:last|this|next|a|per|each|every)\s+(?:{units})\b|annually\b|so far(?:\s+this\s+(?:{units}))?\b"
        rf"|to date\b|year-on-year\b|year-over-year\b)",
        re.IGNORECASE,
    )


def periods(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, phrase as written) of each period phrase in a sentence."""
    return [(m.start(), m.end(), m.group()) for m in _period_pattern().finditer(sentence)]


def normalize_period(text: str) -> str:
    """One spelling per period: lower case, "a single"/"a" -> "one", no "the", no trailing dot."""
    t = " ".join(text.lower().replace("’", "'").split()).rstrip(".")
    t = re.sub(r"\b(?:a single|a|an|just)\s+(?=\w)", "one ", t)
    t = re.sub(r"\bthe\s+", "", t)
    return t.replace("one one ", "one ")


@functools.cache
def _time_point_pattern() -> re.Pattern:
    import calendar

    months = [m for m in calendar.month_name if m] + [m + "." for m in calendar.month_abbr if m]
    names = "|".join(
        re.escape(m) for m in sorted(months + list(words()["weekdays"]), key=len, reverse=True)
    )
    edge = r"(?:(?:early|mid|late|the end of|the start of|the beginning of)[\s-]+)?"
    return re.compile(
        rf"(?:in|on|at|as of|by|during)\s+{edge}(?:{names})\b[\w\s,.]*", re.IGNORECASE
    )


def is_time_point(text: str) -> bool:
    """ "In October", "on Monday", "by mid-March 2024": when a figure was reported or held, not a
    measurement period. From a dated source it joins the timeline of the same quantity instead of
    forming a scope of its own; "in one week", "since mid-November", "in 2023" stay periods."""
    return bool(text) and _time_point_pattern().fullmatch(text.strip()) is not None


@functools.cache
def date_names() -> frozenset[str]:
    """Weekday and month names and month abbreviations ("feb"), lower case: words that name a
    time, never a person or a subject."""
    import calendar

    months = {m.lower() for m in calendar.month_name if m} | {
        m.lower() for m in calendar.month_abbr if m
    }
    return frozenset(months | {"sept"}) | word_set("weekdays")
