"""Gold question files for `qa eval`: reading, checking and selecting records.

A gold file is JSONL (one object a line) or YAML (a list of mappings, or `questions:` holding one):

    {"question": "How many troops did North Korea send?", "sources": ["000_x.txt"], "answer": "11,000"}
    {"question": "Who led the Norse?", "source": "01_normans.txt", "answers": ["Rollo", "Rollo of Normandy"]}
    {"question": "What is the capital of Peru?", "sources": []}       # unanswerable: should abstain
    {"question": "Who gave their name to Normandy in 1000?", "source": "01_normans.txt", "unanswerable": true}

`sources` (or `source`) names the document file(s) that answer the question (a string or a list;
empty = the corpus cannot answer it); `answer` or `answers` is optional text the composed answer
should contain (any one of `answers` counts). `"unanswerable": true` marks a question that should
abstain even though it names a source (SQuAD 2.0's close misses are asked about a real paragraph).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from qa.errors import EvalError

MAX_QUESTIONS = 100_000


@dataclass(frozen=True)
class GoldQuestion:
    line: int  # where it is in the file (1-based), for messages
    question: str
    sources: tuple[str, ...]  # expected document file names; empty: unanswerable
    answers: tuple[str, ...] = ()  # any one of them in the answer counts
    unanswerable: bool = False  # explicitly marked: should abstain even with sources

    @property
    def answerable(self) -> bool:
        return bool(self.sources) and not self.unanswerable

    @property
    def answer(self) -> str | None:
        """The first expected answer (messages and older callers)."""
        return self.answers[0] if self.answers else None


# ---------------------------------------------------------------- reading


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


def _text_ok(value: object) -> bool:
    return (
        isinstance(value, (str, int, float))
        and not isinstance(value, bool)
        and bool(str(value).strip())
    )


def _answers(item: dict, where: str) -> tuple[str, ...]:
    out: list[object] = []
    if item.get("answer") is not None:
        out.append(item["answer"])
    many = item.get("answers")
    if many is not None:
        if not isinstance(many, list):
            raise EvalError(f"{where}: `answers` must be a list of texts")
        out.extend(many)
    if not all(_text_ok(a) for a in out):
        raise EvalError(f"{where}: `answer` must be non-empty text")
    return tuple(dict.fromkeys(str(a).strip() for a in out))


def _check(line: int, item: object, name: str) -> GoldQuestion:
    where = f"{name} line {line}" if line else name
    if not isinstance(item, dict):
        raise EvalError(f"{where}: expected an object with `question` and `sources`")
    q = item.get("question")
    if not isinstance(q, str) or not q.strip():
        raise EvalError(f"{where}: `question` must be non-empty text")
    if "sources" not in item and "source" not in item:
        raise EvalError(
            f"{where}: `sources` is missing (use [] for a question the corpus cannot answer)"
        )
    sources = item["sources"] if "sources" in item else item["source"]
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
        raise EvalError(f"{where}: `sources` must be a file name or a list of file names")
    unanswerable = item.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise EvalError(f"{where}: `unanswerable` must be true or false")
    return GoldQuestion(
        line,
        q.strip(),
        tuple(dict.fromkeys(s.strip() for s in sources)),
        () if unanswerable else _answers(item, where),
        unanswerable,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvalError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(
            f"{path} is unreadable ({exc})", "save the questions file as UTF-8 text"
        ) from None


def load_gold(path: Path | str, known_documents: Sequence[str] | None = None) -> list[GoldQuestion]:
    """Parse and check a gold file. Every problem is an `EvalError` naming the line.

    `known_documents`: the indexed document names; an expected source not among them is an error
    (a typo there would silently count as a miss)."""
    path = Path(path)
    text = _read_text(path)
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
        check_sources(gold, known_documents, name)
    return gold


def check_sources(gold: Sequence[GoldQuestion], known_documents: Sequence[str], name: str) -> None:
    """Every expected source is an indexed document (a typo there would silently count as a miss)."""
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


# ---------------------------------------------------------------- selecting


def parse_articles(spec: str) -> set[int]:
    """'18-35' or '1-17,20' -> the article numbers (a source file's leading digits)."""
    out: set[int] = set()
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise EvalError(f"--articles {spec!r}: expected ranges like 18-35 or 1-17,20")
        a = int(m.group(1))
        b = int(m.group(2) or a)
        out.update(range(min(a, b), max(a, b) + 1))
    return out


def _article_number(source: str) -> int | None:
    m = re.match(r"(\d+)", Path(source).name)
    return int(m.group(1)) if m else None


def select(
    gold: Sequence[GoldQuestion],
    *,
    sources_glob: str | None = None,
    articles: str | None = None,
    every: int = 1,
    limit: int | None = None,
) -> list[GoldQuestion]:
    """Questions about the chosen documents (a glob, '|' between alternatives, or article numbers),
    then every `every`-th of them, then the first `limit`. Unanswerable questions without a source
    are kept only when no document filter is given."""
    out = list(gold)
    if sources_glob:
        pats = [p for p in sources_glob.split("|") if p]
        out = [g for g in out if any(fnmatch.fnmatch(s, p) for s in g.sources for p in pats)]
    if articles:
        wanted = parse_articles(articles)
        out = [g for g in out if any(_article_number(s) in wanted for s in g.sources)]
    if every < 1:
        raise EvalError("--every must be at least 1")
    out = out[::every]
    if limit is not None:
        out = out[:limit]
    if not out:
        raise EvalError(
            "no question is left after the filters", "check --articles / --sources-glob"
        )
    return [replace(g) for g in out]
