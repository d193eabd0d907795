"""Who said a sentence: the speaker its own attribution names, or none.

"Who said that?" after an answer asks about the answer's first quote. News attributes a quote in a
few shapes -- '"...," said Kim, a former soldier', 'Lee Seong-kweun, who sits on the committee,
said', 'According to the agency, ...', '"...," she said' -- which a regular expression over the
sentence reads; a pronoun takes the last full name of the text before it. A sentence with none of
these is the article's own statement, and the answer says so instead of guessing.
"""

from __future__ import annotations

import functools
import re

from qa.answer.figures import names_in
from qa.answer.periods import date_names
from qa.answer.words import word_set, word_union

_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:(?:de|van|von|bin|al|la|le)\s+)?[A-Z][\w'’.-]*)*"
MAX_APPOSITIVE = 120  # characters of "a 32-year-old former soldier who ..." kept with a name


@functools.cache
def _patterns() -> tuple[re.Pattern, ...]:
    verbs = "|".join(sorted(word_set("speech_verbs"), key=len, reverse=True))
    after_quote = re.compile(
        rf"[,”\"!?]\s*(?:{verbs})\s+(?P<name>{_NAME})"
        rf"(?P<role>,\s+(?:a|an|the|who)\b[^,.;\"“”]{{1,{MAX_APPOSITIVE}}})?"
    )
    before_verb = re.compile(
        rf"(?P<name>{_NAME})(?P<role>,\s+[^,\"“”]{{1,{MAX_APPOSITIVE}}},)?,?\s+(?:also\s+)?(?:{verbs})\b"
    )
    described = re.compile(  # "said the bank's governor", "the company also said"
        rf"[,”\"!?]\s*(?:{verbs})\s+(?P<a>the\s+[^,.;\"“”]{{2,60}})"
        rf"|\b(?P<b>[Tt]he\s+(?:[\w'’-]+\s+){{0,3}}?[\w'’-]+)\s+(?:also\s+)?(?:{verbs})\b"
    )
    according = re.compile(
        r"\b[Aa]ccording to\s+(?P<name>(?:the\s+)?(?:[A-Z]\.)*[^,.;:\"“”]{2,80})"
    )
    pronoun = re.compile(rf"\b(?:(?:he|she)\s+(?:{verbs})|(?:{verbs})\s+(?:he|she))\b", re.I)
    return after_quote, before_verb, described, according, pronoun


def _is_name(name: str) -> bool:
    """A run of capitalised words that names someone: not "The", "Thursday" or "In"."""
    skip = word_union("function_words", "more_function_words", "name_stop") | date_names()
    return any(w.lower().strip(".'’s") not in skip for w in name.split())


def _trim(name: str) -> str:
    skip = word_union("function_words", "more_function_words") | date_names()
    words = name.split()
    while words and words[0].lower() in skip:
        words = words[1:]  # "The agency" -> "agency" is no name; "In January Lee" -> "Lee"
    return " ".join(words)


def _last_person(text: str) -> str:
    """The last name of two or more capitalised words in `text` ("Volodymyr Zelenskyy")."""
    names = [name for _, name in names_in(text) if len(name.split()) >= 2]
    return names[-1] if names else ""


def speaker(sentence: str, before: str = "") -> tuple[str, str]:
    """(who, how): who the sentence says is speaking ("Kim, a 32-year-old former soldier") and
    "said" or "according to"; ("", "") when it names no one. `before`: the text before the
    sentence in its source, for "he said"."""
    after_quote, before_verb, described, according, pronoun = _patterns()
    for pattern in (after_quote, before_verb):
        for m in pattern.finditer(sentence):
            name = _trim(m.group("name"))
            if name and _is_name(name):
                role = (m.group("role") or "").rstrip(",")
                return name + (role if pattern is after_quote else ""), "said"
    m = described.search(sentence)
    if m:
        return next(g for g in m.groups() if g).strip(), "said"
    m = according.search(sentence)
    if m:
        return m.group("name").strip(), "according to"
    name = _last_person(before) if pronoun.search(sentence) else ""
    return (name, "said") if name else ("", "")
