"""The question-answering engine and conversations on top of it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.answer import Answer, compose
from qa.config import Settings
from qa.embed import Embedder, shared_embedder
from qa.errors import QuestionError
from qa.retrieve import Retriever
from qa.store import Index, load_index

MAX_QUESTION_CHARS = 2000


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse empty questions."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    q = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question)
    q = " ".join(q.split())
    if not q:
        raise QuestionError("the question is empty")
    return q[:MAX_QUESTION_CHARS]


class Engine:
    """Index + model + retriever, loaded lazily and shared by CLI, UI and conversations."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or shared_embedder(settings)
        self._index: Index | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> Index:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = load_index(self.settings)
        return self._index

    def reload(self) -> Index:
        with self._lock:
            self._index = load_index(self.settings)
        return self._index

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        sources: Sequence[str] | None = None,
        mode: str | None = None,
        resolved: str | None = None,
    ) -> Answer:
        q = clean_question(question)
        query = resolved or q
        hits = Retriever(self.index, self.embedder, self.settings).search(query, k, mode=mode, sources=sources)
        return compose(q, hits, self.settings, resolved=query)


@dataclass
class Conversation:
    """One chat: questions in order, each answered with the earlier turns as context."""

    engine: Engine
    turns: list[Answer] = field(default_factory=list)

    def ask(self, question: str, **kwargs) -> Answer:
        answer = self.engine.ask(question, **kwargs)
        self.turns.append(answer)
        return answer
