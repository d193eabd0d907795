"""The question-answering engine and conversations on top of it."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.answer import Answer, compose, question_names
from qa.config import Settings
from qa.corpus import published_between
from qa.embed import Embedder, shared_embedder
from qa.errors import QuestionError
from qa.answer.figures import FUNCTION_WORDS, question_kinds, warm_up
from qa.retrieve import Retriever
from qa.index import Index, load_index

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
        since: str | None = None,
        until: str | None = None,
    ) -> Answer:
        q = clean_question(question)
        query = resolved or q
        k = k or self.settings.k
        if question_kinds(q) or question_kinds(query):
            warm_up()  # the number parser loads while the question is embedded and searched
            k *= FIGURE_K_FACTOR  # every source's figure, not only the best few passages
        index = self.index
        if since or until:  # a date range is a source filter: the documents published in it
            sources = published_between(
                {d: e.get("meta") or e for d, e in index.documents.items()}, since, until, sources
            )
        qvec = self.embedder.encode([query])[0]
        hits = Retriever(index, self.embedder, self.settings).search(
            query, k, mode=mode, sources=sources, qvec=qvec
        )
        return compose(
            q, hits, self.settings, resolved=query, embedder=self.embedder, qvec=qvec, index=index
        )


@dataclass
class Conversation:
    """One chat: questions in order, each answered with the earlier turns as context."""

    engine: Engine
    turns: list[Answer] = field(default_factory=list)

    def ask(self, question: str, **kwargs) -> Answer:
        """Answer `question`, resolving a follow-up against the last answered turn first."""
        q = clean_question(question)
        resolved = resolve_follow_up(q, self.turns)
        answer = self.engine.ask(q, resolved=resolved if resolved != q else None, **kwargs)
        self.turns.append(answer)
        return answer


# ---------------------------------------------------------------- follow-ups
# The rule: a question is a follow-up when it leans on an earlier turn -- it uses a pronoun or
# demonstrative ("When did he escape?"), starts elliptically ("What about the wounded?"), or has at
# most one content word ("Why?") -- unless it names its own subject and has no personal pronoun
# ("Is this North Korea's largest deployment?"). An elliptic follow-up carries the last answered turn's
# whole searched question ("What about the wounded? (how many troops were deployed?)"); any other
# carries that turn's names, or its content words when it named nobody: the first personal pronoun is
# replaced by the names ("When did Ryu Seong-hyeon escape?"), otherwise they are appended.

PERSONAL = ("he", "she", "they", "him", "her", "them", "his", "their", "hers", "theirs")
DEMONSTRATIVE = ("it", "its", "that", "those", "this", "these", "there", "then")
ELLIPTIC_STARTS = ("what about", "how about", "and ", "also ", "what else", "same for")
_PERSONAL_RE = re.compile(r"\b(" + "|".join(PERSONAL) + r")\b", re.IGNORECASE)


def _is_elliptic(question: str) -> bool:
    q = " ".join(w.lower() for w in re.findall(r"[\w'’-]+", question)) + " "
    return any(q.startswith(p.strip() + " ") for p in ELLIPTIC_STARTS)


def is_follow_up(question: str) -> bool:
    """True when the question leans on an earlier turn (see the rule above)."""
    words = [w.lower() for w in re.findall(r"[\w'’-]+", question)]
    personal = bool(set(words) & set(PERSONAL))
    if _is_elliptic(question):
        return True
    if question_names(question) and not personal:
        return False  # names its own subject: self-contained
    content = [w for w in words if w not in FUNCTION_WORDS and w not in PERSONAL + DEMONSTRATIVE]
    return personal or bool(set(words) & set(DEMONSTRATIVE)) or len(content) <= 1


def _carried(turn: Answer) -> tuple[str, bool]:
    """(terms to carry, whether they are names) from an earlier turn's searched question."""
    searched = turn.resolved_question or turn.question
    names = question_names(searched)
    if names:
        return " ".join(dict.fromkeys(names)), True
    words = [
        w
        for w in re.findall(r"[\w'’-]+", searched)
        if w.lower() not in FUNCTION_WORDS and w.lower() not in PERSONAL + DEMONSTRATIVE
    ]
    return " ".join(dict.fromkeys(words)), False


def resolve_follow_up(question: str, turns: Sequence[Answer]) -> str:
    """The question to search: a follow-up resolved against the last answered turn, else `question` itself."""
    last = next((t for t in reversed(turns) if not t.abstained), None)
    if last is None or not is_follow_up(question):
        return question
    if _is_elliptic(
        question
    ):  # "What about the wounded?" asks the last question again about something else
        return f"{question} ({last.resolved_question or last.question})"
    terms, are_names = _carried(last)
    if not terms:
        return question
    if are_names and _PERSONAL_RE.search(question):

        def sub(m: re.Match) -> str:
            return (
                f"{terms}'s"
                if m.group(1).lower() in ("his", "her", "their", "hers", "theirs")
                else terms
            )

        return _PERSONAL_RE.sub(sub, question, count=1)
    return f"{question} ({terms})"
