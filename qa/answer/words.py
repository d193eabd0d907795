"""The answer layer's word lists, read once from `words.json` (package data).

Why a data file: the rules of figures, names, follow-ups and opposing sources are general English;
keeping their words in one file keeps topic words out of code and lets a reader see them all at once.
"""

from __future__ import annotations

import functools
import json
from importlib import resources


@functools.cache
def words() -> dict:
    """The whole word file as a dict (lists stay lists; read on first use, then cached)."""
    text = resources.files("qa.answer").joinpath("words.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def word_set(name: str) -> frozenset[str]:
    """One list of the word file as a set, lower case."""
    return frozenset(w.lower() for w in words()[name])


@functools.cache
def word_union(*names: str) -> frozenset[str]:
    """Several lists of the word file as one set, lower case (cached: rules call this per word)."""
    return frozenset().union(*(word_set(n) for n in names))


def phrases(name: str) -> tuple[str, ...]:
    """One list of the word file, longest phrase first (for prefix and suffix matching)."""
    return tuple(sorted(words()[name], key=len, reverse=True))
