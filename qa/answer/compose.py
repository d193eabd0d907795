"""Turn retrieved passages into an answer made only of the corpus's own words, with citations.

An answer is one or a few sentences quoted verbatim from the retrieved passages, each followed by its
citation [n]; a citation's `start`/`end` are the quoted sentence's offsets in its source file, so
`source_text[start:end] == text`. Every candidate sentence is ranked by the learned scorer
(`qa.answer.score`: its own words, its cosine with the question, its passage's rank); the best one
is quoted first, others only when they score close to it (or the question asks for a list, both
sides, or a quote). The abstention model (`qa.answer.abstain`) decides whether the best sentence
answers at all; when it does not, the answer says what the evidence lacks and lists the closest
passages. Quantity questions get a figures summary first (see `qa.answer.figures`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.abstain import Decision, decide, question_features
from qa.answer.figure_block import figure_block
from qa.answer.names import missing_names as whole_corpus_missing
from qa.answer.names import question_names
from qa.answer.records import Answer, Citation, Sentence
from qa.answer.score import Idf, QuestionTerms, load_weights, score_rows, sentence_features
from qa.answer.sides import opposing_sides
from qa.answer.stories import merge_copies, story_of
from qa.config import Settings
from qa.retrieve import Hit
from qa.sentences import MIN_WORDS, quotable_spans, split_sentences  # noqa: F401 (re-exported)

MAX_SENTENCES = 4  # quoted sentences (list / yes-no / said questions: MAX_MANY; figures may add)
MAX_MANY = 5
# Quote another sentence when its probability is at least KEEP_SHARE of the best's and at least
# QUOTE_MIN: chosen on SQuAD 2.0 dev articles 01-17 (held-out halves) so a second sentence is
# quoted when the scorer is unsure between them (answer-contains 0.866 -> 0.901 at 0.35 / 0.25,
# 1.7 -> 2.3 quotes on average; the first quote unchanged).
KEEP_SHARE = 0.25
QUOTE_MIN = 0.15
MIN_PROBABILITY = 0.25  # figures and opposite sides read sentences at least this probable
NEAR_DUPLICATE = 0.92  # sentence cosine above this: the same sentence in another article
MANY_KINDS = ("list", "yes-no", "said")


@dataclass(frozen=True)
class Ranked:
    """Candidate sentences of a question's passages with their features and scores."""

    sentences: list[Sentence]
    rows: np.ndarray  # SENTENCE_FEATURES
    logits: np.ndarray
    cos: np.ndarray
    svecs: np.ndarray
    terms: QuestionTerms
    idf: Idf


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


def _cosines(
    sentences: Sequence[Sentence], hits: Sequence[Hit], qvec
) -> tuple[np.ndarray, np.ndarray]:
    """Question-sentence cosines from the stored sentence vectors; a sentence without one takes its
    passage's relevance (no model call at question time)."""
    if qvec is None or any(s.vector is None for s in sentences):
        cos = np.array([hits[s.rank].relevance for s in sentences], dtype=np.float64)
        return cos, np.eye(len(sentences), dtype=np.float32)
    svecs = np.stack([s.vector for s in sentences]).astype(np.float32)
    return svecs @ np.asarray(qvec, dtype=np.float32), svecs


def rank_sentences(
    query: str, hits: Sequence[Hit], *, index=None, embedder=None, qvec=None
) -> Ranked | None:
    """Score every quotable sentence of `hits` for `query`; None when there is none."""
    sentences = passage_sentences(hits, index, embedder)
    if not sentences:
        return None
    if qvec is None and embedder is not None:
        qvec = embedder.encode([query])[0]
    idf = Idf.of_index(index) if index is not None else Idf()
    terms = QuestionTerms.of(query, idf)
    cos, svecs = _cosines(sentences, hits, qvec)
    rows = sentence_features(terms, sentences, hits, cos)
    return Ranked(sentences, rows, score_rows(rows), cos, svecs, terms, idf)


def abstention(query: str, r: Ranked, hits: Sequence[Hit]) -> Decision:
    """The abstention model's decision, on the best sentence of the scorer it was trained with."""
    models = load_weights()
    logits = score_rows(r.rows, models.get("abstain_sentence", models["sentence"]))
    best = int(np.argmax(logits))
    f, missing = question_features(
        query,
        r.terms,
        r.idf,
        r.rows,
        logits,
        r.sentences[best].text,
        [h.chunk.text for h in hits],
    )
    return decide(f, missing, models["abstain"])


def _passage_citation(n: int, hit: Hit) -> Citation:
    c = hit.chunk
    return Citation(n, c.doc_id, c.title, c.start, c.end, c.text, hit.relevance, c.start, c.end)


def _missing_words(query: str, stems: Sequence[str], limit: int = 2) -> list[str]:
    """The question's own words for the rarest missing stems (`stems` come rarest first)."""
    from qa.answer.score import _WORD, content_stems

    words = {}
    for w in _WORD.findall(query):
        st = content_stems(w)
        if st:
            words.setdefault(st[0], w)
    return [words[s] for s in stems if s in words][:limit]


def abstain_text(question: str, missing: Sequence[str] = (), lacking: Sequence[str] = ()) -> str:
    if missing:
        why = f"No passage mentions {', '.join(missing)}."
    elif lacking:
        why = f"The closest passages do not answer this about {' and '.join(lacking)}."
    else:
        why = f"No passage is relevant enough to answer: {question.strip()}"
    return f"The corpus does not say. {why} The closest passages are listed, but they are not an answer."


def _abstain(
    question: str,
    hits: Sequence[Hit],
    resolved: str | None,
    missing: Sequence[str] = (),
    lacking: Sequence[str] = (),
) -> Answer:
    closest = [_passage_citation(i, h) for i, h in enumerate(hits[:3], start=1)]
    text = abstain_text(question, missing, lacking)
    return Answer(question, text, [], True, closest, resolved_question=resolved)


def _select(r: Ranked, chosen: list[int], limit: int) -> list[int]:
    """Add sentences best first while they score close to the best, skipping near-duplicates."""
    order = np.argsort(-r.logits, kind="stable")
    prob = 1.0 / (1.0 + np.exp(-r.logits))
    best = float(prob[order[0]])
    for i in order:
        if len(chosen) >= limit:
            break
        if chosen and (prob[i] < KEEP_SHARE * best or prob[i] < QUOTE_MIN):
            break
        if i in chosen:
            continue
        if any(
            r.sentences[i].text == r.sentences[j].text
            or float(r.svecs[i] @ r.svecs[j]) > NEAR_DUPLICATE
            for j in chosen
        ):
            continue
        chosen.append(int(i))
    return chosen


def _one_copy_per_story(
    r: Ranked, chosen: list[int], cited: list[int], documents: Mapping | None
) -> list[int]:
    """The chosen sentences without further quotes from a second copy of a story already cited.

    Why: a syndicated story is one source; its first quoted copy speaks for it, and a further
    sentence read from another outlet's copy would cite the story twice (the first quote stays)."""
    if not documents:
        return chosen
    kept = chosen[:1]
    for i in chosen[1:]:
        doc = r.sentences[i].chunk.doc_id
        story = story_of(documents, doc)
        others = {r.sentences[j].chunk.doc_id for j in kept + cited} - {doc}
        if not any(story_of(documents, d) == story for d in others):
            kept.append(i)
    return kept


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

    Abstains when the question names something no passage mentions, or when the abstention model
    finds that the best sentence lacks what the question asks about.
    """
    query = resolved or question
    missing = (
        whole_corpus_missing(query, index) if index is not None else missing_names(query, hits)
    )
    r = rank_sentences(query, hits, index=index, embedder=embedder, qvec=qvec)
    if r is None or missing:
        return _abstain(question, hits, resolved, missing)
    decision = abstention(query, r, hits)
    if settings.reader:  # the optional reader re-scores the best candidates and decides instead
        from qa.answer.reader import reread

        r, decision = reread(settings.reader, query, r, decision)
    if decision.abstain:
        return _abstain(question, hits, resolved, lacking=_missing_words(query, decision.missing))
    many = r.terms.kind in MANY_KINDS
    chosen = _select(r, [], MAX_MANY if many else MAX_SENTENCES)
    if r.terms.kind == "said":
        speech = [j for j in quoted_speech_after(r.sentences, chosen[0]) if j not in chosen]
        chosen = chosen[:1] + speech + chosen[1:]
    return _with_figures(question, resolved, r, chosen, index, embedder)


_OPENS_QUOTE = re.compile(r"^\s*[\"“]")
_CLOSES_QUOTE = re.compile(r"[\"”]\s*(?:,?\s*\w+\s+\w+\.?|\.?)\s*$")
MAX_SPEECH = 2  # sentences of one quotation added after the sentence naming its speaker


def quoted_speech_after(sentences: Sequence[Sentence], i: int) -> list[int]:
    """The quotation right after sentence `i` in its passage ('Markos conceded defeat on Monday.
    "We will respect their decision," she said.'): what a "what did X say" question asks for, though
    its words rarely repeat the question's. Empty when the next sentence opens no quotation."""
    out: list[int] = []
    s = sentences[i]
    for j in range(i + 1, min(len(sentences), i + 1 + MAX_SPEECH)):
        t = sentences[j]
        if (
            t.chunk is not s.chunk
            or t.start < s.end
            or (not out and not _OPENS_QUOTE.match(t.text))
        ):
            break
        out.append(j)
        if _CLOSES_QUOTE.search(t.text):
            break
    return out


def _meta(index, doc_id: str) -> dict:
    """published/outlet/author/url of a document, from the index manifest (empty when unknown)."""
    entry = (getattr(index, "documents", None) or {}).get(doc_id) if index is not None else None
    if not isinstance(entry, dict):
        return {}
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else entry
    return {k: str(meta[k]) for k in ("published", "outlet", "author", "url") if meta.get(k)}


def _citation(n: int, s: Sentence, score: float, index) -> Citation:
    assert s.chunk.text[s.start - s.chunk.start : s.end - s.chunk.start] == s.text
    c = s.chunk
    return Citation(
        n,
        c.doc_id,
        c.title,
        s.start,
        s.end,
        s.text,
        score,
        c.start,
        c.end,
        page=_page(index, c.doc_id, s.start),
        **_meta(index, c.doc_id),
    )


def _page(index, doc_id: str, offset: int) -> int | None:
    """The PDF page holding `offset`, from the page starts the PDF loader keeps (None for other files)."""
    entry = (getattr(index, "documents", None) or {}).get(doc_id) if index is not None else None
    meta = entry.get("meta", entry) if isinstance(entry, dict) else None
    pages = meta.get("pages") if isinstance(meta, dict) else None
    if not isinstance(pages, list) or not pages:
        return None
    from qa.corpus.loaders.pdf import page_of

    return page_of(pages, offset)


def _figure_first(block, chosen: list[int]) -> list[int]:
    """When the block states one figure, the quoted sentence it is read from comes first: the first
    quote then says what the answer's first line says (SQuAD 01-17 quantity questions: unchanged)."""
    one = len(block.scopes) == 1 and len(block.scopes[0].rows) == 1
    lead = block.sentences[:1] if one else []
    if not set(lead) & set(chosen):
        return chosen
    return lead + [i for i in chosen if i not in lead]


def _with_figures(
    question: str, resolved: str | None, r: Ranked, chosen: list[int], index, embedder
) -> Answer:
    """The answer text: the figures block for quantity questions (cited first), then the quotes."""
    prob = 1.0 / (1.0 + np.exp(-r.logits))
    block = figure_block(
        question, resolved, r.sentences, prob, index, embedder, min_score=MIN_PROBABILITY
    )
    sides = (
        None
        if block
        else opposing_sides(resolved or question, r.sentences, prob, index, MIN_PROBABILITY)
    )
    cid: dict[int, int] = {}
    for i in block.sentences if block else []:
        cid.setdefault(i, len(cid) + 1)
    chosen = _one_copy_per_story(r, chosen, list(cid), getattr(index, "documents", None))
    if block:
        block.hedge(chosen)
        chosen = _figure_first(block, chosen)
    for i in chosen + (sides.sentences if sides else []):
        cid.setdefault(i, len(cid) + 1)
    body = chosen + [i for i in cid if i not in chosen]
    parts = [block.render(cid)] if block else [sides.render(cid)] if sides else []
    parts.append(" ".join(f"{r.sentences[i].text} [{cid[i]}]" for i in body))
    citations = [
        _citation(n, r.sentences[i], float(r.cos[i]), index)
        for i, n in sorted(cid.items(), key=lambda kv: kv[1])
    ]
    answer = Answer(
        question,
        "\n\n".join(p for p in parts if p),
        citations,
        figures=block.figures(cid) if block else [],
        resolved_question=resolved,
        figures_disagree=bool(block and block.disagree),
        quotes=tuple(cid[i] for i in chosen),
    )
    return merge_copies(answer, getattr(index, "documents", None))  # a syndicated story counts once


# ---------------------------------------------------------------- names without an index


def missing_names(question: str, hits: Sequence[Hit]) -> list[str]:
    """Names of the question that no retrieved passage mentions (no index: no corpus vocabulary).

    A name matches a passage word sharing its first letters ("Zelensky" ~ "Zelenskyy", "Korea" ~ "Korean").
    """
    from qa.answer.score import _WORD

    names = question_names(question)
    if not names:
        return []
    vocab = {w.lower().removesuffix("'s") for h in hits for w in _WORD.findall(h.chunk.text)}

    def present(name: str) -> bool:
        n = name.lower().replace("’", "'").removesuffix("'s")
        return n in vocab or (len(n) >= 4 and any(v.startswith(n[:5]) for v in vocab))

    return [n for n in names if not all(present(p) for p in n.split())]
