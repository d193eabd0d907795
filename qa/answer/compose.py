"""Turn retrieved passages into an answer made only of the corpus's own words, with citations.

An answer is a few sentences quoted verbatim from the retrieved passages, each followed by its
citation [n]; a citation's `start`/`end` are the quoted sentence's offsets in its source file, so
`source_text[start:end] == text`. Sentences come from pysbd, are scored against the question with
the embedding model (one batch per question) plus word overlap, near-duplicates across articles
are dropped. Quantity questions get a figures summary first (see `qa.figures`). When nothing is
relevant enough the answer abstains and lists the closest passages instead.

Records here are plain dataclasses; `to_dict` gives the stable JSON shape read by other tools:
{"question", "answer", "citations": [{"id", "source", "title", "start", "end", "text", "score"}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.answer import figures as fig
from qa.answer.figure_block import figure_block
from qa.answer.names import missing_names as whole_corpus_missing
from qa.config import Settings
from qa.corpus import Chunk
from qa.retrieve import Hit
from qa.sentences import MIN_WORDS, quotable_spans, split_sentences  # noqa: F401 (re-exported)

MAX_SENTENCES = 5  # sentences quoted in an answer (figure sentences may add to it)
LEXICAL_WEIGHT = 0.25  # score = cosine(question, sentence) + weight * share of question words in it
NEAR_DUPLICATE = 0.92  # sentence cosine above this: the same sentence in another article
KEEP_MARGIN = 0.12  # quote sentences scoring within this of the best one


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

    def to_dict(self) -> dict:
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
        }


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


def passage_sentences(hits: Sequence[Hit], index=None, embedder=None) -> list[Sentence]:
    """Quotable sentences of the hits, each span once (overlapping passages repeat sentences).

    Spans and vectors come from the index (computed at build time); without one, they are computed
    the same way here (split, then pooled from each passage's forward pass) when an embedder is given.
    """
    seen: set[tuple[str, int, int]] = set()
    out = []
    stored = [index.sentences(h.chunk.chunk_id) if index is not None else None for h in hits]
    if embedder is not None and any(x is None for x in stored):
        from qa.embed import embed_chunks

        missing = [i for i, x in enumerate(stored) if x is None]
        spans = [quotable_spans(hits[i].chunk) for i in missing]
        _, pooled = embed_chunks(embedder, [hits[i].chunk for i in missing], spans)
        for i, sp, p in zip(missing, spans, pooled, strict=True):
            stored[i] = (np.asarray(sp, dtype=np.int64).reshape(-1, 2), p)
    for rank, (hit, data) in enumerate(zip(hits, stored, strict=True)):
        c = hit.chunk
        spans_, vecs = data if data is not None else (quotable_spans(c), None)
        for j, (a, b) in enumerate(np.asarray(spans_, dtype=np.int64).reshape(-1, 2).tolist()):
            key = (c.doc_id, c.start + a, c.start + b)
            if key in seen:
                continue
            seen.add(key)
            vec = vecs[j] if vecs is not None else None
            out.append(Sentence(c, c.start + a, c.start + b, c.text[a:b], rank, vec))
    return out


def _stopwords() -> set[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return set(STOPWORDS_EN) | fig.FUNCTION_WORDS


def _content_stems(text: str) -> set[str]:
    stop = _stopwords()
    words = [w for w in fig._WORD.findall(text.lower()) if w not in stop]
    return set(fig._stem_words(" ".join(words)))


def score_sentences(
    question: str, sentences: Sequence[Sentence], embedder, qvec: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, cosine, sentence vectors): cosine with the question plus a word-overlap bonus.

    Sentence vectors are the stored (pooled) ones; sentences without one are embedded on their own.
    """
    if not sentences:
        return np.zeros(0), np.zeros(0), np.zeros((0, 1), dtype=np.float32)
    texts = [s.text for s in sentences]
    if qvec is None:
        qvec = embedder.encode([question])[0]
    lacking = [i for i, s in enumerate(sentences) if s.vector is None]
    alone = embedder.encode([texts[i] for i in lacking]) if lacking else None
    svecs = np.empty((len(sentences), len(qvec)), dtype=np.float32)
    for i, s in enumerate(sentences):
        if s.vector is not None:
            svecs[i] = s.vector
    if alone is not None:
        svecs[lacking] = alone
    cos = svecs @ np.asarray(qvec, dtype=np.float32)
    q_stems = _content_stems(question)
    overlap = np.array(
        [len(q_stems & _content_stems(t)) / len(q_stems) if q_stems else 0.0 for t in texts]
    )
    return cos + LEXICAL_WEIGHT * overlap, cos, svecs


def question_names(question: str) -> list[str]:
    """Names the question uses: capitalised or all-caps words after its first word ("Seoul", "GDP", "Kirby")."""
    words = fig._WORD.findall(question.replace(".", ""))
    stop = _stopwords()
    return [w for w in words[1:] if w[:1].isupper() and w.lower() not in stop and not w.isdigit()]


def missing_names(question: str, hits: Sequence[Hit]) -> list[str]:
    """Names of the question that no retrieved passage mentions: the passages are about something else.

    A name matches a passage word sharing its first letters ("Zelensky" ~ "Zelenskyy", "Korea" ~ "Korean").
    """
    names = question_names(question)
    if not names:
        return []
    vocab = {w.lower() for h in hits for w in fig._WORD.findall(h.chunk.text.replace(".", ""))}
    prefixes = {w[:n] for w in vocab for n in range(4, len(w) + 1)}

    def present(name: str) -> bool:
        n = name.lower().replace("’", "'").removesuffix("'s")
        return n in vocab or (
            len(n) >= 4 and (n in prefixes or any(n.startswith(v) for v in vocab if len(v) >= 4))
        )

    return [n for n in names if not present(n)]


def _passage_citation(n: int, hit: Hit) -> Citation:
    c = hit.chunk
    return Citation(n, c.doc_id, c.title, c.start, c.end, c.text, hit.relevance, c.start, c.end)


def abstain_text(question: str, missing: Sequence[str] = ()) -> str:
    why = (
        f"No passage mentions {', '.join(missing)}."
        if missing
        else f"No passage is relevant enough to answer: {question.strip()}"
    )
    return f"The corpus does not say. {why} The closest passages are listed, but they are not an answer."


def _abstain(
    question: str, hits: Sequence[Hit], resolved: str | None, missing: Sequence[str] = ()
) -> Answer:
    closest = [_passage_citation(i, h) for i, h in enumerate(hits[:3], start=1)]
    return Answer(
        question, abstain_text(question, missing), [], True, closest, resolved_question=resolved
    )


def _select(
    order: np.ndarray,
    scores: np.ndarray,
    svecs: np.ndarray,
    sentences: Sequence[Sentence],
    chosen: list[int],
    limit: int,
) -> list[int]:
    """Add the best sentences to `chosen`, skipping near-duplicates and those far below the best."""
    best = float(scores[order[0]])
    for i in order:
        if len(chosen) >= limit or scores[i] < best - KEEP_MARGIN:
            break
        if i in chosen:
            continue
        if any(
            sentences[i].text == sentences[j].text or float(svecs[i] @ svecs[j]) > NEAR_DUPLICATE
            for j in chosen
        ):
            continue
        chosen.append(int(i))
    return chosen


def compose(
    question: str,
    hits: Sequence[Hit],
    settings: Settings,
    resolved: str | None = None,
    embedder=None,
    qvec: np.ndarray | None = None,
    index=None,
) -> Answer:
    """Answer from hits: quoted sentences with citations, a figures line for quantity questions, or abstain.

    Abstains when the best sentence's score (cosine + word-overlap bonus) is below
    `settings.min_relevance`, or the question names something no passage mentions. Without an
    embedder a sentence's cosine is its passage's.
    """
    query = resolved or question
    sentences = passage_sentences(hits, index, embedder)
    missing = whole_corpus_missing(query, index) if index is not None else missing_names(query, hits)
    if not sentences or missing:
        return _abstain(question, hits, resolved, missing)
    if embedder is not None:
        scores, cos, svecs = score_sentences(query, sentences, embedder, qvec)
    else:  # lexical only: cosines unknown, take the passage's
        q_stems = _content_stems(query)
        cos = np.array([hits[s.rank].relevance for s in sentences])
        overlap = [len(q_stems & _content_stems(s.text)) / max(len(q_stems), 1) for s in sentences]
        scores = cos + LEXICAL_WEIGHT * np.array(overlap)
        svecs = np.eye(len(sentences), dtype=np.float32)
    # The best quotable sentence must be relevant: its score (pooled cosine + word-overlap bonus).
    # Measured on 45 corpus and 34 unrelated questions: lowest corpus 0.433, highest unrelated 0.229
    # (cosine alone separates worse: pooled vectors carry their passage's topic into every sentence).
    if float(scores.max()) < settings.min_relevance:
        return _abstain(question, hits, resolved)
    order = np.argsort(-scores, kind="stable")

    # Figures: the asked quantity's figures with their scope (qa.answer.figure_block), cited first.
    block = figure_block(
        question, query, sentences, scores, index, embedder, min_score=settings.min_relevance
    )
    chosen = list(block.sentences) if block else []
    chosen = _select(order, scores, svecs, sentences, chosen, max(MAX_SENTENCES, len(chosen)))
    cid: dict[int, int] = {}
    for f_sent in block.sentences if block else []:
        cid.setdefault(f_sent, len(cid) + 1)
    body = _body_order(chosen, sentences, scores, cid)
    for i in body:
        cid.setdefault(i, len(cid) + 1)
    citations = []
    for i, n in sorted(cid.items(), key=lambda kv: kv[1]):
        s = sentences[i]
        assert s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start] == s.text
        citations.append(
            Citation(
                n,
                s.chunk.doc_id,
                s.chunk.title,
                s.start,
                s.end,
                s.text,
                float(cos[i]),
                s.chunk.start,
                s.chunk.end,
            )
        )
    parts = [block.render(cid)] if block else []
    parts.append(" ".join(f"{sentences[i].text} [{cid[i]}]" for i in body))
    figures = block.figures(cid) if block else []
    disagree = bool(block and block.disagree)
    return Answer(
        question,
        "\n\n".join(parts),
        citations,
        figures=figures,
        resolved_question=resolved,
        figures_disagree=disagree,
    )


def _body_order(
    chosen: list[int], sentences: Sequence[Sentence], scores: np.ndarray, cited: dict[int, int]
) -> list[int]:
    """Quoted sentences: those the figures line cites, in its order; then by article (best first), in reading order."""
    first = sorted((i for i in chosen if i in cited), key=cited.__getitem__)
    rest = [i for i in chosen if i not in cited]
    best_of_doc: dict[str, float] = {}
    for i in rest:
        d = sentences[i].chunk.doc_id
        best_of_doc[d] = max(best_of_doc.get(d, -9.0), float(scores[i]))
    rest.sort(
        key=lambda i: (
            -best_of_doc[sentences[i].chunk.doc_id],
            sentences[i].chunk.doc_id,
            sentences[i].start,
        )
    )
    return first + rest
