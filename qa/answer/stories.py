"""Syndicated copies in an answer: a story is quoted once, naming the other outlets that carried it.

Why: the same wire story republished by three outlets is one source, not three. The index groups
near-duplicate documents at build time (manifest `same_story_as`: the doc id of the story's first
copy); here a quote that repeats an already quoted copy of its story is dropped (its citation number
folds into the kept one), each kept citation names the other outlets of its story (`also_in`), and
the answer counts its independent sources (`sources_count`: distinct stories cited).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from qa.answer.records import Answer, Citation

SAME_QUOTE = 0.7  # word-set overlap above which two copies' sentences are one quote ("tiny edits")
_CITE = re.compile(r"\[(\d+)\]")


def _entry(documents: Mapping, doc_id: str) -> dict:
    entry = documents.get(doc_id) if documents else None
    return entry if isinstance(entry, dict) else {}


def story_of(documents: Mapping, doc_id: str) -> str:
    """The story a document belongs to: the doc id of its first copy (itself when unique)."""
    return str(_entry(documents, doc_id).get("same_story_as") or doc_id)


def outlet_of(documents: Mapping, doc_id: str) -> str:
    """The outlet of a document as the manifest has it; its doc id when the outlet is unknown."""
    entry = _entry(documents, doc_id)
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else entry
    return str(meta.get("outlet") or doc_id)


def copies(documents: Mapping, story: str) -> list[str]:
    """Every document of a story, its first copy first."""
    return [story, *_later_copies(documents or {}).get(story, ())]


_GROUPS: tuple[Mapping, dict[str, list[str]]] | None = None  # (documents, story -> later copies)


def _later_copies(documents: Mapping) -> dict[str, list[str]]:
    """Story -> its other documents, sorted; made once per manifest mapping (fixed while an index
    is loaded). Why: scanning every document per citation cost ~2 ms an answer per 1,000 documents."""
    global _GROUPS
    memo = _GROUPS
    if memo is not None and memo[0] is documents:
        return memo[1]
    groups: dict[str, list[str]] = {}
    for d in documents:
        story = story_of(documents, d)
        if story != d:
            groups.setdefault(story, []).append(d)
    for later in groups.values():
        later.sort()
    _GROUPS = (documents, groups)
    return groups


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def same_quote(a: str, b: str) -> bool:
    """Two sentences that are one quote with tiny edits (Jaccard overlap of their words)."""
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= SAME_QUOTE


def folded(citations: Sequence[Citation], documents: Mapping) -> dict[int, int]:
    """Citation id -> the id of the earlier citation it repeats (another copy of its story, same quote)."""
    out: dict[int, int] = {}
    kept: list[Citation] = []
    for c in citations:
        story = story_of(documents, c.source)
        twin = next(
            (
                k
                for k in kept
                if k.source != c.source
                and story_of(documents, k.source) == story
                and same_quote(k.text, c.text)
            ),
            None,
        )
        if twin is None:
            kept.append(c)
        else:
            out[c.id] = twin.id
    return out


def also_in(documents: Mapping, doc_id: str) -> tuple[str, ...]:
    """The other outlets that carried a document's story (distinct, not its own)."""
    own = outlet_of(documents, doc_id)
    others = [outlet_of(documents, d) for d in copies(documents, story_of(documents, doc_id))]
    return tuple(dict.fromkeys(o for o in others if o != own))


def _renumber(text: str, new: Mapping[int, int]) -> str:
    text = _CITE.sub(lambda m: f"[{new.get(int(m.group(1)), int(m.group(1)))}]", text)
    return re.sub(r"(\[\d+\])(?:\1)+", r"\1", text)


def merge_copies(answer: Answer, documents: Mapping | None) -> Answer:
    """The answer with each syndicated quote once, `also_in` on its citation and `sources_count`."""
    if answer.abstained or not answer.citations:
        return answer
    documents = documents or {}
    fold = folded(answer.citations, documents)
    text = answer.answer
    for c in answer.citations:
        if c.id in fold:  # the repeated quote leaves the text; its number points to the kept one
            text = text.replace(f"{c.text} [{c.id}]", "").replace("  ", " ")
    kept = [c for c in answer.citations if c.id not in fold]
    new = {c.id: n for n, c in enumerate(kept, start=1)}
    new.update({old: new[fold[old]] for old in fold})
    citations = [
        dataclasses.replace(c, id=new[c.id], also_in=also_in(documents, c.source)) for c in kept
    ]
    text = _renumber(text, new)
    carried = [c for c in citations if c.also_in]
    stories = len({story_of(documents, c.source) for c in citations})
    if carried:
        notes = "; ".join(f"[{c.id}] also carried by {', '.join(c.also_in)}" for c in carried)
        text = (
            f"{text.rstrip()}\n\nSyndicated copies count once: {notes}. "
            f"{stories} independent source{'s' if stories != 1 else ''}."
        )
    figures = [
        dataclasses.replace(f, citations=tuple(dict.fromkeys(new.get(n, n) for n in f.citations)))
        if dataclasses.is_dataclass(f) and hasattr(f, "citations")
        else f
        for f in answer.figures
    ]
    quotes = tuple(dict.fromkeys(new.get(q, q) for q in answer.quotes))
    return dataclasses.replace(
        answer,
        answer=text.strip(),
        citations=citations,
        figures=figures,
        quotes=quotes,
        sources_count=stories,
    )
