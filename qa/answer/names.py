"""Names a question uses, and which of them the whole corpus never mentions.

Why the whole corpus: "No passage mentions John." was said of a name the corpus holds, because
only the top passages were looked at. A name is missing only when the index vocabulary (every word
the BM25 tokenizer saw at build time, lower case, and its stems) does not hold it; a name the corpus
holds is for retrieval to find, never declared missing. Acronyms ("NATO", "GDP") and their plurals
("POWs") are not names: they are often written differently ("P.O.W.", "prisoners of war").
"""

from __future__ import annotations

import bisect
import contextlib
import re
import threading
import unicodedata
import weakref
from dataclasses import dataclass

from qa.answer.periods import date_names
from qa.answer.stems import WORD, stem
from qa.answer.words import word_union

_TOKEN = re.compile(r"[\w'’]+(?:-[\w'’]+)*")
_ACRONYM = re.compile(r"^(?:[A-Z]{2,}|[A-Z](?:\.[A-Z])+\.?)(?:s|'s|’s)?$")
# "Nepalese" -> "nepal", "Ukrainian" -> "ukraine", "Russians" -> "russia": a people's name holds
# its country's; tried in order, the stem kept when the corpus has it (4 letters at least)
_DEMONYM_ENDINGS = (
    ("ese", ""),
    ("ians", "ia"),
    ("ian", "ia"),
    ("ian", "e"),
    ("ans", "a"),
    ("an", "a"),
    ("i", ""),
)


_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_CAMEL_JOIN = re.compile(r"[a-z][A-Z]")
_PEOPLE_ENDS = tuple({end for end, _ in _DEMONYM_ENDINGS})


def _countries(word: str) -> list[str]:
    """What a people's name may be the name of ("nepalese" -> "nepal"; none for "paris")."""
    return [
        word[: -len(end)] + country
        for end, country in _DEMONYM_ENDINGS
        if word.endswith(end) and len(word) - len(end) + len(country) >= 4
    ]


def is_acronym(word: str) -> bool:
    """ "NATO", "GDP", "POWs", "U.S.", "WW-II" -- upper-case abbreviations and their plurals."""
    return all(_ACRONYM.match(p) for p in word.split("-")) if word else False


def fold(word: str) -> str:
    """Lower case without accents ("Möngke" -> "mongke", "Céloron" -> "celoron")."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def question_names(question: str) -> list[str]:
    """Names in a question: runs of capitalised words after its first word ("John Kirby", "Seoul").

    Acronyms, function words and number words are not names.
    """
    skip = word_union("function_words", "more_function_words", "name_stop") | date_names()
    toks = [(m.start(), m.group()) for m in _TOKEN.finditer(question)]
    out: list[str] = []
    run: list[str] = []
    last_end = -2
    for i, (start, t) in enumerate(toks):
        low = t.lower().replace("’", "'").removesuffix("'s")
        is_name = (
            i > 0
            and t[:1].isupper()
            and low not in skip
            and not is_acronym(t)
            and not t[:1].isdigit()
        )
        if is_name and run and question[last_end:start].strip() not in ("", "-"):
            out.append(" ".join(run))
            run = []
        if is_name:
            run.append(t.replace("’", "'").removesuffix("'s"))
            last_end = start + len(t)
        elif run:
            out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Vocabulary:
    """The words an index holds: lower-case words (sorted, for prefix look-ups) and their stems."""

    words: tuple[str, ...]
    stems: frozenset[str]
    word_set: frozenset[str]
    # countries the corpus's peoples name ("nepali" -> "nepal")
    peoples: frozenset[str] = frozenset()

    def holds(self, word: str) -> bool:
        """True when the corpus has `word`, its stem, a longer form ("Korea" -> "korean"), a
        shorter one ("Zelenskyy" -> "zelensky"), its country ("Nepalese" -> "nepal") or a spelling
        one edit away; accents aside ("Mongke" ~ "Möngke"); or the words run together in it
        ("UserDatagram", when "McDonald" itself is not held)."""
        if self._holds_word(word):
            return True
        parts = _CAMEL.findall(word) if _CAMEL_JOIN.search(word) else []
        return len(parts) > 1 and all(self._holds_word(p) for p in parts)

    def _holds_word(self, word: str) -> bool:
        w = fold(word).replace("’", "'").removesuffix("'s")
        if not w:
            return True
        if any(b in self.word_set or b in self.peoples for b in _countries(w)):
            return True  # "Nepalese": the corpus names Nepal, or its people ("Nepali")
        if stem(w) in self.stems:
            return True
        i = bisect.bisect_left(self.words, w)
        if i < len(self.words) and (
            self.words[i] == w or (len(w) >= 4 and self.words[i].startswith(w))
        ):
            return True
        if len(w) >= 5 and any(w[:n] in self.word_set for n in range(len(w) - 2, len(w))):
            return True
        return len(w) >= 5 and self._near(w)

    def _near(self, w: str) -> bool:
        """A corpus word one edit away sharing the first two letters ("Shelly" -> "shelley"): a
        misspelt name is still the corpus's name, for the answer to find, not to declare missing."""
        lo = bisect.bisect_left(self.words, w[:2])
        hi = bisect.bisect_left(self.words, w[:2] + "\uffff")
        return any(abs(len(v) - len(w)) <= 1 and one_edit(v, w) for v in self.words[lo:hi])


def one_edit(a: str, b: str) -> bool:
    """a and b differ by at most one inserted, deleted or replaced character, or two neighbours
    swapped ("Beriods" ~ "Beroids")."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        swapped = a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]
        return a[i + 1 :] == b[i + 1 :] or swapped
    return a[i:] == b[i + 1 :]


_vocab_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def vocabulary(index) -> Vocabulary | None:
    """The index's vocabulary (read once per loaded index), or None when it has no BM25 tokenizer."""
    with _lock:
        try:
            cached = _vocab_cache.get(index)
        except TypeError:
            cached = None
        if cached is not None:
            return cached
    source = getattr(index, "vocabulary", None)
    tok = getattr(index, "tokenizer", None)
    words_: set[str]
    stems: set[str]
    if isinstance(source, (set, frozenset, dict, list, tuple)):
        words_ = {str(w).lower() for w in source}
        stems = {stem(w) for w in words_}
    elif tok is not None and getattr(tok, "word_to_stem", None):
        words_ = {w for w in tok.word_to_stem if w}
        stems = {s for s in tok.word_to_stem.values() if s} | set(
            getattr(tok, "stem_to_sid", {}) or ()
        )
    elif tok is not None and getattr(tok, "word_to_id", None):
        words_ = {w for w in tok.word_to_id if w}
        stems = {stem(w) for w in words_}
    else:
        return None
    described = _metadata_words(getattr(index, "documents", None) or {})
    folded = {fold(w) for w in words_ | described if not w.isascii()} - words_  # accented only
    words_ |= described | folded
    stems |= {stem(w) for w in described | folded}
    peoples = frozenset(b for w in words_ if w.endswith(_PEOPLE_ENDS) for b in _countries(w))
    vocab = Vocabulary(tuple(sorted(words_)), frozenset(stems), frozenset(words_), peoples)
    with _lock, contextlib.suppress(TypeError):
        _vocab_cache[index] = vocab
    return vocab


def _metadata_words(documents: dict) -> set[str]:
    """Words of the documents' titles, outlets and authors: "According to the Maritime Trade
    Bulletin, ..." names an outlet the corpus holds, though no body text mentions it."""
    out: set[str] = set()
    for entry in documents.values():
        if not isinstance(entry, dict):
            continue
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        for value in (entry.get("title"), meta.get("outlet"), meta.get("author")):
            if isinstance(value, str):
                out |= {w.lower().replace("’", "'").removesuffix("'s") for w in WORD.findall(value)}
    return out


def missing_names(query: str, index) -> list[str]:
    """Names of `query` that no document of the index mentions (any word of the name absent).

    Without a vocabulary (an index without BM25) nothing is declared missing.
    """
    vocab = vocabulary(index) if index is not None else None
    if vocab is None:
        return []
    out = []
    for name in question_names(query):
        parts = [p for w in name.split() for p in w.split("-") if p]
        if any(not vocab.holds(p) for p in parts):
            out.append(name)
    return out


def unretrieved_names(query: str, index, texts) -> list[str]:
    """Names the corpus holds but no one of `texts` (the retrieved passages) holds whole: search for
    them ("Who is John Kirby?" retrieving only passages that say "Kirby")."""
    vocab = vocabulary(index) if index is not None else None
    if vocab is None:
        return []
    seen = [{w.lower().removesuffix("'s") for w in _TOKEN.findall(t)} for t in texts]
    out = []
    for name in question_names(query):
        parts = [p.lower() for w in name.split() for p in w.split("-") if p]
        if all(vocab.holds(p) for p in parts) and not any(
            all(any(s.startswith(p[:5]) for s in words) for p in parts) for words in seen
        ):
            out.append(name)
    return out


def with_name_hits(query: str, hits: list, index, embedder, settings, **search) -> list:
    """`hits` and, for each name the corpus holds but no hit holds whole, BM25's best chunk for the
    name (after them): a name the corpus contains is searched for, never declared missing.
    `search`: `sources` and `qvec` as given to `Retriever.search`."""
    names = unretrieved_names(query, index, [h.chunk.text for h in hits])
    if not names:
        return hits
    from qa.retrieve import Retriever

    retriever = Retriever(index, embedder, settings)
    have = {h.chunk.chunk_id for h in hits}
    out = list(hits)
    for name in names:
        for h in retriever.search(name, 1, mode="bm25", **search):
            if h.chunk.chunk_id not in have:
                have.add(h.chunk.chunk_id)
                out.append(h)
    return out
