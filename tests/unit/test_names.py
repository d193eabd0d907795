"""Names: looked up in the whole corpus vocabulary (not the top passages); acronyms and plurals are not names."""

from __future__ import annotations

from types import SimpleNamespace as NS

from qa.answer.names import is_acronym, missing_names, question_names, unretrieved_names
from qa.index import make_tokenizer

TEXTS = [
    "Mayor Jane Okafor opened the Riverside library on Monday.",
    "The county board, chaired by Tomasz Wiśniewski, met in Brightwater.",
    "NATO and the WHO were not mentioned by the POWs' families.",
]


def index_of(texts: list[str]):
    """An index as names.py reads it: the BM25 tokenizer that saw the whole corpus at build time."""
    tok = make_tokenizer()
    tok.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False)
    return NS(tokenizer=tok)


def test_question_names_group_capitalised_runs_and_skip_acronyms():
    assert question_names("Who is Jane Okafor?") == ["Jane Okafor"]
    assert question_names("What did NATO say about the POWs in Brightwater?") == ["Brightwater"]
    assert question_names("Is this Okafor's library?") == ["Okafor"]
    assert question_names("How many people came?") == []
    for word in ("NATO", "GDP", "POWs", "U.S.", "CEO's"):
        assert is_acronym(word), word
    for word in ("Okafor", "Kirby", "Us"):
        assert not is_acronym(word), word


def test_a_name_anywhere_in_the_corpus_is_not_missing():
    idx = index_of(TEXTS)
    # the name is in the third document only: the whole vocabulary is checked, not some passages
    assert missing_names("What did Tomasz Wiśniewski decide?", idx) == []
    assert missing_names("Who is Jane Okafor?", idx) == []
    assert missing_names("Who is John Okafor?", idx) == ["John Okafor"]
    assert missing_names("What did Okafor's deputy say?", idx) == []  # possessive
    assert missing_names("What did the POWs say about NATO?", idx) == []  # acronyms are not names
    assert missing_names("When did Pietersen resign?", idx) == ["Pietersen"]


def test_an_outlet_or_author_of_the_corpus_is_not_missing():
    idx = index_of(TEXTS)
    question = "According to the Harbor Ledger, who opened the library?"
    assert missing_names(question, idx) == ["Harbor Ledger"]
    idx.documents = {
        "a.txt": {
            "title": "Library opens",
            "meta": {"outlet": "Harbor Ledger", "author": "Ana Ruiz"},
        }
    }
    assert missing_names(question, idx) == []  # named in a document's metadata, not its text
    assert missing_names("What did Ana Ruiz write?", idx) == []


def test_close_spellings_count_as_present():
    idx = index_of(["President Zelenskyy spoke in Kyiv.", "South Korean officials met."])
    assert missing_names("What did Zelensky say?", idx) == []  # shorter form
    assert missing_names("What did South Korea say?", idx) == []  # "Korea" -> "korean"


def test_accents_peoples_months_and_hyphenated_acronyms_are_not_missing_names():
    idx = index_of(["Möngke ruled from Karakorum.", "Céloron met the envoys of Nepal."])
    assert missing_names("When did Mongke die?", idx) == []  # accents aside
    assert missing_names("What was the response to Celeron?", idx) == []  # and one edit
    assert missing_names("What do Nepalese schools teach?", idx) == []  # a people: its country
    idx2 = index_of(["Nepali is taught in schools."])
    assert missing_names("What do Nepalese schools teach?", idx2) == []  # or its people
    assert missing_names("How many met in Feb 2010?", idx) == []  # a month is no name
    assert missing_names("What happened after WW-II?", idx) == []  # an acronym
    assert missing_names("What did the Estonian envoy say?", idx) == ["Estonian"]


def test_swapped_letters_and_words_run_together_are_not_missing_names():
    idx = index_of(["Beroids eat other comb jellies.", "The User Datagram Protocol sends packets."])
    assert missing_names("What do Beriods eat?", idx) == []  # two letters swapped
    assert missing_names("What does UserDatagram Protocol send?", idx) == []
    assert missing_names("What do Kelpods eat?", idx) == ["Kelpods"]  # more than one edit
    idx = index_of(["Audra McDonald sang in SoCal."])
    assert missing_names("Where did Audra McDonald sing?", idx) == []  # the whole word first
    assert missing_names("What is SoCal?", idx) == []


def test_names_held_but_not_retrieved_are_for_retrieval_to_search():
    idx = index_of(TEXTS)
    passages = [TEXTS[0]]
    assert unretrieved_names("What did Tomasz Wiśniewski say to Jane Okafor?", idx, passages) == [
        "Tomasz Wiśniewski"
    ]


def test_without_a_vocabulary_nothing_is_declared_missing():
    assert missing_names("Who is Jane Okafor?", NS()) == []
    assert missing_names("Who is Jane Okafor?", None) == []


def test_a_name_the_corpus_holds_is_searched_for(fake_embedder):
    """ "Who is John Kirby?" with only passages saying "Kirby": BM25's chunk for the whole name is
    added after the hits, so the answer can quote it instead of saying the corpus lacks it."""
    from qa.answer.names import with_name_hits
    from qa.config import Settings
    from qa.corpus import Chunk
    from qa.index import Index
    from qa.retrieve import Hit

    texts = [
        "The talks went well, said spokesperson John Kirby of the council.",
        "Kirby called the vote a historic move for the region.",
        "The football club won on Sunday in front of a full stadium.",
    ]
    chunks = [Chunk(i, f"d{i}.txt", f"D{i}", 0, len(t), t) for i, t in enumerate(texts)]
    settings = Settings()
    index = Index.in_memory(chunks, fake_embedder.encode(texts), settings)
    hits = [Hit(index.chunks[1], 1.0, 0.5, 1, 1)]

    out = with_name_hits("Who is John Kirby?", hits, index, fake_embedder, settings)
    assert [h.chunk.chunk_id for h in out] == [1, 0]
    assert (
        with_name_hits("What did Kirby call the vote?", hits, index, fake_embedder, settings)
        == hits
    )
    # a name the corpus lacks is not searched for (the missing-name message speaks for it)
    assert with_name_hits("Who is Jane Okafor?", hits, index, fake_embedder, settings) == hits
    # a source filter holds for the added chunk too
    only = with_name_hits(
        "Who is John Kirby?", hits, index, fake_embedder, settings, sources=["d1.txt"]
    )
    assert only == hits


def test_a_name_one_edit_from_a_corpus_word_is_not_missing():
    """SQuAD asks about "Percy Shelly" over a text saying "Shelley": a misspelt name is the corpus's
    name, never "No passage mentions ..."; a different name stays missing."""
    from qa.answer.names import one_edit

    idx = index_of(["The poet Percy Bysshe Shelley wrote Ozymandias.", *TEXTS])
    assert missing_names("What did Percy Shelly write?", idx) == []
    assert missing_names("What did Okafer open?", idx) == []  # Okafor, one letter replaced
    assert missing_names("What did Percy Shelton write?", idx) == ["Percy Shelton"]
    assert one_edit("shelly", "shelley") and one_edit("okafer", "okafor")
    assert not one_edit("shelton", "shelley") and not one_edit("abc", "abcde")
