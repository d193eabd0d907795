"""Does a figure count what the question asks? Unit, counted thing, subject and event.

The rules: a figure belongs to the question when it has the asked unit (count, money, percent) and
counts the asked thing (same stem, or a close word by the embedding model: "troops" ~ "soldiers"),
and any capitalised modifier of the question ("Ukrainian soldiers") is its subject or in what it
counts; a figure for another event ("killed" when "wounded" is asked) counts something else.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from qa.answer.asks import Asked, event_stems
from qa.answer.figures import Figure
from qa.answer.similar import closeness
from qa.answer.stems import content_stems, is_participle, stem, verb_stem
from qa.answer.words import word_union

if TYPE_CHECKING:
    from qa.answer.figure_scopes import Found

WEAK_SYNONYM = (
    0.5  # ... and a looser cosine, used only when no figure counts the asked thing closely
)
EVENT_SYNONYM = 0.5  # cosine of two event words ("razed", "destroyed") taken as one event
SYNONYM = 0.7  # MiniLM cosine of two counted words above which they count the same thing


def matches(
    f: Figure,
    a: Asked,
    close: Mapping[tuple[str, str], float] | None = None,
    events_told_apart: bool = False,
    before: frozenset[str] = frozenset(),
) -> bool:
    """Does figure `f` count what question `a` asks for? (unit, counted thing, subject, event).

    `events_told_apart`: some figure of the evidence names the asked event ("wounded"); then a
    figure naming only other events ("killed") counts something else. `before`: content stems of
    the sentence before it in its passage ("... a converted wing. The conversion cost $1.8m")."""
    close = close or {}
    if a.unit == "any":
        return any(
            matches(f, replace(a, unit=u), close, events_told_apart, before)
            for u in ("count", "money", "percent")
        )
    if not unit_ok(f, a):
        return False
    counted = content_stems(f.counted) | ({f.key} if f.key else set())
    if not subject_ok(f, a):
        return False
    if a.unit != "count":
        return _about(a, f.context | counted, before)
    verbs = a.stems - {a.key} - content_stems(a.noun)
    if a.key:
        elided = not f.counted or is_participle(f.counted.split()[-1])  # "2,700 wounded"
        noun_ok = (
            a.key in counted
            or close.get((a.key, f.key), 0.0) >= SYNONYM
            or (elided and a.key in f.context)
        )
        if not noun_ok:
            return False
        # what happened to them: "wounded" asked, "killed" given -> another figure
        asked_events = {v for v in verbs if v in event_stems(a)}
        if asked_events and f.participles:
            if events_told_apart or asked_events & f.participles:
                return bool(asked_events & f.participles)
            # "died" asked, "admitted" given: another event; "razed" ~ "destroyed": the same one
            return any(
                close.get((e, p), 0.0) >= EVENT_SYNONYM for e in asked_events for p in f.participles
            )
        return True
    return _about(a, counted | f.participles | f.context, before)


def unit_ok(f: Figure, a: Asked) -> bool:
    """The figure is of the asked kind: a count, a sum of money, a percent (any for "by how much")."""
    if f.duration and a.key not in _stems_of("time_units"):
        return False  # "seven days" is no count of anything but days
    if a.unit == "any":
        return True
    if a.unit == "count" and f.quantity.kind == "percent" and a.key:
        return a.key in content_stems(f.counted) | {
            f.key
        }  # "how many Victorians": "20% of Victorians"
    return f.unit == a.unit or (a.unit == "money" and f.quantity.kind == "money")


def subject_ok(f: Figure, a: Asked, sure: frozenset[str] | None = None) -> bool:
    """No other subject: "Ukrainian soldiers" asked, "North Korean soldiers" given is another count.

    `sure`: only subjects some figure counts by name ("North Korean soldiers") are another subject,
    not a clause's nearest name ("France lost a million people" may count French people)."""
    if not a.modifiers:
        return True
    words_ = (f.subject + " " + f.counted).split()
    mine = {w.lower()[:5] for w in words_}
    in_counted = any(w[:1].isupper() for w in f.counted.split())
    named = (f.subject or in_counted) if sure is None else (in_counted or f.subject_key in sure)
    if not named:
        return True
    asked = {m.lower()[:5] for m in a.modifiers}
    # "South Korean troops" asked, "North Korean troops" given: a shared word, and one each apart
    apart = asked - mine and {w.lower()[:5] for w in words_ if w[:1].isupper()} - asked
    return bool(asked & mine) and not apart


def another_named(f: Figure, names: Sequence[str], near: frozenset[str]) -> bool:
    """The question names someone (`names`: "Port of Selby") whom the figure's passage never
    mentions (`near`: its content stems), and the figure names its own subject ("Brennholm ...
    handles 3.2 million containers"): it counts another's thing."""
    wanted = [content_stems(n) for n in names]
    if not any(wanted) or any(w and w <= near for w in wanted) or not f.subject:
        return False  # a name is mentioned when all its words are ("Port of Selby", not "port")
    return not content_stems(f.subject) & frozenset().union(*wanted)


def fullest(found: Sequence[Found], a: Asked) -> list[Found]:
    """Figures counting the whole asked noun phrase, when some do ("extra beds", not only "beds")."""
    words = " ".join(w for w in a.noun.split() if w[:1].islower())  # names: see subject_ok
    want = content_stems(words) - _stems_of("vague_modifiers")  # "different species"
    if len(want) < 2:
        return list(found)
    full = [f for f in found if want <= content_stems(f.figure.counted) | {f.figure.key}]
    return full or list(found)


def on_topic(a: Asked, text: str) -> bool:
    """The sentence names one of the question's names or shares one of its topic words."""
    names = [w for w in re.findall(r"[\w'’-]+", a.what) if w[:1].isupper()]
    return any(n in text for n in names) or bool(_topic(a) - {a.key} & content_stems(text))


def _about(a: Asked, stems: frozenset[str], before: frozenset[str] = frozenset()) -> bool:
    """The figure's clause shares the question's topic: two of its words (or all, when it has fewer);
    one may come from the sentence before, when the clause itself holds one."""
    topic = {verb_stem(w)[:5] for w in _topic(a)}  # 5 letters: "converting" ~ "conversion"
    seen = {verb_stem(w)[:5] for w in stems}  # "rose" ~ "rise"
    need = min(2, len(topic))
    if not topic or not topic & seen:
        return False
    near = seen | {verb_stem(w)[:5] for w in before}  # the sentence before: "rose" ~ "rise" too
    return len(topic & seen) >= need or len(topic & near) >= need


def _topic(a: Asked) -> frozenset[str]:
    """What a question is about: its content stems without names, periods, reporting and money words
    ("How much did Acme pay its chief executive last year?" -> chief, executive); with the money
    words when nothing else is left ("How much was Norveta fined?" -> fine)."""
    names = {stem(w) for w in re.findall(r"[\w'’-]+", a.what) if w[:1].isupper()}
    base = a.stems - names - _stems_of(*_NOT_TOPIC)
    money = _stems_of("money_words") if a.unit != "percent" else frozenset()  # % of revenue
    topic = frozenset(w for w in base - money if len(w) >= 3)
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


def event_closeness(a: Asked, found: Sequence[Found], embedder) -> dict[tuple[str, str], float]:
    """Cosine of each asked event word with each event word of the figures (stems embed as words)."""
    parts = {p for f in found for p in f.figure.participles}
    out: dict[tuple[str, str], float] = {}
    for e in event_stems(a):
        for p, c in closeness(e, sorted(parts - {e}), embedder).items():
            out[(e, p)] = c
    return out
