"""A fast number parser for news text: values, ranges, scales, money, percent and qualifiers.

Why not a general parser: quantulum3 took seconds to load its tables and milliseconds per
sentence, and every question that touched a number paid for it. News figures come in a few
shapes -- "11,000", "10-12 thousand", "11,000-12,000", "a dozen", "$2.5 billion", "€40m", "12%",
"about/more than/nearly/up to N" -- which one regular expression and a small number-word table
(in `words.json`) read in microseconds, with nothing to load.

A `Quantity` is only the number as written: what it counts, whose it is and over what period are
read from its sentence by `qa.answer.figures`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from qa.answer.words import phrases, word_set, words

YEAR_MIN, YEAR_MAX = 1800, 2100


@dataclass(frozen=True)
class Quantity:
    """One number as written in a text: its span, value range, qualifier and unit."""

    start: int  # offsets of `surface` in the text (currency sign, scale and % included)
    end: int
    surface: str
    low: float
    high: float
    qualifier: (
        str  # canonical: "", "about", "more than", "at least", "nearly", "fewer than", "up to"
    )
    unit: str  # "" for a count, "%" for percent, an ISO currency code for money
    year: bool = False  # a bare year ("in 2019"): a date, not a figure

    @property
    def is_range(self) -> bool:
        return self.low != self.high

    @property
    def kind(self) -> str:
        """ "money", "percent" or "count"."""
        return "percent" if self.unit == "%" else "money" if self.unit else "count"


def _alt(items) -> str:
    return "|".join(re.escape(x) for x in sorted(items, key=len, reverse=True))


@functools.cache
def _pattern() -> re.Pattern:
    w = words()
    digits = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
    tens = [
        k
        for k, v in w["number_words"].items()
        if isinstance(v, int) and 20 <= v <= 90 and v % 10 == 0
    ]
    units = [
        k
        for k, v in w["number_words"].items()
        if isinstance(v, int) and 1 <= v <= 9 and " " not in k
    ]
    wordnum = rf"(?:{_alt(tens)})-(?:{_alt(units)})|{_alt(w['number_words'])}"
    long_scales = [s for s in w["scales"] if len(s) > 2 or s in ("mn",)]
    short_scales = [s for s in w["scales"] if len(s) <= 3]
    scale = rf"(?:\s+(?:{_alt(long_scales)})\b|(?:{_alt(short_scales)})\b)"
    cur = _alt(w["currency_symbols"])
    num = rf"(?:{digits}|(?<![\w-])(?:{wordnum}))"
    pct = rf"(?:\s?%|\s+(?:{_alt(w['percent_words'])})\b)"
    # "6 million lira", "200,000 Danish krone", "10 billion Hong Kong dollars"
    curword = rf"(?:(?:\s+(?-i:[A-Z][a-z]+)){{0,2}}\s+(?:{_alt(w['currency_words'])})\b)"
    vague = _alt(w["vague_numbers"])
    return re.compile(
        rf"(?<![\w.,/$€£¥₩₹:-])(?:(?P<vague>(?:{vague}))(?=\s+of\b)"
        rf"|(?P<frac>(?:{_alt(w['fractions'])}))(?=\s+of\b|\s+as\s+(?:much|many|large|long)\b)(?!\s+of\s+an?\s+(?:{_alt(w['scales'])}|"
        rf"{_alt(w['time_units'])})\b)"
        rf"|(?P<ra>{num})\s+(?:in|out\s+of)\s+(?P<rb>{num})(?!\s*(?:{_alt(w['time_units'])})\b|[\d,])"
        rf"|(?P<cur>{cur})?\s?(?P<a>{num})(?P<ascale>{scale})?(?P<apct>{pct})?"
        rf"(?:\s*(?P<sep>-|–|—|\bto\b|\band\b)\s*(?P<cur2>{cur})?(?P<b>{num})(?P<bscale>{scale})?)?"
        rf"(?P<pct>{pct})?(?P<curw>{curword})?)"
        rf"(?![\w%]|[.,]\d|:\d|-(?:year|month|week|day|hour|minute)s?-old)",
        re.IGNORECASE,
    )


def _trie(items) -> str:
    """A regular expression matching any of `items`, as a trie (Python's re tries alternatives one by one)."""
    root: dict = {}
    for item in items:
        node = root
        for ch in item:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and "" not in node else "(?:" + "|".join(alts) + ")"
        return body + ("?" if "" in node else "")

    return emit(root)


@functools.cache
def _candidates() -> tuple[re.Pattern, re.Pattern, tuple[str, ...]]:
    """Where a number may start: a digit or currency sign; a number word (scanned for only when present)."""
    w = words()
    starts = tuple(sorted({*w["number_words"], *w["vague_numbers"], *w["fractions"]}))
    signs = "".join(sorted({s[-1] for s in w["currency_symbols"] if not s[-1].isalpha()}))
    digits = re.compile(rf"(?:US|HK|[AC])?[{re.escape(signs)}]|\d")
    wordy = re.compile(rf"(?<![a-z]){_trie(starts)}(?![a-z])")
    return digits, wordy, tuple({s.split()[0] if s.split()[0] != "a" else s for s in starts})


def _candidate_starts(text: str) -> list[int]:
    digits, wordy, probes = _candidates()
    out = [m.start() for m in digits.finditer(text)]
    low = text.lower()
    if any(p in low for p in probes):
        out.extend(m.start() for m in wordy.finditer(low))
        out.sort()
    return out


def _number(text: str) -> float | None:
    t = text.lower().replace(",", "")
    try:
        return float(t)
    except ValueError:
        pass
    table = words()["number_words"]
    if t in table:
        return float(table[t])
    if "-" in t:
        a, _, b = t.partition("-")
        if a in table and b in table:
            return float(table[a] + table[b])
    return None


def _scale(text: str | None) -> float:
    if not text:
        return 1.0
    return float(words()["scales"].get(text.strip().lower(), 1.0))


@functools.cache
def _qualifier_pattern() -> re.Pattern:
    return re.compile(rf"(?<![\w-])(?:{_alt(phrases('qualifiers'))})\s*$", re.IGNORECASE)


def qualifier_before(text: str, start: int) -> tuple[str, int]:
    """(canonical qualifier, its start) from the words just before `start`; ("", start) when none."""
    before = text[max(0, start - 24) : start]
    m = _qualifier_pattern().search(before)
    if not m:
        return "", start
    phrase = " ".join(m.group().lower().split())
    return words()["qualifiers"].get(phrase, ""), start - (len(before) - m.start())


def _currency(m: re.Match) -> str:
    w = words()
    sym = m.group("cur") or m.group("cur2")
    if sym:
        return w["currency_symbols"].get(sym.upper(), w["currency_symbols"].get(sym, ""))
    if m.group("curw"):
        return w["currency_words"].get(m.group("curw").split()[-1].lower(), "")  # "Danish krone"
    return ""


def _from_match(text: str, m: re.Match) -> Quantity | None:
    if m.group("vague"):
        lo, hi = words()["vague_numbers"][m.group("vague").lower()]
        qual, _ = qualifier_before(text, m.start())
        return Quantity(m.start(), m.end(), m.group(), float(lo), float(hi), qual or "about", "")
    if m.group("frac"):  # "two-thirds of": a share, as a percent ("the first half of": a period)
        if re.search(r"\b(?:the|first|second|last|latter|other)\s+$", text[: m.start()], re.I):
            return None
        share = float(words()["fractions"][m.group("frac").lower()])
        qual, _ = qualifier_before(text, m.start())
        return Quantity(m.start(), m.end(), m.group(), share, share, qual, "%")
    if m.group("ra"):
        return _ratio(text, m)
    a = _number(m.group("a"))
    if a is None:
        return None
    b = _number(m.group("b")) if m.group("b") else None
    sep = (m.group("sep") or "").lower()
    if b is not None and m.group("apct") and not m.group("pct"):
        return _single(text, m)  # "rose 5% to $2 billion": a percent, then a sum
    if b is not None and sep in ("to", "and"):
        lead = text[max(0, m.start() - 16) : m.start()].lower()
        last = re.findall(r"[a-z]+", lead)[-1:]
        change = (  # "range from 5 to 9" is a range
            re.search(r"\bfrom\s*$", lead) and not re.search(r"\brang\w*\s+from\s*$", lead)
        ) or (  # "rose 2% to 5%", "fell $3 to $40" ("rose 10 to 12 points" stays a range)
            last and last[0] in word_set("change_words") and bool(m.group("apct") or m.group("cur"))
        )
        # "from 3% to 5%", "rose 2% to 5%": changes; "5 and 6": two numbers
        if sep == "to" and change or sep == "and" and not re.search(r"\bbetween\s*$", lead):
            return _single(text, m)
    a_scale, b_scale = _scale(m.group("ascale")), _scale(m.group("bscale"))
    if b is not None and not m.group("ascale") and m.group("bscale"):
        a_scale = b_scale  # "10-12 thousand": the scale is written once
    low, high = a * a_scale, (b * b_scale if b is not None else a * a_scale)
    if high < low:
        return None  # "2-1" (a score) or a code, not a range
    unit = "%" if m.group("pct") or m.group("apct") else _currency(m)
    qual, _ = qualifier_before(text, m.start())
    start, surface = m.start(), m.group().strip()
    between = re.search(r"\bbetween\s+$", text[max(0, start - 10) : start], re.IGNORECASE)
    if b is not None and sep == "and" and between:  # "between 3 and 14": one value, as written
        start -= len(between.group())
        surface = text[start : m.end()].strip()
    plain = m.group("a")
    year = (
        b is None
        and not unit
        and not m.group("ascale")
        and plain.isdigit()
        and len(plain) == 4
        and YEAR_MIN <= a <= YEAR_MAX
    )
    return Quantity(start, m.end(), surface, low, high, qual, unit, year)


def _ratio(text: str, m: re.Match) -> Quantity | None:
    """ "One in five adults": a share, as a percent; "2 in 2019" is a number and a year."""
    a, b = _number(m.group("ra")), _number(m.group("rb"))
    if a is None or b is None or not 0 < a < b or YEAR_MIN <= b <= YEAR_MAX:
        sub = _pattern().match(text, m.start(), m.end("ra"))
        return _from_match(text, sub) if sub is not None and not sub.group("ra") else None
    qual, _ = qualifier_before(text, m.start())
    share = 100 * a / b
    return Quantity(m.start(), m.end(), m.group(), share, share, qual, "%")


def _single(text: str, m: re.Match) -> Quantity | None:
    """The first number of a match that turned out to be two numbers ("from 3% to 5%")."""
    sub = _pattern().match(text, m.start(), m.start("sep") if m.group("sep") else m.end())
    if sub is None or sub.group("b"):
        return None
    return _from_match(text, sub)


def parse_quantities(text: str) -> list[Quantity]:
    """Every number in `text` with its value range, qualifier and unit, in text order.

    Day-of-month numbers next to a month name ("5 March", "March 5") are dates, not figures,
    and are left out; bare years are kept with `year=True`.
    """
    months = _months()
    out = []
    pattern, end = _pattern(), -1
    for pos in _candidate_starts(text):
        if pos < end:
            continue
        m = pattern.match(text, pos)
        if m is None:
            continue
        q = _from_match(text, m)
        if q is None:
            end = pos + 1
            continue
        end = q.end
        if not q.unit and not q.is_range and _next_to_month(text, q, months):
            continue
        out.append(q)
    return out


@functools.cache
def _months() -> frozenset[str]:
    import calendar

    names = [n.lower() for n in calendar.month_name if n] + [
        n.lower() for n in calendar.month_abbr if n
    ]
    return frozenset(names)


def _next_to_month(text: str, q: Quantity, months: frozenset[str]) -> bool:
    if q.high > 31 or q.low != int(q.low):
        return False
    before = re.search(r"([A-Za-z]+)\.?\s+$", text[max(0, q.start - 12) : q.start])
    after = re.match(r"\s*(?:of\s+)?([A-Za-z]+)", text[q.end : q.end + 14])
    return bool(
        (before and before.group(1).lower() in months)
        or (after and after.group(1).lower() in months)
    )
