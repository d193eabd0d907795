"""Figures in a sentence, each with what it counts, whose it is and over what period.

Why scope: two figures can only disagree when they count the same thing for the same subject over
the same period. "About 1,000 in one week" and "more than 3,000 since mid-November" are both true;
"Samsung sold 60 million phones and sent 2,000 engineers" gives one figure for phones and one for
engineers. So each `Figure` carries:

- `counted`: the noun or unit it quantifies ("engineers", "killed or wounded"; for money and
  percent the word the clause gives it, e.g. "revenue" in "revenue rose 12% to $2.5 billion");
- `subject`: the nearest name before it in its clause ("Samsung"), else the sentence's first name;
- `period`: the period phrase of its clause ("in one week", "since mid-November", "in 2023").

Numbers come from `qa.answer.quantities` (a regex, no load time), period phrases from
`qa.answer.periods`; every word list is in `words.json`. What a question asks is `qa.answer.asks`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from qa.answer.periods import date_names, normalize_period, periods
from qa.answer.quantities import Quantity, parse_quantities
from qa.answer.stems import WORD, content_stems, is_participle, plural, stem
from qa.answer.words import word_set, word_union

_PART_OF = re.compile(r"\s+(?:out\s+)?of\s+(?:the\s+|its\s+|their\s+)?")
CLAUSE_BREAK = re.compile(r"[;:!?()]|,(?!\d{3})|\.(?:\s|$)|\s[-–—]\s")
MAX_COUNTED_WORDS = 4


# ---------------------------------------------------------------- figures in a sentence


@dataclass(frozen=True)
class Figure:
    """One figure as written in one sentence, with its scope."""

    quantity: Quantity
    counted: str  # the counted noun phrase as written ("engineers"); "" when the clause gives none
    key: str  # stem of the counted head word ("engin"); "" when none
    context: frozenset[str]  # content stems of its clause (its verbs and nouns)
    participles: frozenset[
        str
    ]  # stems of its clause's -ed/-en words ("killed"): what happened to it
    subject: str  # "Samsung"; "" when no name is near
    period: str  # the period phrase as written ("in a single week"); "" when none
    events: str = ""  # its clause's event words as written ("killed or wounded")
    label: str = ""  # what it counts, as shown: `counted` unless that is a bare word before it

    @property
    def duration(self) -> bool:
        """ "seven days", "a 10-day trip": a length of time, a figure only for "how many days"."""
        return self.quantity.kind == "count" and self.key in _time_stems()

    @property
    def period_key(self) -> str:
        """The period, one spelling per period ("in one week"): figures compare on this."""
        return normalize_period(self.period)

    @property
    def unit(self) -> str:
        return self.quantity.kind if self.quantity.kind != "money" else self.quantity.unit

    @property
    def subject_key(self) -> str:
        """The subject, one spelling per name: "North Korea" and "North Korean" are one subject."""
        return " ".join(w.lower()[:5] for w in self.subject.split())


def _window(sentence: str, q: Quantity, lo: int, hi: int) -> tuple[str, str]:
    """The clause text before and after the number, bounded by its neighbours' numbers."""
    before = sentence[lo : q.start]
    cut = list(CLAUSE_BREAK.finditer(before))
    if cut:
        before = before[cut[-1].end() :]
    after = sentence[q.end : hi]
    m = CLAUSE_BREAK.search(after)
    return before, after[: m.start()] if m else after


def _counted_after(after: str) -> list[str]:
    """The noun phrase right after a number: "engineers", "dead North Korean soldiers", "killed or wounded"."""
    fn, stops = (
        word_union("function_words", "more_function_words"),
        word_union("period_words", "time_units", "period_markers"),
    )
    toks = WORD.findall(after)
    if toks and toks[0].lower().startswith("-"):
        toks = toks[1:]
    if len(toks) >= 2 and toks[0].lower() in ("of", "in"):
        j = 1
        while toks[0].lower() == "of" and j < len(toks) and _determiner(toks[j]):
            j += 1  # "12% of the vote", "60% of Australia's dairy cattle"
        if j == len(toks) or toks[j][:1].isdigit():
            return []  # "60% of Australia's 3 million cattle": the next number's thing
        if toks[j].lower() not in fn | stops:
            toks = toks[j:]  # "$2.5 billion in revenue", "12% of voters", "dozens of people"
    if toks and toks[0].lower() in word_set("time_units"):
        return toks[:1]  # "seven days": a duration
    run: list[str] = []
    for t in toks:
        low = t.lower()
        if low == "or" and run:
            run.append(t)
            continue
        if low in fn or low in stops or t[:1].isdigit() or low in word_set("number_words"):
            break  # "die within eight days": the period is no part of the thing
        if run and low.endswith(("ing", "ed")) and run[-1].lower() != "or" and not t[:1].isupper():
            break  # "engineers working on ...": the verb after the noun
        run.append(t)
        if len(run) >= MAX_COUNTED_WORDS or plural(t):
            break  # "beds set aside": the plural noun ends the phrase
    while run and run[-1].lower() == "or":
        run.pop()
    return run


def _determiner(tok: str) -> bool:
    """An article or a possessive ("its", "the nation's"): what comes before the counted noun."""
    low = tok.lower()
    return (
        low in ("the", "a", "an", "all")
        or low in word_union("possessive_pronouns", "demonstratives")
        or low.endswith(("'s", "’s"))
    )


def _counted_before(before: str, at_start: bool) -> str:
    """For a number with nothing counted after it, the nearest content word before ("revenue rose 12%").

    Capitalised words are names, except the sentence's first word (`at_start`: `before` opens the sentence)."""
    skip = word_union("linking_words", "function_words", "more_function_words", "qualifiers")
    toks = WORD.findall(before)
    for i in range(len(toks) - 1, -1, -1):
        t = toks[i]
        if t.lower() in skip or t[:1].isdigit() or (t[:1].isupper() and not (at_start and i == 0)):
            continue
        return t
    return ""


def names_in(text: str) -> list[tuple[int, str]]:
    """Capitalised phrases ("North Korea", "Samsung") with their start, months and weekdays left out."""
    skip = _name_skip()
    out: list[tuple[int, str]] = []
    for m in re.finditer(r"(?:[A-Z][\w'’.-]*(?:\s+(?:of\s+)?(?=[A-Z]))?)+", text):
        words_ = [w for w in m.group().split() if w.lower().strip(".") not in skip]
        if words_:
            out.append(
                (m.start(), " ".join(words_).rstrip(".").removesuffix("'s").removesuffix("’s"))
            )
    return out


@functools.cache
def _name_skip() -> frozenset[str]:
    return word_union("function_words", "more_function_words", "name_stop") | date_names()


def _subject(sentence: str, clause_before: str, q: Quantity) -> str:
    """The nearest name before the number in its clause, skipping sources ("X said"); else the sentence's first."""
    attrib = word_set("attribution_words")
    offset = q.start - len(clause_before)
    for start, name in reversed(names_in(clause_before)):
        nxt = WORD.findall(sentence[offset + start + len(name) : q.start])
        if nxt and nxt[0].lower() in attrib:
            continue
        return name
    for start, name in names_in(sentence):
        nxt = WORD.findall(sentence[start + len(name) :])
        if start < q.start and not (nxt and nxt[0].lower() in attrib):
            return name
    return ""


@functools.lru_cache(maxsize=65536)
def sentence_figures(sentence: str) -> tuple[Figure, ...]:
    """Every figure of a sentence with its scope; numbers inside period phrases and bare years left out.

    Cached by text: the same retrieved sentences come back question after question."""
    qs = [q for q in parse_quantities(sentence) if not q.year]
    if not qs:
        return ()
    spans = periods(sentence)
    qs = [q for q in qs if not any(a <= q.start < b for a, b, _ in spans)]
    out: list[Figure] = []
    skip = -1
    for i, q in enumerate(qs):
        if i == skip:
            continue
        lo = qs[i - 1].end if i else 0
        hi = qs[i + 1].start if i + 1 < len(qs) else len(sentence)
        one = q.low == q.high == 1 and not q.surface[:1].isdigit()  # "one of the 11": a member
        if hi < len(sentence) and not one and _PART_OF.fullmatch(sentence[q.end : hi]):
            # "31 of the 57 seats": one figure, read as written, counting what the whole counts
            q = replace(q, end=qs[i + 1].end, surface=sentence[q.start : qs[i + 1].end])
            hi, skip = qs[i + 2].start if i + 2 < len(qs) else len(sentence), i + 1
        before, after = _window(sentence, q, lo, hi)
        fig = _figure(sentence, q, before, after, out[-1] if out else None)
        if fig is not None:
            fig = replace(
                fig,
                period=_period_for(
                    spans, q.start - len(before), q.end + len(after), q, qs[0].start
                ),
            )
            out.append(fig)
    return tuple(out)


def _figure(
    sentence: str, q: Quantity, before: str, after: str, prev: Figure | None
) -> Figure | None:
    """The figure of number `q` given its clause; None when it counts nothing (a duration, "one",
    a name's number such as "Phase 3" or "Route 108")."""
    if _label_number(sentence, q):
        return None
    run = _counted_after(after)
    counted = (
        " ".join(run)
        if run
        else _counted_before(before, not sentence[: q.start - len(before)].strip())
    )
    key_word = run[-1] if run else counted
    inherited = False
    if not counted and prev and prev.counted and not content_stems(before):
        counted, key_word = (
            prev.counted,
            prev.counted.split()[-1],
        )  # "1,000 in one week, and 3,000 since ..."
        inherited = True
    elif prev and prev.key and run and all(is_participle(w) for w in run if w.lower() != "or"):
        key_word = prev.counted.split()[
            -1
        ]  # "300 soldiers killed and 2,700 wounded": wounded soldiers
        inherited = True
    label = " ".join(run) if run else counted if _noun_before(before, counted) else ""
    if inherited and prev and not run:
        label = prev.label
    if not counted and q.kind == "count":
        return None  # a bare number: nothing counted
    if q.kind == "count" and q.low == q.high == 1 and not q.surface[:1].isdigit():
        return None  # "one soldier", "one of the": an article, not a figure
    return Figure(
        q,
        counted,
        stem(key_word) if key_word else "",
        content_stems(" ".join(_window(sentence, q, 0, len(sentence)))),
        _participles(_main_clause(after)) or _participles(before),
        " ".join(w for w in run if w[:1].isupper())
        or (prev.subject if inherited and prev else "")  # the soldiers' subject, not "Western"
        or _subject(sentence, before, q),
        "",
        _event_words(before, after),
        label,
    )


def _label_number(sentence: str, q: Quantity) -> bool:
    """ "Phase 3 trial", "Route 108": a plain number right after a capitalised word names a thing."""
    if q.kind != "count" or q.qualifier or not q.surface.isdigit():
        return False
    m = re.search(r"\b([A-Z][\w-]*)\s$", sentence[max(0, q.start - 30) : q.start])
    skip = word_union("function_words", "more_function_words", "linking_words", "qualifiers")
    following = WORD.findall(sentence[q.end : q.end + 30])[:1]
    counts = bool(following) and plural(following[0])  # "in Venice 22 times": a count
    return bool(m) and m.group(1).lower() not in skip | date_names() and not counts


def _noun_before(before: str, word: str) -> bool:
    """Is `word` (the nearest content word before a number) the head of a noun phrase: first in
    its clause, after an article or possessive ("its revenue rose 12%") or opening a clause ("said
    profit fell 5%")? A verb ("the pump consumes 1%", "is generated") labels nothing."""
    if not word:
        return False
    toks = WORD.findall(before)
    at = [i for i, t in enumerate(toks) if t == word]
    opens = word_union("attribution_words", "subordinators") | {"and", "but"}
    return bool(at) and (
        at[-1] == 0 or _determiner(toks[at[-1] - 1]) or toks[at[-1] - 1].lower() in opens
    )


@functools.cache
def _time_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in word_set("time_units"))


def _event_words(before: str, after: str) -> str:
    """The -ed/-en words of a figure's clause, as written ("killed or wounded")."""
    skip = word_union(
        "linking_words", "function_words", "more_function_words", "attribution_words", "auxiliaries"
    )

    def events(text: str) -> list[str]:
        return [w for w in WORD.findall(text) if is_participle(w) and w.lower() not in skip]

    words_ = events(_main_clause(after)) or events(before)
    return " or ".join(dict.fromkeys(words_))


def _main_clause(after: str) -> str:
    """The words after a number up to a subordinate clause ("... beds, after it opened ...")."""
    subs = word_set("subordinators")
    toks = list(WORD.finditer(after))
    for m in toks:
        if m.group().lower() in subs:
            return after[: m.start()]
    return after


def _participles(text: str) -> frozenset[str]:
    """Stems of a clause's participles: what happened to the figure's thing ("killed").

    One after an article is an adjective of another noun ("in a converted wing"), not the event."""
    skip = word_union("linking_words", "function_words", "more_function_words", "attribution_words")
    toks = WORD.findall(text)
    return frozenset(
        stem(w)
        for i, w in enumerate(toks)
        if is_participle(w)
        and w.lower() not in skip
        and not (i and toks[i - 1].lower() in _ARTICLES)
    )


_ARTICLES = frozenset({"a", "an", "the"})


def _period_for(spans, lo: int, hi: int, q: Quantity, first: int) -> str:
    """The period phrase of a figure: the nearest in its clause; else one leading the whole sentence."""
    inside = [
        (min(abs(a - q.end), abs(q.start - b)), p) for a, b, p in spans if lo <= a and b <= hi
    ]
    if inside:
        return min(inside)[1]
    leading = [p for a, b, p in spans if b <= first and a == 0]
    return leading[-1] if leading else ""
