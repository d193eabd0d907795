"""`qa eval`: score retrieval and answers against a user's own gold questions.

A gold file is JSONL (one object a line) or YAML (a list of mappings, or `questions:` holding one):

    {"question": "How many troops did North Korea send?", "sources": ["000_x.txt"], "answer": "11,000"}
    {"question": "What is the capital of Peru?", "sources": []}       # unanswerable: should abstain

`sources` names the document file(s) that answer the question (a string or a list; empty = the corpus
cannot answer it); `answer` is optional text the composed answer should contain.

Relevance is judged per document: retrieved chunks are mapped to their documents, keeping each
document's first (best) rank, then ranx computes the metrics:

- recall@k: share of a question's expected documents among the documents of the top-k passages
  (the passages the app actually answers from);
- MRR and nDCG@10: on the document ranking from the top max(k, 10) passages;
- answer-contains: the expected text appears in `Engine.ask`'s answer (case and spacing ignored);
- abstention: unanswerable questions should abstain; answerable ones should not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.errors import EvalError

MAX_QUESTIONS = 100_000


@dataclass(frozen=True)
class GoldQuestion:
    line: int  # where it is in the file (1-based), for messages
    question: str
    sources: tuple[str, ...]  # expected document file names; empty: unanswerable
    answer: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.sources)


@dataclass(frozen=True)
class QuestionResult:
    line: int
    question: str
    sources: list[str]
    retrieved: list[str]  # documents of the top-k passages, best first (deduplicated)
    first_relevant_rank: (
        int | None
    )  # 1-based document rank of the first expected document (top max(k,10) passages)
    recall: float | None  # None for unanswerable questions
    abstained: bool
    expected_answer: str | None
    answer_contains: bool | None  # None when no expected answer was given
    answer: str


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
    metrics: dict[
        str, float | None
    ]  # recall@k, mrr, ndcg@10, answer_contains, abstention_accuracy, false_abstention
    misses: list[Miss]
    results: list[QuestionResult] = field(default_factory=list)

    def to_dict(self, with_results: bool = False) -> dict:
        out = {
            "k": self.k,
            "mode": self.mode,
            "questions": self.questions,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "metrics": {m: (None if v is None else round(v, 4)) for m, v in self.metrics.items()},
            "misses": [asdict(m) for m in self.misses],
        }
        if with_results:
            out["results"] = [asdict(r) for r in self.results]
        return out


# ---------------------------------------------------------------- reading gold files


def _yaml_records(text: str, name: str) -> list[tuple[int, object]]:
    import yaml

    class LineLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        m = loader.construct_mapping(node, deep=True)
        m["__line__"] = node.start_mark.line + 1
        return m

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        data = yaml.load(text, Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise EvalError(
            f"{name}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})"
        ) from None
    if isinstance(data, dict) and "questions" in data:
        data = data["questions"]
    if not isinstance(data, list):
        raise EvalError(f"{name}: expected a list of questions (or `questions:` holding one)")
    out = []
    for item in data:
        line = item.pop("__line__", 0) if isinstance(item, dict) else 0
        out.append((line, item))
    return out


def _jsonl_records(text: str, name: str) -> list[tuple[int, object]]:
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            out.append((n, json.loads(raw)))
        except json.JSONDecodeError as exc:
            raise EvalError(f"{name} line {n}: not valid JSON ({exc.msg})") from None
    return out


def _check(line: int, item: object, name: str) -> GoldQuestion:
    where = f"{name} line {line}" if line else name
    if not isinstance(item, dict):
        raise EvalError(f"{where}: expected an object with `question` and `sources`")
    q = item.get("question")
    if not isinstance(q, str) or not q.strip():
        raise EvalError(f"{where}: `question` must be non-empty text")
    if "sources" not in item:
        raise EvalError(
            f"{where}: `sources` is missing (use [] for a question the corpus cannot answer)"
        )
    sources = item["sources"]
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
        raise EvalError(f"{where}: `sources` must be a file name or a list of file names")
    answer = item.get("answer")
    if answer is not None and (
        not isinstance(answer, (str, int, float))
        or isinstance(answer, bool)
        or not str(answer).strip()
    ):
        raise EvalError(f"{where}: `answer` must be non-empty text")
    return GoldQuestion(
        line,
        q.strip(),
        tuple(dict.fromkeys(s.strip() for s in sources)),
        None if answer is None else str(answer).strip(),
    )


def load_gold(path: Path | str, known_documents: Sequence[str] | None = None) -> list[GoldQuestion]:
    """Parse and check a gold file. Every problem is an `EvalError` naming the line.

    `known_documents`: the indexed document names; an expected source not among them is an error
    (a typo there would silently count as a miss)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvalError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(
            f"{path} is unreadable ({exc})", "save the questions file as UTF-8 text"
        ) from None
    name = path.name
    if path.suffix.lower() in (".yaml", ".yml"):
        records = _yaml_records(text, name)
    else:
        records = _jsonl_records(text, name)
    if not records:
        raise EvalError(f"{name}: no questions")
    if len(records) > MAX_QUESTIONS:
        raise EvalError(f"{name}: more than {MAX_QUESTIONS} questions")
    gold = [_check(line, item, name) for line, item in records]
    if known_documents is not None:
        known = set(known_documents)
        for g in gold:
            unknown = [s for s in g.sources if s not in known]
            if unknown:
                raise EvalError(
                    f"{name} line {g.line}: source {unknown[0]!r} is not an indexed document",
                    f"use a file name from `qa index status` (e.g. {sorted(known)[0]!r})"
                    if known
                    else None,
                )
    return gold


# ---------------------------------------------------------------- scoring


def _normalize(text: str) -> str:
    return " ".join(
        re.sub(r"[\u2018\u2019]", "'", re.sub(r"[\u201c\u201d]", '"', text)).lower().split()
    )


def answer_contains(answer: str, expected: str) -> bool:
    """The expected text appears in the answer, ignoring case, spacing and curly quotes."""
    return _normalize(expected) in _normalize(answer)


def _docs_in_order(hits) -> list[str]:
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))


def evaluate(
    engine, gold: Sequence[GoldQuestion], *, k: int | None = None, mode: str | None = None
) -> EvalReport:
    """Run every gold question through the app's retriever and answer composer and score it."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    from qa.chat import clean_question
    from qa.retrieve import Retriever

    settings = engine.settings
    k = k or settings.k
    mode = mode or settings.mode
    depth = max(k, 10)
    retriever = Retriever(engine.index, engine.embedder, settings)
    results: list[QuestionResult] = []
    misses: list[Miss] = []
    qrels: dict[str, dict[str, int]] = {}
    run_k: dict[str, dict[str, float]] = {}
    run_deep: dict[str, dict[str, float]] = {}
    for i, g in enumerate(gold):
        q = clean_question(g.question)
        qvec = engine.embedder.encode([q])[0]
        # the app's own top-k (what `qa ask` answers from), and a deeper ranking for MRR / nDCG@10
        top = _docs_in_order(retriever.search(q, k, mode=mode, qvec=qvec))
        deep = _docs_in_order(retriever.search(q, depth, mode=mode, qvec=qvec))
        answer = engine.ask(g.question, k=k, mode=mode)
        contains = answer_contains(answer.answer, g.answer) if g.answer else None
        recall = first = None
        if g.answerable:
            qid = f"q{i}"
            qrels[qid] = dict.fromkeys(g.sources, 1)
            run_k[qid] = {d: float(len(top) - r) for r, d in enumerate(top)} or {"\x00none": 0.0}
            run_deep[qid] = {d: float(len(deep) - r) for r, d in enumerate(deep)} or {
                "\x00none": 0.0
            }
            recall = sum(s in top for s in g.sources) / len(g.sources)
            first = next((r for r, d in enumerate(deep, start=1) if d in g.sources), None)
            if recall < 1:
                missing = [s for s in g.sources if s not in top]
                misses.append(
                    Miss(
                        g.line,
                        g.question,
                        "not-retrieved",
                        f"expected {', '.join(missing)} in the top {k} passages; got {', '.join(top) or 'nothing'}",
                    )
                )
            if answer.abstained:
                misses.append(
                    Miss(g.line, g.question, "abstained", "answerable, but the answer abstained")
                )
        elif not answer.abstained:
            best = answer.citations[0].source if answer.citations else "?"
            misses.append(
                Miss(
                    g.line,
                    g.question,
                    "should-abstain",
                    f"unanswerable, but answered (top passage from {best})",
                )
            )
        if contains is False:
            misses.append(
                Miss(g.line, g.question, "answer-missing", f"answer does not contain {g.answer!r}")
            )
        results.append(
            QuestionResult(
                g.line,
                g.question,
                list(g.sources),
                top,
                first,
                recall,
                answer.abstained,
                g.answer,
                contains,
                answer.answer,
            )
        )

    metrics: dict[str, float | None] = {f"recall@{k}": None, "mrr": None, "ndcg@10": None}
    if qrels:
        qr = Qrels(qrels)
        metrics[f"recall@{k}"] = float(
            ranx_evaluate(qr, Run(run_k), f"recall@{k}", make_comparable=True)
        )
        deep_scores = ranx_evaluate(qr, Run(run_deep), ["mrr", "ndcg@10"], make_comparable=True)
        metrics["mrr"] = float(deep_scores["mrr"])
        metrics["ndcg@10"] = float(deep_scores["ndcg@10"])
    with_answer = [r for r in results if r.answer_contains is not None]
    metrics["answer_contains"] = (
        sum(r.answer_contains for r in with_answer) / len(with_answer) if with_answer else None
    )
    unans = [r for r in results if not r.sources]
    metrics["abstention_accuracy"] = sum(r.abstained for r in unans) / len(unans) if unans else None
    ans = [r for r in results if r.sources]
    metrics["false_abstention"] = sum(r.abstained for r in ans) / len(ans) if ans else None
    misses.sort(key=lambda m: m.line)
    return EvalReport(k, mode, len(gold), len(ans), len(unans), metrics, misses, results)
