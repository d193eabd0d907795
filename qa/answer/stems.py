"""Words and stems shared by the figure, name and side rules: one tokenizer, one stemmer.

Why one place: a figure's counted noun, a question's asked noun and a name's words must be cut and
stemmed the same way, or "soldiers" in a question would never meet "soldier" in a source.
"""

from __future__ import annotations

import functools
import re

from qa.answer.words import word_set, word_union

WORD = re.compile(r"[\w'’]+(?:-[\w'’]+)*")


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


def plural(word: str, capitalised: bool = False) -> bool:
    """A plural noun ("beds", "people"); capitalised words only when asked (they are mostly names)."""
    low = word.lower()
    if low in word_set("irregular_plurals"):
        return True
    regular = len(low) > 3 and low.endswith("s") and not low.endswith(("ss", "us", "is"))
    return regular and (capitalised or word[:1].islower())


@functools.cache
def _verb_forms() -> tuple[dict[str, str], frozenset[str]]:
    """Irregular verbs from `verb_forms` ("rise rose risen"): form -> base, and the participles."""
    base: dict[str, str] = {}
    participles = set()
    for entry in word_set("verb_forms"):
        forms = entry.split()
        for f in forms[1:]:
            base.setdefault(f, forms[0])
        if len(forms) == 3 and forms[2] not in forms[:2]:  # "taken"; not "heard": also past tense
            participles.add(forms[2])
    return base, frozenset(participles)


def is_participle(word: str) -> bool:
    """A lower-case past participle: "killed", "taken", "shown"; not "open", "hundred" or "women".

    Why a list for -en: most English -en words are not participles ("open", "seven", "children")."""
    low = word.lower()
    if not word[:1].islower() or low in word_set("not_participles"):
        return False
    return (len(low) > 3 and low.endswith("ed")) or low in _verb_forms()[1]


def verb_stem(word: str) -> str:
    """The stem of a word's base verb for irregular forms ("rose" -> "rise"), else its stem."""
    return stem(_verb_forms()[0].get(word.lower(), word))
