"""Which retrieved sentence answers: features of each sentence on its own words, and a learned scorer.

A passage's pooled sentence vectors carry the passage's topic into every sentence, so a neighbour of
the answering sentence often wins on cosine alone. Each candidate sentence is therefore also scored
on its own words: IDF-weighted overlap with the question's content words (IDF from the BM25 index
statistics, computed at build time), question bigrams it repeats, whether it holds the type of thing
the question asks for (who -> a name, when -> a date, how many -> a number), and where its passage
ranked. A logistic regression over these features (weights in `weights.json`, trained on SQuAD 2.0
dev articles 01-17 by `python -m qa.answer.train`) ranks the sentences.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from qa.answer.kinds import question_kind

_WORD = re.compile(r"\w+(?:['’]\w+)?")
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|without|cannot)\b|n['’]t\b", re.I)
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}(?:st|nd|rd|th)\s+centur", re.I)
_MONTH = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|half|percent)\b",
    re.I,
)
_CAUSE = re.compile(
    r"\b(?:because|since|due to|as a result|caused|cause|reason|so that|in order to|led to)\b", re.I
)
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")

SENTENCE_FEATURES = (
    "cos",
    "cos_rel",
    "idf_overlap",
    "idf_overlap_rel",
    "overlap",
    "bigram",
    "type_match",
    "rank_inv",
    "passage_rel",
    "bm25_first",
    "first_in_passage",
    "log_len",
    "novel",
    "window",
    "window_rel",
    "type_who",
    "type_when",
    "type_how_many",
    "type_why",
)
_KIND_TYPES = ("who", "when", "how many", "why")  # type_match split by kind: one weight each


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    from qa.answer.words import word_set

    return frozenset(STOPWORDS_EN) | word_set("function_words") | {"many", "much", "whose", "whom"}


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def content_stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order (stopwords dropped, lower-cased)."""
    stop = _stopwords()
    return [
        _stem(w)
        for w in (m.lower().replace("’", "'") for m in _WORD.findall(text))
        if w not in stop
    ]


class Idf:
    """Inverse document frequency of stems, from the BM25 index's postings (1.0 when unknown)."""

    def __init__(self, df: dict[str, int] | None = None, n_docs: int = 1) -> None:
        self.df = df or {}
        self.n = max(n_docs, 1)
        self.max = math.log(1 + self.n) if self.df else 1.0

    def __call__(self, stem: str) -> float:
        df = self.df.get(stem)
        if df is None:
            return self.max if self.df else 1.0
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    @classmethod
    def of_index(cls, index) -> Idf:
        """Document frequencies from the index's BM25 matrix (cached on the index object)."""
        cached = getattr(index, "_qa_idf", None)
        if cached is not None:
            return cached
        idf = cls()
        try:
            bm25 = index.bm25
            indptr = np.asarray(bm25.scores["indptr"])
            counts = np.diff(indptr)
            vocab = index.tokenizer.stem_to_sid
            idf = cls(
                {s: int(counts[i]) for s, i in vocab.items() if i < counts.size},
                int(bm25.scores["num_docs"]),
            )
        except (AttributeError, KeyError, TypeError):
            pass
        with contextlib.suppress(AttributeError):  # an index with __slots__: recomputed each time
            index._qa_idf = idf
        return idf


def _type_match(kind: str, text: str, q_words: set[str]) -> float:
    if kind == "when":
        return float(bool(_YEAR.search(text) or _MONTH.search(text)))
    if kind == "how many":
        return float(bool(_NUMBER.search(text)))
    if kind == "who":
        return float(any(w.lower() not in q_words for w in _CAPITAL.findall(text)))
    if kind == "why":
        return float(bool(_CAUSE.search(text)))
    return 0.0


@dataclass(frozen=True)
class QuestionTerms:
    """What the features need of the question, computed once per question."""

    kind: str
    stems: tuple[str, ...]  # distinct content stems
    weights: np.ndarray  # their IDF
    bigrams: frozenset[tuple[str, str]]
    words: frozenset[str]  # lower-cased words

    @classmethod
    def of(cls, question: str, idf: Idf) -> QuestionTerms:
        seq = content_stems(question)
        stems = tuple(dict.fromkeys(seq))
        return cls(
            question_kind(question),
            stems,
            np.array([idf(s) for s in stems], dtype=np.float64),
            frozenset(zip(seq, seq[1:], strict=False)),
            frozenset(w.lower() for w in _WORD.findall(question)),
        )


def _window_share(terms: QuestionTerms, sentences: Sequence, have: list[set[str]]) -> np.ndarray:
    """Share of the question's IDF weight held by each sentence with its neighbours in the passage.

    SQuAD-style questions often take words from the sentence before the answer ("These are used in
    ... studies." follows the sentence naming what), so the neighbours' words count for a sentence."""
    total = float(terms.weights.sum()) or 1.0
    out = np.zeros(len(sentences))
    for i, s in enumerate(sentences):
        words = set(have[i])
        for j in (i - 1, i + 1):
            if 0 <= j < len(sentences) and sentences[j].rank == s.rank:
                words |= have[j]
        out[i] = sum(w for st, w in zip(terms.stems, terms.weights, strict=True) if st in words)
    return out / total


def sentence_features(
    terms: QuestionTerms, sentences: Sequence, hits: Sequence, cos: np.ndarray
) -> np.ndarray:
    """One row of SENTENCE_FEATURES per sentence (`cos`: question-sentence cosine)."""
    n = len(sentences)
    out = np.zeros((n, len(SENTENCE_FEATURES)), dtype=np.float64)
    total = float(terms.weights.sum()) or 1.0
    qset = set(terms.stems)
    first_seen: set[str] = set()
    have_all = []
    for i, s in enumerate(sentences):
        seq = content_stems(s.text)
        have = set(seq)
        have_all.append(have)
        hit = hits[s.rank]
        got = [w for st, w in zip(terms.stems, terms.weights, strict=True) if st in have]
        out[i, 2] = sum(got) / total
        out[i, 4] = len(got) / max(len(terms.stems), 1)
        out[i, 5] = len(terms.bigrams & set(zip(seq, seq[1:], strict=False))) / max(
            len(terms.bigrams), 1
        )
        out[i, 6] = _type_match(terms.kind, s.text, terms.words)
        out[i, 7] = 1.0 / (1 + s.rank)
        out[i, 8] = float(hit.relevance)
        out[i, 9] = float(getattr(hit, "bm25_rank", None) == 1)
        key = f"{s.chunk.doc_id}:{s.chunk.start}"
        out[i, 10] = float(key not in first_seen)
        first_seen.add(key)
        out[i, 11] = math.log(1 + len(s.text.split()))
        out[i, 12] = len(have - qset) / max(len(have), 1)
    out[:, 0] = cos
    if n:
        out[:, 1] = cos - cos.max()
        out[:, 3] = out[:, 2] - out[:, 2].max()
        out[:, 13] = _window_share(terms, sentences, have_all)
        out[:, 14] = out[:, 13] - out[:, 13].max()
        if terms.kind in _KIND_TYPES:
            out[:, 15 + _KIND_TYPES.index(terms.kind)] = out[:, 6]
    return out


@dataclass(frozen=True)
class Linear:
    """A logistic regression over named features: standardise, dot, add the intercept."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.0  # decision threshold on the logit (abstention)

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "threshold": round(float(self.threshold), 6),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Linear:
        return cls(
            tuple(d["features"]),
            np.array(d["mean"], dtype=np.float64),
            np.array(d["scale"], dtype=np.float64),
            np.array(d["coef"], dtype=np.float64),
            float(d["intercept"]),
            float(d.get("threshold", 0.0)),
        )


@functools.lru_cache(maxsize=1)
def load_weights() -> dict[str, Linear]:
    """The shipped models from qa/answer/weights.json: "sentence" ranks the quotes, "abstain" decides
    on the best sentence of "abstain_sentence" (the scorer it was trained with; "sentence" if absent)."""
    raw = json.loads(
        resources.files("qa.answer").joinpath("weights.json").read_text(encoding="utf-8")
    )
    out = {name: Linear.from_dict(raw[name]) for name in _MODELS if name in raw}
    out.setdefault("abstain_sentence", out["sentence"])
    return out


_MODELS = ("sentence", "abstain_sentence", "abstain")


def score_rows(features: np.ndarray, model: Linear | None = None) -> np.ndarray:
    """Sentence logits from SENTENCE_FEATURES rows (the shipped sentence model by default)."""
    model = model or load_weights()["sentence"]
    cols = [SENTENCE_FEATURES.index(f) for f in model.features]
    return model.logit(features[:, cols]) if len(features) else np.zeros(0)
