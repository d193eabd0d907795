"""Loaders, registered by file suffix: raw bytes and a file name in, the articles it holds out.

Each loader is a small module that imports its library lazily (nothing heavy at `import qa`), raises
`CorpusError` with a fix when the whole file is unusable, and returns `Part`s (several for a feed or
an export; a bad record becomes a `Part` with a `problem`, so the other records still index).
"""

from __future__ import annotations

from collections.abc import Callable

from qa.corpus.documents import Part

Loader = Callable[[bytes, str], list[Part]]  # (raw bytes, file name) -> articles
LOADERS: dict[str, Loader] = {}


def register_loader(*suffixes: str) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        for s in suffixes:
            LOADERS[s.lower()] = fn
        return fn

    return deco


def fragment_text(markup: str) -> str:
    """Plain text of an HTML fragment (a feed entry's or an export's content): blocks become lines."""
    import lxml.html
    from lxml.etree import ParserError

    if "<" not in markup:
        return markup
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ParserError, ValueError):
        return markup
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    for el in root.iter(
        "br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"
    ):
        el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


from qa.corpus.loaders import feed, html, jsonl, md, pdf, txt  # noqa: E402,F401  (registration)
