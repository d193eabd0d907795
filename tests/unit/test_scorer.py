"""The answer layer's rules on tiny inline texts: sentence features, the learned scorer, abstention,
the quotable-sentence filter, question kinds and fusion keeping each side's top hit."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answer import compose, question_kind, rank_sentences
from qa.answer.abstain import (
    ABSTAIN_FEATURES,
    OFF_TOPIC_COS,
    decide,
    held,
    off_topic,
    question_features,
)
from qa.answer.score import (
    SENTENCE_FEATURES,
    Idf,
    Linear,
    QuestionTerms,
    load_weights,
    sentence_features,
)
from qa.config import Settings
from qa.corpus import Chunk
from qa.retrieve import Hit, keep_tops, rrf
from qa.sentences import is_furniture, quotable_spans

PASSAGE = (
    "The bridge over the river was finished after many years of work. "
    "It was designed by Maria Lopez, an engineer from Valencia. "
    "The bridge opened to traffic in 1998 and carries 40,000 cars a day."
)


def _hits(*texts: str) -> list[Hit]:
    out = []
    for i, t in enumerate(texts):
        c = Chunk(i, f"doc{i}.txt", f"Doc {i}", 0, len(t), t)
        out.append(Hit(c, 1.0 / (1 + i), 0.5 - 0.1 * i, i + 1, i + 1))
    return out


def _idf() -> Idf:
    # a word in every document is worth little; a rare one much more
    return Idf({"bridg": 90, "design": 5, "open": 40, "engin": 10, "car": 20}, 100)


def _feature(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, SENTENCE_FEATURES.index(name)]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who designed the bridge?", "who"),
        ("When did the bridge open?", "when"),
        ("In what year did the bridge open?", "when"),
        ("How many cars cross the bridge each day?", "how many"),
        ("How much did the bridge cost?", "how many"),
        ("Why was the bridge built?", "why"),
        ("Did the bridge open in 1998?", "yes-no"),
        ("Is the bridge open?", "yes-no"),
        ("What did the engineer say about the river?", "said"),
        ("Which countries sent engineers?", "list"),
        ("What is the bridge made of?", "other"),
    ],
)
def test_question_kind(question, kind):
    assert question_kind(question) == kind


def test_idf_weights_rare_words_more():
    idf = _idf()
    assert idf("design") > idf("bridg")
    assert idf("neverseen") == idf.max  # not in the index: rarer than anything in it


def test_features_prefer_the_sentence_with_the_rare_question_word():
    """The sentence naming the designer holds the rare word 'designed'; the others only 'bridge'."""
    from qa.answer.compose import passage_sentences

    hits = _hits(PASSAGE)
    sents = passage_sentences(hits)
    terms = QuestionTerms.of("Who designed the bridge?", _idf())
    rows = sentence_features(terms, sents, hits, np.zeros(len(sents)))
    idf_overlap = _feature(rows, "idf_overlap")
    assert sents[int(np.argmax(idf_overlap))].text.startswith("It was designed")
    assert _feature(rows, "overlap").tolist() == [
        0.5,
        0.5,
        0.5,
    ]  # plain overlap cannot tell them apart
    # who -> a capitalised name the question does not use
    assert _feature(rows, "type_match").tolist() == [0.0, 1.0, 0.0]


def test_type_match_follows_the_question_kind():
    s = _hits(PASSAGE)
    terms = QuestionTerms.of("When did the bridge open?", _idf())
    from qa.answer.compose import passage_sentences

    sents = passage_sentences(s)
    rows = sentence_features(terms, sents, s, np.zeros(len(sents)))
    matches = [s.text for s, m in zip(sents, _feature(rows, "type_match"), strict=True) if m]
    assert matches == [sents[2].text]  # only the sentence with a year


def test_bigram_and_relative_features():
    hits = _hits(PASSAGE)
    terms = QuestionTerms.of("Which cars a day cross the bridge?", _idf())
    from qa.answer.compose import passage_sentences

    sents = passage_sentences(hits)
    cos = np.array([0.2, 0.5, 0.3])
    rows = sentence_features(terms, sents, hits, cos)
    assert _feature(rows, "bigram")[2] > 0 and _feature(rows, "bigram")[1] == 0
    assert _feature(rows, "cos_rel").max() == 0.0 and _feature(rows, "cos_rel")[0] == pytest.approx(
        -0.3
    )
    assert list(_feature(rows, "first_in_passage")) == [1.0, 0.0, 0.0]


def test_shipped_weights_load_and_name_known_features():
    w = load_weights()
    assert set(w["sentence"].features) <= set(SENTENCE_FEATURES)
    assert set(w["abstain"].features) <= set(ABSTAIN_FEATURES)
    # more of the question's rare words in a sentence never lowers its score
    i = SENTENCE_FEATURES.index("idf_overlap")
    assert w["sentence"].coef[w["sentence"].features.index(SENTENCE_FEATURES[i])] > 0


def test_abstention_features_name_what_is_missing():
    hits = _hits(PASSAGE)
    q = "Who designed the tunnel under the river?"
    r = rank_sentences(q, hits)
    best = int(np.argmax(r.logits))
    f, missing = question_features(
        q, r.terms, _idf(), r.rows, r.logits, r.sentences[best].text, [PASSAGE]
    )
    assert "tunnel" in missing
    assert f[ABSTAIN_FEATURES.index("missing_idf_passages")] > 0
    q2 = "Who designed the bridge over the river?"
    r2 = rank_sentences(q2, hits)
    best2 = int(np.argmax(r2.logits))
    f2, _ = question_features(
        q2, r2.terms, _idf(), r2.rows, r2.logits, r2.sentences[best2].text, [PASSAGE]
    )
    assert f2[ABSTAIN_FEATURES.index("missing_idf_passages")] == 0


def test_negation_mismatch_feature():
    """Only a negation the question has and the sentence lacks counts: a sentence's own negated
    clause says nothing against a question without one."""
    hits = _hits("The bridge did not open in 1998. It opened in 1999 after repairs.")

    def neg(q: str, best: str) -> float:
        r = rank_sentences(q, hits)
        f, _ = question_features(q, r.terms, Idf(), r.rows, r.logits, best, [])
        return f[ABSTAIN_FEATURES.index("negation_mismatch")]

    assert neg("When did the bridge not open?", "It opened in 1999 after repairs.") == 1.0
    assert neg("When did the bridge open?", "The bridge did not open in 1998.") == 0.0
    assert neg("When did the bridge not open?", "The bridge did not open in 1998.") == 0.0


def _features(q: str, best: str, passages, hits=None) -> np.ndarray:
    r = rank_sentences(q, hits or _hits(*passages))
    f, _ = question_features(q, r.terms, _idf(), r.rows, r.logits, best, passages)
    return f


def test_a_sentence_holding_every_question_word_is_never_a_close_miss():
    """'Who is Maria Lindqvist?' over 'Chief executive Maria Lindqvist told ...': whatever the model's
    logit (cosines of short name questions are low on news), the answer is not withheld."""
    text = "Chief executive Maria Lindqvist told analysts that orders had doubled."
    f = _features("Who is Maria Lindqvist?", text, [text])
    assert held(f)
    always = Linear(("margin",), np.zeros(1), np.ones(1), np.zeros(1), 5.0, threshold=0.0)
    assert not decide(f, [], always).abstain
    # a word the sentence lacks, or a negation only the question has, lets the model decide
    f2 = _features("Who is Maria Lindqvist's deputy?", text, [text])
    assert not held(f2) and decide(f2, [], always).abstain
    f3 = _features("Who is not Maria Lindqvist?", text, [text])
    assert not held(f3)


def test_off_topic_questions_abstain_whatever_the_model_says():
    text = "The council approved the budget for the new library on Friday."
    f = _features("How do I bake sourdough bread at home?", text, [text])
    f[ABSTAIN_FEATURES.index("max_cos")] = OFF_TOPIC_COS / 2  # no sentence near the question
    never = Linear(("margin",), np.zeros(1), np.ones(1), np.zeros(1), -5.0, threshold=0.0)
    assert off_topic(f) and decide(f, [], never).abstain
    # near in cosine, or its words in the passages: for the model to judge, not the rule
    f[ABSTAIN_FEATURES.index("max_cos")] = OFF_TOPIC_COS + 0.3
    assert not off_topic(f)
    g = _features("When did the council approve the library budget?", text, [text])
    g[ABSTAIN_FEATURES.index("max_cos")] = OFF_TOPIC_COS / 2
    assert not off_topic(g)


def test_cosine_features_are_relative_to_the_other_candidates():
    """The model sees how far the best sentence stands above the median candidate, not the raw
    cosine (which shifts with the corpus): adding the same amount to every cosine changes nothing."""
    hits = _hits(PASSAGE)
    q = "Who designed the bridge?"
    r = rank_sentences(q, hits)
    best = int(np.argmax(r.logits))
    args = (q, r.terms, _idf())
    f, _ = question_features(*args, r.rows, r.logits, r.sentences[best].text, [PASSAGE])
    shifted = r.rows.copy()
    shifted[:, SENTENCE_FEATURES.index("cos")] += 0.3
    g, _ = question_features(*args, shifted, r.logits, r.sentences[best].text, [PASSAGE])
    for name in ("cos_contrast", "maxcos_contrast"):
        assert f[ABSTAIN_FEATURES.index(name)] == pytest.approx(g[ABSTAIN_FEATURES.index(name)])
    assert g[ABSTAIN_FEATURES.index("max_cos")] == pytest.approx(
        f[ABSTAIN_FEATURES.index("max_cos")] + 0.3
    )
    assert "best_cos" not in load_weights()["abstain"].features


def test_decide_uses_the_threshold():
    model = Linear(("margin",), np.zeros(1), np.ones(1), np.array([1.0]), 0.0, threshold=0.5)
    f = np.zeros(len(ABSTAIN_FEATURES))
    f[ABSTAIN_FEATURES.index("margin")] = 1.0
    f[ABSTAIN_FEATURES.index("missing_idf_best")] = 0.5  # the best sentence lacks a word
    f[ABSTAIN_FEATURES.index("max_cos")] = 0.6
    assert decide(f, ["x"], model).abstain
    assert decide(f, ["x"], model).missing == ("x",)
    f[ABSTAIN_FEATURES.index("margin")] = 0.2
    assert not decide(f, ["x"], model).abstain


OTHERS = (
    "Other bridges over the river were finished later. The river floods the valley each spring.",
    "The bridge is painted green every year. Cars cross the bridge at night without tolls.",
    "Football clubs in the city play on Sundays. The stadium holds thirty thousand fans.",
)


def _engine_parts(fake_embedder):
    from qa.index import Index
    from qa.retrieve import Retriever

    texts = [PASSAGE, *OTHERS]
    chunks = [Chunk(i, f"doc{i}.txt", f"Doc {i}", 0, len(t), t) for i, t in enumerate(texts)]
    settings = Settings()
    index = Index.in_memory(chunks, fake_embedder.encode(texts), settings)
    return index, Retriever(index, fake_embedder, settings), settings


def _rule_models(monkeypatch):
    """The shipped models are fitted to MiniLM's cosines; with the fake embedder the orchestration is
    tested with simple stand-ins: rank by rare-word overlap, abstain when the best sentence lacks
    a third of the question's word weight."""
    sent = Linear(("idf_overlap", "type_match"), np.zeros(2), np.ones(2), np.array([4.0, 1.0]), 0.0)
    ab = Linear(
        ("missing_idf_passages",), np.zeros(1), np.ones(1), np.array([1.0]), 0.0, threshold=0.3
    )
    import sys

    comp = sys.modules["qa.answer.compose"]  # the package's `compose` name is the function
    score = sys.modules["qa.answer.score"]

    monkeypatch.setattr(score, "load_weights", lambda: {"sentence": sent, "abstain": ab})
    monkeypatch.setattr(comp, "load_weights", lambda: {"sentence": sent, "abstain": ab})


def test_compose_quotes_the_sentence_that_answers_first(fake_embedder, monkeypatch):
    _rule_models(monkeypatch)
    index, retriever, settings = _engine_parts(fake_embedder)
    q = "Who designed the bridge?"
    a = compose(q, retriever.search(q, 3), settings, embedder=fake_embedder, index=index)
    assert not a.abstained
    first = {c.id: c for c in a.citations}[a.quotes[0]]
    assert first.text.startswith("It was designed by Maria Lopez")
    assert a.answer.startswith(first.text)
    assert all(c.text in a.answer for c in a.citations)


def test_a_said_question_quotes_the_speech_after_the_sentence_naming_its_speaker():
    from qa.answer.compose import passage_sentences, quoted_speech_after

    text = (
        "Mayor Rosa Diaz conceded defeat on Monday morning. "
        '"The voters have spoken, and we will respect their decision. We will be a strong '
        'opposition," she said. Turnout was 61 percent.'
    )
    sentences = passage_sentences(_hits(text))
    speech = " ".join(sentences[j].text for j in quoted_speech_after(sentences, 0))
    assert "respect their decision" in speech and "Turnout" not in speech  # up to "she said."
    last = len(sentences) - 1
    assert quoted_speech_after(sentences, last - 1) == []  # the next sentence opens no quotation


def test_compose_abstains_and_says_what_is_missing(fake_embedder, monkeypatch):
    _rule_models(monkeypatch)
    index, retriever, settings = _engine_parts(fake_embedder)
    q = "Who designed the tunnel?"
    a = compose(q, retriever.search(q, 3), settings, embedder=fake_embedder, index=index)
    assert a.abstained and len(a.closest) == 3 and not a.citations
    assert "about tunnel." in a.answer


@pytest.mark.parametrize(
    "text",
    [
        "Related: Bridge closes for repairs after storm",
        "3 min read",
        "Share this article on social media now",
        "Home | World | Business | Tech",
        "The article picture shows the river",
        "City Council Approves New Bridge Budget For Next Year",
        "Read more at https://example.com/news",
    ],
)
def test_furniture_is_never_quotable(text):
    assert is_furniture(text)
    c = Chunk(
        0, "d.txt", "Title", 0, len(text) + 40, "A real sentence about the bridge is here.\n" + text
    )
    assert [c.text[a:b] for a, b in quotable_spans(c)] == [
        "A real sentence about the bridge is here."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The bridge opened to traffic in 1998.",
        'Maria Lopez, an engineer, said: "It will last."',
        "Why did it close?",
    ],
)
def test_sentences_are_quotable(text):
    assert not is_furniture(text)


def test_fusion_keeps_each_sides_top_hit():
    dense = list(range(100, 120))  # BM25's first is outside dense's top 20
    bm25 = [7, *range(100, 130)]  # the rest agree with dense: found by both, they outrank it
    fused = rrf([dense, bm25], [1.0, 1.0], 10)
    assert 7 not in [d for d, _ in fused[:5]]  # plain RRF drops BM25's sure hit
    kept = keep_tops(fused, [dense, bm25])
    top5 = [d for d, _ in kept[:5]]
    assert 7 in top5 and 100 in top5 and kept[0][0] == 100
    scores = [s for _, s in kept]
    assert scores == sorted(scores, reverse=True)
    assert sorted(d for d, _ in kept) == sorted(d for d, _ in fused)  # same hits, only reordered


def test_fusion_leaves_agreeing_rankings_alone():
    fused = rrf([[1, 2, 3], [1, 3, 2]], k=10)
    assert keep_tops(fused, [[1, 2, 3], [1, 3, 2]]) == fused


def test_search_takes_the_question_vector_late_and_bm25_goes_first(fake_embedder):
    """A vector given as a function (a future's `result`) is asked for only after BM25 has searched,
    and the hits equal those of the vector given outright."""
    index, retriever, _ = _engine_parts(fake_embedder)
    q = "Who designed the bridge?"
    vec = fake_embedder.encode([q])[0]
    calls: list[str] = []
    real_bm25 = index.bm25_search

    def bm25(*args, **kwargs):
        calls.append("bm25")
        return real_bm25(*args, **kwargs)

    def late() -> np.ndarray:
        calls.append("vector")
        return vec

    index.bm25_search = bm25
    hits = retriever.search(q, 3, qvec=late)
    assert calls == ["bm25", "vector"]
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [
        (h.chunk.chunk_id, h.score) for h in retriever.search(q, 3, qvec=vec)
    ]
