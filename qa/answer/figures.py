"""Figures the sources give for the quantity a question asks about, grouped by value.

An analyst asking "how many troops were deployed?" needs every distinct figure the sources give
(about 11,000; more than 12,000; 11,000-12,000 ...), each with its citations, and to be told when
the sources disagree. Numbers are parsed by quantulum3 (offline, without its scikit-learn unit
classifier, whose pickles do not load across scikit-learn versions); which quantity a number
counts (troops deployed, killed, wounded, ...) comes from the words of its own clause, stemmed.

The rule, testable on its own: a figure belongs to the question when its clause carries the
same kind as the question (a deployment word for "deployed", a kill word for "killed", ...).
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# kind -> stems (PyStemmer, english) of the words that signal it, in the question or in a figure's clause
KIND_STEMS: dict[str, frozenset[str]] = {
    "killed": frozenset({"kill", "dead", "die", "death", "slain", "fatal", "toll"}),
    "wounded": frozenset({"wound", "injur", "injuri", "hurt"}),
    "casualties": frozenset({"casualti", "loss"}),
    "captured": frozenset({"captur", "prison", "prisoner", "pow", "surrend"}),
    "deployed": frozenset(
        {"deploy", "sent", "send", "dispatch", "station", "mobil", "mobilis", "mobiliz"}
    ),
}
TROOP_STEMS = frozenset(
    {"troop", "soldier", "forc", "personnel", "fighter", "servicemen", "armi", "men"}
)
KIND_LABELS = {
    "deployed": "troops deployed",
    "killed": "killed",
    "wounded": "wounded",
    "casualties": "killed or wounded",
    "captured": "captured",
    "troops": "troops",
    "date": "dates",
    "count": "numbers",
}
# Canonical qualifiers, longest phrase first when matching the words just before a number.
QUALIFIERS = {
    "in excess of": "more than",
    "more than": "more than",
    "over": "more than",
    "above": "more than",
    "upwards of": "more than",
    "at least": "at least",
    "no fewer than": "at least",
    "approximately": "about",
    "about": "about",
    "around": "about",
    "roughly": "about",
    "some": "about",
    "an estimated": "about",
    "estimated": "about",
    "almost": "nearly",
    "nearly": "nearly",
    "close to": "nearly",
    "fewer than": "fewer than",
    "less than": "fewer than",
    "under": "fewer than",
    "up to": "up to",
    "as many as": "up to",
}
QUANTITY_PHRASES = (
    "how many",
    "how much",
    "what number",
    "number of",
    "how often",
    "death toll",
    "how large",
    "how big",
    "size of",
    "what was the toll",
)
DATE_PHRASES = (
    "what year",
    "which year",
    "what date",
    "which date",
    "what month",
    "which month",
    "what day",
    "since when",
    "how long ago",
    "in what year",
)
FUNCTION_WORDS = frozenset(
    {
        "how",
        "what",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "which",
        "did",
        "do",
        "does",
        "many",
        "much",
        "he",
        "she",
        "his",
        "her",
        "him",
        "they",
        "them",
        "their",
        "it",
        "its",
        "has",
        "have",
        "had",
        "were",
        "was",
        "is",
        "are",
        "been",
        "be",
        "say",
        "said",
        "i",
        "you",
        "we",
        "me",
        "my",
        "our",
        "your",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "to",
        "for",
        "and",
        "or",
        "about",
        "there",
        "that",
        "this",
        "those",
        "these",
        "tell",
        "number",
        "total",
    }
)
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
RANGE_SEPARATORS = ("–", "—", "-", " to ", " and ")
_WORD = re.compile(r"[\w'’]+(?:-[\w'’]+)*")
_CLAUSE_BREAK = re.compile(r"[,;:!?]|\.(?:\s|$)|\s[-–—]\s")  # a number's words stop at these

_lock = threading.Lock()
_parser = None
_stemmer = None


def _stem_words(text: str) -> list[str]:
    global _stemmer
    if _stemmer is None:
        import Stemmer

        _stemmer = Stemmer.Stemmer("english")
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    parts = [p for w in words for p in (w.split("-") if "-" in w else [w])]
    return _stemmer.stemWords(parts)


def quantulum():
    """The quantulum3 parser, loaded once (about 4 s the first time: it builds its language tables)."""
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    from quantulum3 import classifier, parser

                    classifier.USE_CLF = False  # rule-based unit disambiguation: no sklearn pickle
                    parser.parse("about 11,000 soldiers")  # builds the language tables now
                _parser = parser
    return _parser


def warm_up() -> None:
    """Load the number parser in the background (the CLI overlaps it with retrieval)."""
    threading.Thread(target=quantulum, daemon=True).start()


# ---------------------------------------------------------------- questions


def question_kinds(question: str) -> tuple[str, ...] | None:
    """The kinds of figure a question asks for, most specific first; None for a non-quantity question."""
    q = " ".join(question.lower().split())
    words = [w.lower() for w in _WORD.findall(q)]
    stems = set(_stem_words(q))
    specific = [k for k, s in KIND_STEMS.items() if k != "deployed" and stems & s]
    asks_number = any(p in q for p in QUANTITY_PHRASES)
    asks_date = ("when" in words or any(p in q for p in DATE_PHRASES)) and not asks_number
    if asks_date:
        return ("date",)
    if specific:
        if "killed" in specific and "wounded" in specific:
            specific = [
                "casualties",
                *[k for k in specific if k not in ("killed", "wounded", "casualties")],
            ]
        related = {
            "casualties": ("killed", "wounded"),
            "killed": ("casualties",),
            "wounded": ("casualties",),
        }
        out = list(dict.fromkeys([*specific, *[r for k in specific for r in related.get(k, ())]]))
        return tuple(out) if (asks_number or "casualties" in specific) else None
    if asks_number and stems & (KIND_STEMS["deployed"] | TROOP_STEMS):
        return ("deployed",)
    if asks_number:
        return ("count",)
    return None


# ---------------------------------------------------------------- mentions in a sentence


@dataclass(frozen=True)
class Mention:
    """One figure as written in one sentence."""

    number: str  # the number as written, e.g. "11,000-12,000", "a dozen", "2019"
    start: int  # offsets of `number` within the sentence
    end: int
    low: float
    high: float
    qualifier: (
        str  # canonical: "", "about", "more than", "at least", "nearly", "fewer than", "up to"
    )
    kind: str  # deployed | killed | wounded | casualties | captured | troops | date | count

    @property
    def is_range(self) -> bool:
        return self.low != self.high


def _qualifier(before: str) -> str:
    tail = " ".join(before.lower().split()[-3:])
    for phrase in sorted(QUALIFIERS, key=len, reverse=True):
        if tail == phrase or tail.endswith(" " + phrase):
            return QUALIFIERS[phrase]
    return ""


def _value(text: str) -> float | None:
    found = [q for q in quantulum().parse(text) if q.unit.name == "dimensionless"]
    return float(found[0].value) if found else None


def _bounds(surface: str, value: float, uncertainty: float | None) -> tuple[float, float]:
    """Low and high of a figure; repairs ranges quantulum3 reads as one sum ("10-12 thousand" -> 22000)."""
    if uncertainty:
        return value - uncertainty, value + uncertainty
    for sep in RANGE_SEPARATORS:
        left, found, right = surface.partition(sep)
        if found and left.strip() and right.strip():
            lo, hi = _value(left), _value(right)
            if lo is None or hi is None:
                continue
            lead = _value(right.split()[0])
            if (
                lead and hi > lead and lo < lead * 2
            ):  # the scale word is written once: "10-12 thousand"
                lo *= hi / lead
            if lo <= hi:
                return lo, hi
    return value, value


def _clause_stems(text: str, start: int, end: int, lo: int, hi: int) -> tuple[set[str], set[str]]:
    """Stems of the words before and after text[start:end], within its clause and between lo..hi."""
    before = text[lo:start]
    cut = list(_CLAUSE_BREAK.finditer(before))
    if cut:
        before = before[cut[-1].end() :]
    after = text[end:hi]
    m = _CLAUSE_BREAK.search(after)
    if m:
        after = after[: m.start()]
    return set(_stem_words(before)[-8:]), set(_stem_words(after)[:10])


def _kind(before: set[str], after: set[str]) -> str:
    def specific(stems: set[str]) -> list[str]:
        return [k for k, s in KIND_STEMS.items() if k != "deployed" and stems & s]

    kinds = specific(after) or specific(before)
    if "killed" in kinds and "wounded" in kinds:
        return "casualties"
    if kinds:
        return kinds[0]
    if (before | after) & KIND_STEMS["deployed"]:
        return "deployed"
    if (before | after) & TROOP_STEMS:
        return "troops"
    return "count"


def _months(sentence: str) -> list[tuple[int, int]]:
    out = []
    for m in _WORD.finditer(sentence):
        word = m.group().split("-")[-1]
        if word.lower() in MONTHS and word[:1].isupper() and word.lower() != "may":
            out.append((m.start(), m.end()))
    return out


def asked_noun(question: str) -> tuple[str, ...]:
    """Stems of what a "how many X" / "number of X" question counts ("how many warheads" -> ("warhead",))."""
    q = " ".join(question.lower().split())
    for phrase in ("how many", "how much", "number of", "what number of"):
        if phrase in q:
            rest = [w.lower() for w in _WORD.findall(q.split(phrase, 1)[1])]
            noun = []
            for w in rest:
                if w in FUNCTION_WORDS:
                    break
                noun.append(w)
            return tuple(_stem_words(" ".join(noun[-1:]))) if noun else ()
    return ()


def mentions(sentence: str, about: Sequence[str] = ()) -> list[Mention]:
    """Every figure written in a sentence, with its qualifier and the kind its clause gives it.

    `about`: stems of the counted noun; a generic count ("count" kind) needs one of them in its clause.
    """
    found = []
    for q in quantulum().parse(sentence):
        unit = q.unit.name
        if unit not in ("dimensionless", "dozen"):
            continue  # "32-year-old", "seven days", "3.5 km": not counts
        a, b = q.span
        if sentence[a:b] != q.surface:  # quantulum cleans some text; keep only verbatim spans
            pos = sentence.find(q.surface)
            if pos < 0:
                continue
            a, b = pos, pos + len(q.surface)
        value = float(q.value) * (12 if unit == "dozen" else 1)
        found.append((a, b, q.surface, value, q.uncertainty))
    found.sort()
    out: list[Mention] = []
    for i, (a, b, surface, value, unc) in enumerate(found):
        lo_cap = found[i - 1][1] if i else 0
        hi_cap = found[i + 1][0] if i + 1 < len(found) else len(sentence)
        year_like = surface.isdigit() and len(surface) == 4 and 1000 <= value <= 2100
        if year_like:
            out.append(Mention(surface, a, b, value, value, "", "date"))
            continue
        low, high = _bounds(surface, value, unc)
        before, after = _clause_stems(sentence, a, b, lo_cap, hi_cap)
        qual = _qualifier(sentence[lo_cap:a])
        kind = _kind(before, after)
        if kind in ("count", "troops") and about and not (set(about) & (before | after)):
            kind = "other"  # a number of something the question does not count
        out.append(Mention(surface, a, b, low, high, qual, kind))
    taken = [(m.start, m.end) for m in out]
    for a, b in _months(sentence):
        if not any(x <= a < y for x, y in taken):
            out.append(
                Mention(
                    sentence[a:b],
                    a,
                    b,
                    float(MONTHS[sentence[a:b].split("-")[-1].lower()]),
                    float(MONTHS[sentence[a:b].split("-")[-1].lower()]),
                    "",
                    "date",
                )
            )
    out.sort(key=lambda m: m.start)
    merged: list[Mention] = []
    for m in out:  # "August 2024": a month and its year are one date
        prev = merged[-1] if merged else None
        if (
            prev
            and prev.kind == m.kind == "date"
            and prev.low <= 12
            and m.low > 12
            and sentence[prev.end : m.start] in (" ", ", ")
        ):
            merged[-1] = Mention(
                sentence[prev.start : m.end], prev.start, m.end, m.low, m.high, "", "date"
            )
        else:
            merged.append(m)
    return merged


# ---------------------------------------------------------------- grouping


@dataclass(frozen=True)
class Figure:
    """One distinct figure and the citations that give it."""

    text: str  # as shown: "about 11,000", "11,000-12,000", "more than 12,000", "2019"
    kind: str
    low: float
    high: float
    qualifier: str
    citations: tuple[int, ...]  # citation ids, in the answer's numbering
    quotes: tuple[str, ...]  # the number as written in each cited sentence

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "kind": self.kind,
            "label": KIND_LABELS.get(self.kind, self.kind),
            "low": self.low,
            "high": self.high,
            "qualifier": self.qualifier,
            "citations": list(self.citations),
            "quotes": list(self.quotes),
        }


QUALIFIER_ORDER = {
    "fewer than": 0,
    "up to": 1,
    "nearly": 2,
    "about": 3,
    "": 4,
    "at least": 5,
    "more than": 6,
}


def _display(m: Mention) -> str:
    number = m.number
    if m.is_range or m.kind == "date" or not m.qualifier:
        return number  # "approximately 11,000-12,000" shows as the range it gives
    return f"{m.qualifier} {number}"


def group(found: Iterable[tuple[Mention, int]], kinds: Sequence[str]) -> list[Figure]:
    """Distinct figures of the asked kinds, each with its citations; kinds in question order, values ascending."""
    groups: dict[tuple, list[tuple[Mention, int]]] = {}
    for m, cid in found:
        if m.kind not in kinds:
            continue
        qual = "" if (m.is_range or m.kind == "date") else m.qualifier
        key = (m.kind, m.low, m.high, qual) if m.kind != "date" else (m.kind, m.number.lower())
        groups.setdefault(key, []).append((m, cid))
    figures = []
    for items in groups.values():
        m0 = items[0][0]
        cids = tuple(dict.fromkeys(cid for _, cid in items))
        qual = "" if (m0.is_range or m0.kind == "date") else m0.qualifier
        figures.append(
            Figure(
                _display(m0),
                m0.kind,
                m0.low,
                m0.high,
                qual,
                cids,
                tuple(dict.fromkeys(m.number for m, _ in items)),
            )
        )
    rank = {k: i for i, k in enumerate(kinds)}
    return sorted(
        figures, key=lambda f: (rank[f.kind], f.low, f.high, QUALIFIER_ORDER.get(f.qualifier, 4))
    )


def disagreeing_kinds(figures: Sequence[Figure]) -> list[str]:
    """Kinds for which the sources give more than one distinct figure."""
    counts: dict[str, int] = {}
    for f in figures:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return [k for k, n in counts.items() if n > 1]


def summary(figures: Sequence[Figure]) -> str:
    """One line per kind: "Sources give different figures for troops deployed: about 11,000 [1]; ..."."""
    lines = []
    disagree = set(disagreeing_kinds(figures))
    for kind in dict.fromkeys(f.kind for f in figures):
        items = "; ".join(
            f"{f.text} " + "".join(f"[{c}]" for c in f.citations) for f in figures if f.kind == kind
        )
        label = KIND_LABELS.get(kind, kind)
        if kind == "date":
            lines.append(
                f"Sources give different dates: {items}."
                if kind in disagree
                else f"Date given: {items}."
            )
        elif kind in disagree:
            lines.append(f"Sources give different figures for {label} (they disagree): {items}.")
        else:
            cited = {c for f in figures if f.kind == kind for c in f.citations}
            who = "The sources give" if len(cited) > 1 else "The source gives"
            lines.append(f"{who} one figure for {label}: {items}.")
    return " ".join(lines)
