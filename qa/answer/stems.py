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
