"""Figures in a sentence, each with what it counts, whose it is and over what period; and what a question asks.

Why scope: two figures can only disagree when they count the same thing for the same subject over
the same period. "About 1,000 in one week" and "more than 3,000 since mid-November" are both true;
"Samsung sold 60 million phones and sent 2,000 engineers" gives one figure for phones and one for
engineers. So each `Figure` carries:

- `counted`: the noun or unit it quantifies ("engineers", "killed or wounded"; for money and
  percent the word the clause gives it, e.g. "revenue" in "revenue rose 12% to $2.5 billion");
- `subject`: the nearest name before it in its clause ("Samsung"), else the sentence's first name;
- `period`: the period phrase of its clause ("in one week", "since mid-November", "in 2023").

Numbers come from `qa.answer.quantities` (a regex, no load time); every word list is in `words.json`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from qa.answer.quantities import Quantity, parse_quantities
from qa.answer.words import phrases, word_set, word_union, words

WORD = re.compile(r"[\w'’]+(?:-[\w'’]+)*")
CLAUSE_BREAK = re.compile(r"[;:!?()]|,(?!\d{3})|\.(?:\s|$)|\s[-–—]\s")
MAX_COUNTED_WORDS = 4


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower().replace("’", "'").removesuffix("'s"))


def content_stems(text: str) -> frozenset[str]:
    """Stems of the words of `text` that are not function words (hyphenated words split)."""
    fn = word_union("function_words", "more_function_words")
    parts = [p for w in WORD.findall(text.lower()) for p in w.split("-")]
    return frozenset(stem(p) for p in parts if p and p not in fn and not p.isdigit())


# ---------------------------------------------------------------- periods


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
        rf"\b(?:{span}|(?:since|by|until|till|through|from|in|during|as of|before|after|between|on|at)\s+{when}"
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
        word_union("period_words", "time_units"),
    )
    toks = WORD.findall(after)
    if toks and toks[0].lower().startswith("-"):
        toks = toks[1:]
    if (
        len(toks) >= 2
        and toks[0].lower() in ("of", "in")
        and toks[1].lower() not in fn | stops
        and not toks[1][:1].isdigit()
    ):
        toks = toks[1:]  # "$2.5 billion in revenue", "12% of voters", "dozens of people"
    if toks and toks[0].lower() in word_set("time_units"):
        return toks[:1]  # "seven days": a duration
    run: list[str] = []
    for t in toks:
        low = t.lower()
        if low == "or" and run:
            run.append(t)
            continue
        if low in fn or low in stops or t[:1].isdigit():
            break
        if run and low.endswith(("ing", "ed")) and run[-1].lower() != "or" and not t[:1].isupper():
            break  # "engineers working on ...": the verb after the noun
        run.append(t)
        if len(run) >= MAX_COUNTED_WORDS or _plural(t):
            break  # "beds set aside": the plural noun ends the phrase
    while run and run[-1].lower() == "or":
        run.pop()
    return run


def _plural(word: str, capitalised: bool = False) -> bool:
    """A plural noun ("beds", "people"); capitalised words only when asked (they are mostly names)."""
    low = word.lower()
    if low in word_set("irregular_plurals"):
        return True
    regular = len(low) > 3 and low.endswith("s") and not low.endswith(("ss", "us", "is"))
    return regular and (capitalised or word[:1].islower())


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


def _names(text: str) -> list[tuple[int, str]]:
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
    return (
        word_union("function_words", "more_function_words", "weekdays", "name_stop")
        | _month_names()
    )


@functools.cache
def _month_names() -> frozenset[str]:
    import calendar

    return frozenset(m.lower() for m in calendar.month_name if m)


def _subject(sentence: str, clause_before: str, q: Quantity) -> str:
    """The nearest name before the number in its clause, skipping sources ("X said"); else the sentence's first."""
    attrib = word_set("attribution_words")
    offset = q.start - len(clause_before)
    for start, name in reversed(_names(clause_before)):
        nxt = WORD.findall(sentence[offset + start + len(name) : q.start])
        if nxt and nxt[0].lower() in attrib:
            continue
        return name
    for start, name in _names(sentence):
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
    out = []
    for i, q in enumerate(qs):
        lo = qs[i - 1].end if i else 0
        hi = qs[i + 1].start if i + 1 < len(qs) else len(sentence)
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
    """The figure of number `q` given its clause; None when it counts nothing (a duration, "one")."""
    run = _counted_after(after)
    counted = (
        " ".join(run)
        if run
        else _counted_before(before, not sentence[: q.start - len(before)].strip())
    )
    key_word = run[-1] if run else counted
    if not counted and prev and prev.counted and not content_stems(before):
        counted, key_word = (
            prev.counted,
            prev.counted.split()[-1],
        )  # "1,000 in one week, and 3,000 since ..."
    elif prev and prev.key and run and all(_is_participle(w) for w in run if w.lower() != "or"):
        key_word = prev.counted.split()[
            -1
        ]  # "300 soldiers killed and 2,700 wounded": wounded soldiers
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
        " ".join(w for w in run if w[:1].isupper()) or _subject(sentence, before, q),
        "",
        _event_words(before, after),
    )


@functools.cache
def _time_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in word_set("time_units"))


def _is_participle(word: str) -> bool:
    return word[:1].islower() and word.lower().endswith(("ed", "en"))


def _event_words(before: str, after: str) -> str:
    """The -ed/-en words of a figure's clause, as written ("killed or wounded")."""
    skip = word_union(
        "linking_words", "function_words", "more_function_words", "attribution_words", "auxiliaries"
    )

    def events(text: str) -> list[str]:
        return [w for w in WORD.findall(text) if _is_participle(w) and w.lower() not in skip]

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
    skip = word_union("linking_words", "function_words", "more_function_words", "attribution_words")
    return frozenset(
        stem(w)
        for w in WORD.findall(text)
        if w.lower().endswith(("ed", "en")) and w.lower() not in skip and w[:1].islower()
    )


def _period_for(spans, lo: int, hi: int, q: Quantity, first: int) -> str:
    """The period phrase of a figure: the nearest in its clause; else one leading the whole sentence."""
    inside = [
        (min(abs(a - q.end), abs(q.start - b)), p) for a, b, p in spans if lo <= a and b <= hi
    ]
    if inside:
        return min(inside)[1]
    leading = [p for a, b, p in spans if b <= first and a == 0]
    return leading[-1] if leading else ""


# ---------------------------------------------------------------- what a question asks


@dataclass(frozen=True)
class Asked:
    """The quantity a question asks for."""

    unit: str  # "count", "money", "percent", or "any" ("by how much", "how big")
    noun: str  # the asked noun phrase as written ("engineers"); "" when the question names none
    key: str  # stem of its head word
    stems: frozenset[str]  # content stems of the whole question
    modifiers: tuple[str, ...]  # capitalised words of the asked noun phrase ("North Korean")
    period: str  # the period phrase the question gives (normalized), or ""
    latest: bool  # the question asks for the latest/current value
    what: str  # how the answer names the quantity ("engineers", "Russia paying North Korea per soldier")


def is_explanation(question: str) -> bool:
    """Why/how questions ask for a cause or a manner, never for a figure."""
    q = " ".join(question.lower().split())
    return any(
        q.startswith(p + " ") or q == p or q.startswith(p + "?")
        for p in phrases("explanation_starts")
    )


def is_quantity_question(question: str) -> bool:
    q = " " + " ".join(WORD.findall(question.lower())) + " "
    return not is_explanation(question) and any(f" {p} " in q for p in phrases("quantity_phrases"))


def asked(question: str) -> Asked | None:
    """The quantity a question asks for; None for a question that asks for no figure."""
    if not is_quantity_question(question):
        return None
    q = " ".join(question.split())
    low = q.lower()
    found = next(
        (p for p in phrases("quantity_phrases") if re.search(rf"\b{re.escape(p)}\b", low)), ""
    )
    at = re.search(rf"\b{re.escape(found)}\b", low)
    rest = q[at.end() :] if at else q
    toks = WORD.findall(rest)
    fn = word_union("function_words", "more_function_words")
    run: list[str] = []
    for t in toks:
        if t.lower() in fn or (run and t.lower().endswith(("ed", "ing")) and t[:1].islower()):
            break  # "how many people attended": the noun ends before its verb
        run.append(t)
        if _plural(t, capitalised=True):
            break  # "how many cases officials counted": a plural noun ends the phrase
    stems = content_stems(q)
    qwords = set(WORD.findall(low))
    if qwords & word_set("percent_question_words") or "%" in q:
        unit = "percent"
    elif qwords & word_set("money_words") and found != "how many":
        unit = "money"
    elif found == "how many" or (
        run and found not in ("how much", "how large", "how big", "how high")
    ):
        unit = "count"
    else:
        unit = "any"  # "by how much did water use rise?", "how big is the budget?"
    if run and unit == "money" and run[-1].lower() in word_set("money_words"):
        run = []
    noun = " ".join(run)
    head = run[-1] if run else ""
    aux = r"\b(?:did|do|does|have|has|had|been|be|was|were|is|are|will|would|could|can|the|there)\b"
    what = " ".join(re.sub(aux, " ", rest.rstrip("?.! ")).split()) or noun
    what = re.sub(r"^(?:of|for|in)\s+", "", what)
    if (
        noun and unit == "count"
    ):  # "soldiers have been killed or wounded" -> "soldiers killed or wounded"
        events = [
            t
            for t in toks[len(run) :]
            if t[:1].islower() and t.lower().endswith(("ed", "en")) and t.lower() not in fn
        ]
        what = " or ".join([f"{noun} {events[0]}", *events[1:]]) if events else noun
    spans = periods(q)
    latest = any(re.search(rf"\b{re.escape(p)}\b", low) for p in word_set("latest_words"))
    return Asked(
        unit,
        noun,
        stem(head) if head else "",
        stems,
        tuple(t for t in run[:-1] if t[:1].isupper()),
        normalize_period(spans[0][2]) if spans else "",
        latest,
        what,
    )


# ---------------------------------------------------------------- for callers of the old module
# compose's scorer still reads these three; they are the same rules as above.
_WORD = WORD


def _stem_words(text: str) -> list[str]:
    return [stem(p) for w in WORD.findall(text.lower()) for p in w.split("-") if p]


def __getattr__(name: str):
    if name == "FUNCTION_WORDS":
        return word_set("function_words")
    raise AttributeError(name)
