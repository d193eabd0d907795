"""What a question asks: a figure or not, and which one (unit, counted noun, period, latest value).

Why apart from the figures: the question is read once per question, the figures once per sentence;
both use the same stems (`qa.answer.stems`) and period spellings (`qa.answer.periods`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from qa.answer.periods import normalize_period, periods
from qa.answer.stems import WORD, content_stems, is_participle, plural, stem
from qa.answer.words import phrases, word_set, word_union


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


@functools.cache
def _money_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in word_set("money_words"))


def is_explanation(question: str) -> bool:
    """Why/how questions ask for a cause or a manner, never for a figure."""
    q = " ".join(question.lower().split())
    return any(
        q.startswith(p + " ") or q == p or q.startswith(p + "?")
        for p in phrases("explanation_starts")
    )


def is_quantity_question(question: str) -> bool:
    """A question asking for a figure: "how many ...", "what percentage ...", or "what is the
    (latest) number of ..."; not "What country took the largest number of refugees?" (a name)."""
    if is_explanation(question):
        return False
    words = WORD.findall(question.lower())
    q = " " + " ".join(words) + " "
    for p in phrases("quantity_phrases"):
        at = q.find(f" {p} ")
        if at < 0:
            continue
        if p.split()[0] in ("how", "what"):
            return True
        lead = q[:at].split()  # "number of": only as the wh-phrase's own noun
        if lead and lead[0] in ("what", "which") and len(lead) <= 4:
            return True
    return False


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
        if plural(t, capitalised=True):
            break  # "how many cases officials counted": a plural noun ends the phrase
    stems = content_stems(q)
    qwords = set(WORD.findall(low))
    if qwords & word_set("percent_question_words") or "%" in q:
        unit = "percent"
    elif _money_stems() & {stem(w) for w in qwords} and found != "how many":  # "paying"
        unit = "money"
    elif found == "how many" or (
        run and found not in ("how much", "how large", "how big", "how high")
    ):
        unit = "count"
    else:
        unit = "any"  # "by how much did water use rise?", "how big is the budget?"
    if unit == "money" and (
        re.search(r"\bby how much\b", low) or qwords & word_set("change_words")
    ):
        unit = "any"  # "by how much will council tax rise?", "how much did the price increase?"
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
        events = [t for t in toks[len(run) :] if is_participle(t) and t.lower() not in fn]
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


def event_stems(a: Asked) -> frozenset[str]:
    """Stems of the question's -ed/-en words after its noun ("wounded", "killed", "deployed")."""
    return frozenset(stem(w) for w in a.what.split()[1:] if is_participle(w))
