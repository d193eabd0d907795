"""Syndicated copies in an answer (qa.answer.stories): quoted once, the other outlets named, counted once."""

from __future__ import annotations

from qa.answer.figure_text import ShownFigure
from qa.answer.records import Answer, Citation
from qa.answer.stories import also_in, folded, merge_copies, same_quote, story_of

DOCS = {
    "wire.md": {"meta": {"outlet": "Wire"}},
    "daily.md": {"meta": {"outlet": "Daily"}, "same_story_as": "wire.md"},
    "herald.md": {"meta": {"outlet": "Herald"}, "same_story_as": "wire.md"},
    "other.md": {"meta": {"outlet": "Other"}},
    "nometa.md": {"same_story_as": "other.md"},
}
STORY = "Officials said 150 inspectors were hired to check the bridges this spring."
EDITED = (
    "Officials said 150 inspectors were hired to check the bridges this spring, a spokesman added."
)
OTHER = "A union said only 110 inspectors had been hired."


def cite(n: int, source: str, text: str) -> Citation:
    return Citation(n, source, source, 0, len(text), text, 0.5)


def test_story_and_outlets_come_from_the_manifest():
    assert story_of(DOCS, "daily.md") == "wire.md" and story_of(DOCS, "wire.md") == "wire.md"
    assert story_of(DOCS, "unknown.md") == "unknown.md"
    assert also_in(DOCS, "daily.md") == ("Wire", "Herald")
    assert also_in(DOCS, "other.md") == ("nometa.md",)  # no outlet: named by its file, not guessed
    assert also_in(DOCS, "unknown.md") == ()


def test_tiny_edits_are_one_quote_other_sentences_are_not():
    assert same_quote(STORY, EDITED)
    assert not same_quote(STORY, OTHER) and not same_quote("", STORY)
    cs = [cite(1, "wire.md", STORY), cite(2, "daily.md", EDITED), cite(3, "other.md", OTHER)]
    assert folded(cs, DOCS) == {2: 1}
    # the same words in an unrelated document are not a copy: it is another source
    assert folded([cite(1, "wire.md", STORY), cite(2, "other.md", STORY)], DOCS) == {}


def test_a_syndicated_quote_is_kept_once_and_renumbered():
    cs = [cite(1, "wire.md", STORY), cite(2, "daily.md", EDITED), cite(3, "other.md", OTHER)]
    fig = ShownFigure("150", "inspectors", 150, 150, "", "count", "", "", "", (1, 2), ("150",))
    text = f"The sources disagree: 150 [1][2]; 110 [3].\n\n{STORY} [1] {EDITED} [2] {OTHER} [3]"
    a = merge_copies(Answer("q", text, cs, figures=[fig], quotes=(1, 2, 3)), DOCS)
    assert [(c.id, c.source) for c in a.citations] == [(1, "wire.md"), (2, "other.md")]
    assert a.citations[0].also_in == ("Daily", "Herald") and a.citations[1].also_in == (
        "nometa.md",
    )
    assert EDITED not in a.answer and a.answer.count(STORY) == 1 and f"{OTHER} [2]" in a.answer
    assert "150 [1]; 110 [2]" in a.answer and "[3]" not in a.answer
    assert "[1] also carried by Daily, Herald" in a.answer and "2 independent sources" in a.answer
    assert a.figures[0].citations == (1,) and a.quotes == (1, 2) and a.sources_count == 2
    d = a.to_dict()
    assert d["sources_count"] == 2 and d["citations"][0]["also_in"] == ["Daily", "Herald"]
    assert d["citations"][1]["also_in"] == ["nometa.md"]


def test_unsyndicated_and_abstained_answers_are_unchanged_but_counted():
    cs = [cite(1, "x.md", STORY), cite(2, "y.md", OTHER)]
    a = merge_copies(Answer("q", f"{STORY} [1] {OTHER} [2]", cs), {})
    assert "also_in" not in a.to_dict()["citations"][0]
    assert a.answer == f"{STORY} [1] {OTHER} [2]" and a.citations == cs and a.sources_count == 2
    off = Answer("q", "not found", [], True)
    assert merge_copies(off, DOCS) is off and "sources_count" not in off.to_dict()


def test_an_engine_answer_quotes_a_syndicated_story_once(tmp_path, fake_embedder):
    from qa.chat import Engine
    from qa.index import build_index
    from tests.conftest import make_home, settings_for

    body = (
        "The harbour board said 75 cranes were ordered for the new container terminal this year. "
        "Board chair Ada Lindqvist said the cranes would double the port's capacity by the end of "
        "the decade, and that dock workers would be trained to run them from a control room."
    )
    pages = {"a.md": ("Port Wire", body), "b.md": ("Bay News", body + " More at 11."),
             "c.md": ("Sea Post", body.replace("this year", "this year, officials said")),
             "d.md": ("Dock Weekly", "Dock workers said only 60 cranes had been ordered so far.")}  # fmt: skip
    files = {n: f"---\nsource: {o}\ndate: 2025-03-0{i}\n---\n{t}\n" for i, (n, (o, t)) in
             enumerate(sorted(pages.items()), start=1)}  # fmt: skip
    home = make_home(tmp_path, files)
    settings = settings_for(home)
    build_index(settings, fake_embedder)
    a = Engine(settings, fake_embedder).ask("How many cranes were ordered?")
    stories = [c for c in a.citations if c.source in {"a.md", "b.md", "c.md"}]
    assert len(stories) == 1 and sorted(stories[0].also_in) == sorted(
        o for n, (o, _) in pages.items() if n in {"a.md", "b.md", "c.md"} and n != stories[0].source
    )
    assert a.sources_count == len({c.source for c in a.citations}) - len(stories) + 1


def test_copies_follow_the_mapping_asked_about():
    """The story groups are remembered per manifest mapping: another index's mapping (reloaded,
    rebuilt) gets its own groups, and going back gives the first ones again."""
    from qa.answer.stories import copies

    other = {k: v for k, v in DOCS.items() if k != "herald.md"}
    assert copies(DOCS, "wire.md") == ["wire.md", "daily.md", "herald.md"]
    assert copies(other, "wire.md") == ["wire.md", "daily.md"]
    assert copies(DOCS, "wire.md") == ["wire.md", "daily.md", "herald.md"]
    assert copies(DOCS, "other.md") == ["other.md", "nometa.md"] and copies({}, "x.md") == ["x.md"]
