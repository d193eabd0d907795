"""Bounded caches for the question path: answers by everything that decides them, and question vectors.

Why: a served engine is asked the same questions again and again (a dashboard polling, many users
asking the day's question). An answer depends only on the index it was computed from and on
(question, resolved question, k, mode, sources, since, until): nothing in the answer path reads the
clock or a random source. Caching it turns a ~10 ms CPU-bound answer into a dictionary look-up, so
many concurrent clients stop queueing behind each other's identical work.

Answers are shared between callers, so the cache hands out copies: `Answer` is frozen, and its
lists (citations, closest, figures) are copied so a caller appending to them changes nothing here.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """A thread-safe least-recently-used map holding at most `size` items (0: holds nothing)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if not self.size:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def copy_answer(answer: Any) -> Any:
    """A copy of a (frozen) `Answer` whose lists are its own; the records in them are frozen too."""
    return dataclasses.replace(
        answer,
        citations=list(answer.citations),
        closest=list(answer.closest),
        figures=list(answer.figures),
    )


def answer_key(
    question: str,
    resolved: str,
    k: int,
    mode: str,
    sources: Sequence[str] | None,
    since: str | None,
    until: str | None,
) -> tuple:
    """Everything besides the index that decides an answer (pass defaults already applied)."""
    return (question, resolved, k, mode, tuple(sources) if sources else None, since, until)


class AnswerCache:
    """Answers of one index at a time: `bind` a newly loaded index and the old answers are gone.

    A lookup or store naming any other index (an answer still being computed from the index that
    was just replaced) is ignored, so an answer is never served from an index it did not come from.
    """

    def __init__(self, size: int) -> None:
        self._lru: LRU[Any] = LRU(size)
        self._index: Any = None
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._lru.size

    def bind(self, index: Any) -> None:
        """The index answers now come from (after a load, a reload or a rebuild): drop the rest."""
        with self._lock:
            self._index = index
            self._lru.clear()

    def get(self, index: Any, key: tuple) -> Any | None:
        if index is not self._index:
            return None
        hit = self._lru.get(key)
        return copy_answer(hit) if hit is not None else None

    def put(self, index: Any, key: tuple, answer: Any) -> None:
        with self._lock:
            if index is self._index:
                self._lru.put(key, copy_answer(answer))

    def stats(self) -> dict[str, int]:
        return {"size": self._lru.size, "items": len(self._lru),
                "hits": self._lru.hits, "misses": self._lru.misses}  # fmt: skip
