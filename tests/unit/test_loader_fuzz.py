"""Damaged news files never crash the loaders: a cut or flipped byte anywhere in a page, PDF, feed,
export or Markdown file gives documents or a skip reason, never an exception (hypothesis)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.corpus.loaders import LOADERS
from qa.errors import CorpusError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "news_in"
FILES = {
    p.name: p.read_bytes()
    for p in sorted(FIXTURES.iterdir())
    if p.suffix in (".html", ".pdf", ".rss", ".atom", ".jsonl", ".md", ".txt")
}


@st.composite
def damaged(draw):
    name = draw(st.sampled_from(sorted(FILES)))
    raw = bytearray(FILES[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "insert"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "cut":
            raw = raw[:at]
        elif kind == "flip" and raw:
            raw[at] ^= draw(st.integers(1, 255))
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    return name, bytes(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_files_load_or_say_why(case):
    name, raw = case
    try:
        parts = LOADERS[Path(name).suffix](raw, name)
    except CorpusError as exc:
        assert exc.message and exc.hint
        return
    for p in parts:
        assert isinstance(p.text, str) and isinstance(p.title, str) and isinstance(p.meta, dict)
        assert p.problem or p.text is not None
