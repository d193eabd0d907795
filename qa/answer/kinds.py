"""What a question asks for: its kind (who, when, how many, why, yes-no, list, said, other).

The kind picks the answer's shape (compose) and its expected answer type (the scorer's features),
and `qa eval` reports its metrics per kind. Rules on the question's first words only: no topic words.
"""

from __future__ import annotations

import re

KINDS = ("who", "when", "how many", "why", "yes-no", "list", "said", "other")

_AUX = (
    "is|are|was|were|am|do|does|did|can|could|will|would|should|shall|has|have|had|may|might|must"
)
_YES_NO = re.compile(rf"^(?:{_AUX})\b(?!\s+(?:not\b)?\s*(?:who|what|when|where|why|how)\b)", re.I)
_LIST = re.compile(
    r"^(?:list|name|enumerate)\b|\b(?:what|which)\s+(?:are|were)\s+(?:the\s+)?(?:\w+\s+)?"
    r"(?:\w+s)\b|\b(?:what|which)\s+(?:\w+\s+)?(?:countries|companies|people|types|kinds|ways)\b",
    re.I,
)
_SAID = re.compile(r"\b(?:say|said|says|tell|told|claim|claimed|describe[sd]?)\b", re.I)


def question_kind(question: str) -> str:
    """One of KINDS for `question` (first matching rule; 'other' for what/which/where/how)."""
    q = " ".join(question.strip().split())
    low = q.lower()
    if re.match(
        r"^(?:how\s+(?:many|much)|what\s+(?:percentage|percent|number|amount|share))\b", low
    ) or re.search(r"\bhow\s+(?:many|much)\b", low):
        return "how many"
    if re.match(r"^(?:who|whom|whose)\b", low) or re.search(r"\b(?:by whom|who)\b", low[:40]):
        return "who"
    if re.match(r"^when\b", low) or re.search(
        r"\b(?:what|which)\s+(?:year|years|date|day|month|century|decade|time|period|era)\b", low
    ):
        return "when"
    if re.match(r"^why\b", low) or re.search(
        r"\b(?:what|which)\s+(?:caused|causes|led to|is the reason|was the reason)\b", low
    ):
        return "why"
    if _YES_NO.match(low):
        return "yes-no"
    if _SAID.search(low):
        return "said"
    if _LIST.search(low):
        return "list"
    return "other"
