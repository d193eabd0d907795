"""The answer's records: `Answer`, its `Citation`s and the candidate `Sentence`s they quote.

`to_dict` gives the stable JSON shape read by other tools:
{"question", "answer", "citations": [{"id", "source", "title", "start", "end", "text", "score"}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.corpus import Chunk


@dataclass(frozen=True)
class Citation:
    id: int  # the number used in the answer text as [id]
    source: str  # file name in corpus/
    title: str
    start: int  # offsets of the quoted span in the source text
    end: int
    text: str  # == source_text[start:end]
    score: float  # relevance (cosine similarity of question and quoted sentence; passage when abstaining)
    passage_start: int = 0  # the retrieved passage the span was taken from
    passage_end: int = 0
    published: str | None = None  # the source's metadata, from the index manifest (when known)
    outlet: str | None = None
    author: str | None = None
    url: str | None = None
    also_in: tuple[str, ...] = ()  # other outlets that carried the same story (qa.answer.stories)
    page: int | None = None  # 1-based page of a PDF source holding `start`

    def to_dict(self) -> dict:
        meta = {
            k: v
            for k in ("published", "outlet", "author", "url", "page")
            if (v := getattr(self, k))
        }
        meta |= {"also_in": list(self.also_in)} if self.also_in else {}
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
            "passage_start": self.passage_start,
            "passage_end": self.passage_end,
        } | meta


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    citations: list[Citation]
    abstained: bool = False
    closest: list[Citation] = field(
        default_factory=list
    )  # shown when abstaining: "closest, but not an answer"
    figures: list = field(default_factory=list)  # list[qa.figures.Figure], for quantity questions
    resolved_question: str | None = None  # the question actually searched (follow-ups resolved)
    figures_disagree: bool = False  # the sources give different figures for the asked quantity
    quotes: tuple[int, ...] = ()  # citation ids of the quoted sentences, best first (figures aside)
    sources_count: int = (
        0  # independent stories cited: syndicated copies count once (0: not counted)
    )

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
            out["figures_disagree"] = self.figures_disagree
        if self.sources_count:
            out["sources_count"] = self.sources_count
        return out


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage, with its offsets in the source document."""

    chunk: Chunk
    start: int  # == chunk.start + offset in the chunk
    end: int
    text: str
    rank: int  # rank of the passage it came from (0 = best)
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)  # pooled, normalized
