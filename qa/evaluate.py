"""`qa eval`: score retrieval and answers against gold questions (a user's own, or SQuAD-style).

Gold files are read by `qa.gold` (records with `answer`/`answers`, `sources`/`source`, `unanswerable`).
Relevance is judged per document: retrieved chunks are mapped to their documents, keeping each
document's first (best) rank, then ranx computes the metrics:

- recall@k: share of a question's expected documents among the documents of the top-k passages
  (the passages the app actually answers from);
- MRR and nDCG@10: on the document ranking from the top max(k, 10) passages;
- answer_contains: an expected text appears in `Engine.ask`'s answer (case and spacing ignored);
- first_quote: an expected text appears in the answer's first quoted sentence;
- abstention_accuracy: unanswerable questions that abstained; false_abstention: answerable ones that did;
- baselines, so the answer layer's value shows in the same run: an expected text in the top-1 and
  top-3 chunks of plain BM25 and of plain dense search (bm25_top1, bm25_top3, dense_top1, dense_top3).

Answer metrics are also given per question kind (who, when, how many, why, yes-no, list, said, other).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from qa.gold import MAX_QUESTIONS, GoldQuestion, load_gold, select  # noqa: F401 (re-exported)

BASELINES = (("bm25", 1), ("bm25", 3), ("dense", 1), ("dense", 3))
ANSWER_METRICS = ("answer_contains", "first_quote", "abstention_accuracy", "false_abstention")


@dataclass(frozen=True)
class QuestionResult:
    line: int
    question: str
    kind: str
    sources: list[str]
    retrieved: list[str]  # documents of the top-k passages, best first (deduplicated)
    first_relevant_rank: int | None  # 1-based document rank of the first expected document
    recall: float | None  # None for unanswerable questions
    abstained: bool
    expected_answers: list[str]
    answer_contains: bool | None  # None when no expected answer was given
    first_quote: bool | None
    baselines: dict[str, bool]  # "bm25_top1" ... -> an expected answer in those chunks
    answer: str
    answerable: bool = True


@dataclass(frozen=True)
class Miss:
    line: int
    question: str
    kind: str  # not-retrieved | answer-missing | should-abstain | abstained
    detail: str


@dataclass(frozen=True)
class EvalReport:
    k: int
    mode: str
    questions: int
    answerable: int
    unanswerable: int
    metrics: dict[str, float | None]
    misses: list[Miss]
    results: list[QuestionResult] = field(default_factory=list)
    by_kind: dict[str, dict[str, float | int | None]] = field(default_factory=dict)

    def to_dict(self, with_results: bool = False) -> dict:
        out = {
            "k": self.k,
            "mode": self.mode,
            "questions": self.questions,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "metrics": _rounded(self.metrics),
            "by_kind": {k: _rounded(v) for k, v in self.by_kind.items()},
            "misses": [asdict(m) for m in self.misses],
        }
        if with_results:
            out["results"] = [asdict(r) for r in self.results]
        return out


def _rounded(d: dict) -> dict:
    return {m: (round(v, 4) if isinstance(v, float) else v) for m, v in d.items()}


# ---------------------------------------------------------------- scoring one question


def _normalize(text: str) -> str:
    return " ".join(
        re.sub(r"[\u2018\u2019]", "'", re.sub(r"[\u201c\u201d]", '"', text)).lower().split()
    )


def answer_contains(answer: str, expected: str | Sequence[str]) -> bool:
    """An expected text appears in the answer, ignoring case, spacing and curly quotes."""
    wanted = [expected] if isinstance(expected, str) else list(expected)
    text = _normalize(answer)
    return any(_normalize(e) in text for e in wanted)


def _docs_in_order(hits) -> list[str]:
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))


def _first_quote(answer) -> str:
    """The first sentence the answer quotes (its best; a figures block's citations aside)."""
    quotes = getattr(answer, "quotes", ())
    by_id = {c.id: c.text for c in answer.citations}
    if quotes and quotes[0] in by_id:
        return by_id[quotes[0]]
    return answer.citations[0].text if answer.citations else ""


def _baselines(index, query: str, qvec, answers: Sequence[str]) -> dict[str, bool]:
    """Plain BM25 / dense chunks: does the top 1 / top 3 hold an expected answer?"""
    n = max(n for _, n in BASELINES)
    ranked = {"bm25": index.bm25_search(query, n), "dense": index.dense_search(qvec, n)}
    out = {}
    for side, top in BASELINES:
        text = " ".join(index.chunks[cid].text for cid, _ in ranked[side][:top])
        out[f"{side}_top{top}"] = answer_contains(text, answers)
    return out


def _misses_of(g: GoldQuestion, r: QuestionResult, k: int) -> list[Miss]:
    out = []
    if g.answerable:
        if r.recall is not None and r.recall < 1:
            missing = [s for s in g.sources if s not in r.retrieved]
            got = ", ".join(r.retrieved) or "nothing"
            out.append(
                Miss(
                    g.line,
                    g.question,
                    "not-retrieved",
                    f"expected {', '.join(missing)} in the top {k} passages; got {got}",
                )
            )
        if r.abstained:
            out.append(
                Miss(g.line, g.question, "abstained", "answerable, but the answer abstained")
            )
    elif not r.abstained:
        out.append(Miss(g.line, g.question, "should-abstain", "unanswerable, but answered"))
    if r.answer_contains is False:
        out.append(
            Miss(g.line, g.question, "answer-missing", f"answer does not contain {g.answer!r}")
        )
    return out


def _one(
    engine, retriever, g: GoldQuestion, k: int, mode: str
) -> tuple[QuestionResult, list, list]:
    """Ask one question; returns its result and its top-k / deep document rankings."""
    from qa.answer.kinds import question_kind
    from qa.chat import clean_question

    q = clean_question(g.question)
    qvec = engine.embedder.encode([q])[0]
    top = _docs_in_order(retriever.search(q, k, mode=mode, qvec=qvec))
    deep = _docs_in_order(retriever.search(q, max(k, 10), mode=mode, qvec=qvec))
    answer = engine.ask(g.question, k=k, mode=mode)
    has = bool(g.answers) and g.answerable
    first = "" if answer.abstained else _first_quote(answer)
    recall = rank = None
    if g.answerable:
        recall = sum(s in top for s in g.sources) / len(g.sources)
        rank = next((r for r, d in enumerate(deep, start=1) if d in g.sources), None)
    result = QuestionResult(
        g.line,
        g.question,
        question_kind(q),
        list(g.sources),
        top,
        rank,
        recall,
        answer.abstained,
        list(g.answers),
        answer_contains(answer.answer, g.answers) if has else None,
        answer_contains(first, g.answers) if has else None,
        _baselines(engine.index, q, qvec, g.answers) if has else {},
        answer.answer,
        g.answerable,
    )
    return result, top, deep


# ---------------------------------------------------------------- aggregating


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def answer_metrics(results: Sequence[QuestionResult]) -> dict[str, float | int | None]:
    """Answer-level metrics and the plain-chunk baselines over `results`."""
    scored = [r for r in results if r.answer_contains is not None]
    out: dict[str, float | int | None] = {
        "n": len(results),
        "answer_contains": _share([bool(r.answer_contains) for r in scored]),
        "first_quote": _share([bool(r.first_quote) for r in scored]),
        "abstention_accuracy": _share([r.abstained for r in results if not r.answerable]),
        "false_abstention": _share([r.abstained for r in results if r.answerable]),
    }
    for side, top in BASELINES:
        name = f"{side}_top{top}"
        out[name] = _share([r.baselines[name] for r in scored])
    return out


def _retrieval_metrics(qrels: dict, run_k: dict, run_deep: dict, k: int) -> dict[str, float | None]:
    metrics: dict[str, float | None] = {f"recall@{k}": None, "mrr": None, "ndcg@10": None}
    if not qrels:
        return metrics
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    qr = Qrels(qrels)
    metrics[f"recall@{k}"] = float(
        ranx_evaluate(qr, Run(run_k), f"recall@{k}", make_comparable=True)
    )
    deep = ranx_evaluate(qr, Run(run_deep), ["mrr", "ndcg@10"], make_comparable=True)
    metrics["mrr"] = float(deep["mrr"])
    metrics["ndcg@10"] = float(deep["ndcg@10"])
    return metrics


def _as_run(docs: Sequence[str]) -> dict[str, float]:
    return {d: float(len(docs) - r) for r, d in enumerate(docs)} or {"\x00none": 0.0}


def evaluate(
    engine,
    gold: Sequence[GoldQuestion],
    *,
    k: int | None = None,
    mode: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Run every gold question through the app's retriever and answer composer and score it."""
    from qa.retrieve import Retriever

    settings = engine.settings
    k = k or settings.k
    mode = mode or settings.mode
    retriever = Retriever(engine.index, engine.embedder, settings)
    results: list[QuestionResult] = []
    misses: list[Miss] = []
    qrels: dict[str, dict[str, int]] = {}
    run_k: dict[str, dict[str, float]] = {}
    run_deep: dict[str, dict[str, float]] = {}
    for i, g in enumerate(gold):
        r, top, deep = _one(engine, retriever, g, k, mode)
        if g.answerable:
            qrels[f"q{i}"] = dict.fromkeys(g.sources, 1)
            run_k[f"q{i}"], run_deep[f"q{i}"] = _as_run(top), _as_run(deep)
        misses.extend(_misses_of(g, r, k))
        results.append(r)
        if progress is not None:
            progress(i + 1, len(gold))
    metrics = _retrieval_metrics(qrels, run_k, run_deep, k)
    overall = answer_metrics(results)
    metrics.update({m: v for m, v in overall.items() if m != "n"})
    kinds = sorted({r.kind for r in results})
    by_kind = {kd: answer_metrics([r for r in results if r.kind == kd]) for kd in kinds}
    misses.sort(key=lambda m: m.line)
    n_ans = sum(r.answerable for r in results)
    return EvalReport(
        k, mode, len(gold), n_ans, len(gold) - n_ans, metrics, misses, results, by_kind
    )


def format_report(report: EvalReport, *, show_misses: bool = True) -> str:
    """The plain-text report `qa eval` prints: metrics, the per-kind table with baselines, misses."""
    lines = [
        f"{report.questions} questions ({report.answerable} answerable, "
        f"{report.unanswerable} unanswerable), mode {report.mode}, k {report.k}"
    ]
    for name, value in report.metrics.items():
        lines.append(f"  {name:20} {'-' if value is None else f'{value:.3f}'}")
    cols = ["n", *ANSWER_METRICS, *(f"{s}_top{t}" for s, t in BASELINES)]
    heads = [
        "n",
        "contains",
        "1st-quote",
        "abstain",
        "false-abs",
        "bm25@1",
        "bm25@3",
        "dense@1",
        "dense@3",
    ]
    lines.append("per question kind:")
    lines.append(f"  {'kind':10}" + "".join(f"{h:>10}" for h in heads))
    rows = [*report.by_kind.items(), ("all", {**report.metrics, "n": report.questions})]
    for kind, m in rows:
        cells = []
        for c in cols:
            v = m.get(c)
            cells.append(f"{'-' if v is None else (str(v) if c == 'n' else f'{v:.3f}'):>10}")
        lines.append(f"  {kind:10}" + "".join(cells))
    if show_misses and report.misses:
        lines.append(f"misses ({len(report.misses)}):")
        for m in report.misses:
            lines.append(f"  line {m.line} [{m.kind}] {m.question}\n      {m.detail}")
    return "\n".join(lines)
