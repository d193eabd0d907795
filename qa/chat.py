"""The question-answering engine and conversations on top of it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from qa.answer import Answer, compose
from qa.answer.asks import is_quantity_question
from qa.answer.names import with_name_hits
from qa.cache import AnswerCache, answer_key
from qa.config import Settings
from qa.corpus import published_between
from qa.embed import Embedder, QuestionVectors, shared_embedder
from qa.errors import QuestionError, UnknownDocumentError
from qa.follow_up import (  # noqa: F401 (is_follow_up re-exported)
    is_citation_question,
    is_follow_up,
    is_speaker_question,
    resolve_follow_up,
    sources_answer,
    speaker_answer,
)
from qa.index import Index, load_index
from qa.retrieve import Retriever

MAX_QUESTION_CHARS = 2000
FIGURE_K_FACTOR = 2  # quantity questions read more passages: each source may give its own figure


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse empty questions."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    q = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question)
    q = " ".join(q.split())
    if not q:
        raise QuestionError("the question is empty")
    return q[:MAX_QUESTION_CHARS]


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _side_pool() -> ThreadPoolExecutor:
    """Threads embedding questions beside their BM25 search (ONNX Runtime releases the GIL). Sized
    for a serving process's concurrent answers, so one answer never waits for another's slot."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="qa-embed")
        return _POOL


class Engine:
    """Index + model + retriever, loaded lazily and shared by CLI, UI and conversations."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or shared_embedder(settings)
        self._index: Index | None = None
        self._lock = threading.Lock()
        self.answers = AnswerCache(settings.answer_cache)  # qa/cache.py: why it is safe
        self._question_vectors = QuestionVectors(self.embedder, settings.answer_cache)

    @property
    def index(self) -> Index:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = load_index(self.settings)
                    self.answers.bind(self._index)
        return self._index

    def source_text(self, doc_id: str) -> str | None:
        """A document's current text (None when it cannot be read): what a quote's neighbours say."""
        from qa.corpus import read_document
        from qa.errors import QAError

        try:
            return read_document(self.settings.corpus_dir, doc_id).text
        except QAError:
            return None

    def reload(self) -> Index:
        with self._lock:
            self._index = load_index(self.settings)
            self.answers.bind(self._index)  # answers of the old index are gone
        return self._index

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        sources: Sequence[str] | None = None,
        mode: str | None = None,
        resolved: str | None = None,
        since: str | None = None,
        until: str | None = None,
        fresh: bool = False,
    ) -> Answer:
        """The answer to `question` (`resolved`: the follow-up rewritten), from the cache when the
        same question with the same options was answered from the same index (`fresh`: computed
        again all the same, e.g. to check the cached one)."""
        q = clean_question(question)
        index = self.index
        mode = mode or self.settings.mode
        key = answer_key(q, resolved or q, k or self.settings.k, mode, sources, since, until)
        answer = None if fresh else self.answers.get(index, key)
        if answer is None:
            answer = self._ask(q, k=k, sources=sources, mode=mode, resolved=resolved,
                               since=since, until=until)  # fmt: skip
            self.answers.put(index, key, answer)
        return answer

    def cached(self, question: str, *, k: int | None = None, sources: Sequence[str] | None = None,
               mode: str | None = None, since: str | None = None, until: str | None = None,
               ) -> Answer | None:  # fmt: skip
        """`ask`'s answer when it is cached, else None; never computes nor loads anything, so a
        server can answer repeated questions on its event loop without a worker thread."""
        index = self._index
        try:
            q = clean_question(question)
        except QuestionError:
            return None  # `ask` says what is wrong
        mode = mode or self.settings.mode
        key = answer_key(q, q, k or self.settings.k, mode, sources, since, until)
        return self.answers.get(index, key) if index is not None else None

    def _ask(
        self,
        question: str,
        *,
        k: int | None = None,
        sources: Sequence[str] | None = None,
        mode: str | None = None,
        resolved: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Answer:
        q = clean_question(question)
        query = resolved or q
        k = k or self.settings.k
        if is_quantity_question(q) or is_quantity_question(query):
            k *= FIGURE_K_FACTOR  # every source's figure, not only the best few passages
        index = self.index
        unknown = [d for d in sources or () if d not in index.documents]
        if unknown:  # a filter naming nothing indexed must not read as "the corpus does not say"
            raise UnknownDocumentError(f"no such document: {', '.join(map(repr, unknown[:5]))}")
        if since or until:  # a date range is a source filter: the documents published in it
            sources = published_between(
                {d: e.get("meta") or e for d, e in index.documents.items()}, since, until, sources
            )
        pending = _side_pool().submit(self._question_vectors, query)  # embedded while BM25 searches
        hits = Retriever(index, self.embedder, self.settings).search(
            query, k, mode=mode, sources=sources, qvec=pending.result
        )
        qvec = pending.result()
        kw = {"resolved": query, "embedder": self.embedder, "qvec": qvec, "index": index}
        answer = compose(q, hits, self.settings, **kw)
        if answer.abstained:  # a name the corpus holds but no hit holds whole: search for it
            more = with_name_hits(
                query, hits, index, self.embedder, self.settings, sources=sources, qvec=qvec
            )
            if len(more) > len(hits):
                answer = compose(q, more, self.settings, **kw)
        return answer


@dataclass
class Conversation:
    """One chat: questions in order, each answered with the earlier turns as context."""

    engine: Engine
    turns: list[Answer] = field(default_factory=list)

    def ask(self, question: str, **kwargs) -> Answer:
        """Answer `question`, resolving a follow-up against the last answered turn first.

        "Which article says that?" is answered from the last answer's citations, without a search."""
        q = clean_question(question)
        last = next((t for t in reversed(self.turns) if not t.abstained), None)
        if last is not None and is_citation_question(q):
            answer = sources_answer(q, last)
            self.turns.append(answer)
            return answer
        if last is not None and last.citations and is_speaker_question(q):
            answer = speaker_answer(q, last, self.engine.source_text)
            self.turns.append(answer)
            return answer
        resolved = resolve_follow_up(q, self.turns)
        answer = self.engine.ask(q, resolved=resolved if resolved != q else None, **kwargs)
        self.turns.append(answer)
        return answer
