"""Turn retrieved passages into an answer made only of the corpus's own words, with citations.

Records here are plain dataclasses; `to_dict` gives the stable JSON shape read by other tools:
{"question", "answer", "citations": [{"id", "source", "title", "start", "end", "text", "score"}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.config import Settings
from qa.retrieve import Hit


@dataclass(frozen=True)
class Citation:
    id: int  # the number used in the answer text as [id]
    source: str  # file name in corpus/
    title: str
    start: int  # offsets of the quoted span in the source text
    end: int
    text: str  # == source_text[start:end]
    score: float  # relevance (cosine similarity of question and passage)
    passage_start: int = 0  # the retrieved passage the span was taken from
    passage_end: int = 0

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    citations: list[Citation]
    abstained: bool = False
    closest: list[Citation] = field(default_factory=list)  # shown when abstaining: "closest, but not an answer"
    figures: list = field(default_factory=list)
    resolved_question: str | None = None  # the question actually searched (follow-ups resolved)

    def to_dict(self) -> dict:
        out = {
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
        }
        if self.resolved_question and self.resolved_question != self.question:
            out["resolved_question"] = self.resolved_question
        if self.closest:
            out["closest"] = [c.to_dict() for c in self.closest]
        if self.figures:
            out["figures"] = [f.to_dict() if hasattr(f, "to_dict") else f for f in self.figures]
        return out


def _passage_citation(n: int, hit: Hit) -> Citation:
    c = hit.chunk
    return Citation(n, c.doc_id, c.title, c.start, c.end, c.text, hit.relevance, c.start, c.end)


def abstain_text(question: str) -> str:
    return f"The corpus does not say. No passage is relevant enough to answer: {question.strip()}"


def compose(question: str, hits: Sequence[Hit], settings: Settings, resolved: str | None = None) -> Answer:
    """Answer from hits; abstain when the best passage is below the relevance threshold."""
    relevant = [h for h in hits if h.relevance >= settings.min_relevance]
    if not relevant:
        closest = [_passage_citation(i, h) for i, h in enumerate(hits[:3], start=1)]
        return Answer(question, abstain_text(question), [], True, closest, resolved_question=resolved)
    cites = [_passage_citation(i, h) for i, h in enumerate(relevant, start=1)]
    text = "\n\n".join(f"{c.text} [{c.id}]" for c in cites)
    return Answer(question, text, cites, resolved_question=resolved)
