"""The optional sentence reader (qa/answer/reader.py) with a tiny randomly initialised cross-encoder
made here: loading, the typed error for a bad folder, the reader's order deciding the first quote,
its threshold deciding abstention, and no torch import when no reader is set."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.answer import compose, rank_sentences
from qa.config import READER_FILE, Settings
from qa.corpus import Chunk
from qa.errors import ReaderError

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "The bridge over the river was finished after many years of work. "
    "It was designed by an engineer from the coast. "
    "The bridge opened to traffic in the spring and carries many cars a day.",
    "The old ferry across the river stopped running when the bridge opened. "
    "Boats still carry tourists along the river in the summer.",
    "The council voted to paint the bridge green after a public vote. "
    "The paint was chosen by the engineer who designed the lights.",
]
QUESTION = "who designed the bridge over the river"


def _tiny(folder: Path, seed: int) -> Path:
    """A 2-layer BERT cross-encoder (hidden 32) with a word-piece vocabulary of the texts' words."""
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    words = sorted({w for t in [*TEXTS, QUESTION] for w in re.findall(r"\w+", t.lower())})
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", *letters]
    vocab += [f"##{c}" for c in letters] + [w for w in words if w not in vocab]
    raw = folder / "hf"
    raw.mkdir(parents=True)
    (raw / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    import torch

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=160,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(raw)
    BertTokenizer(str(raw / "vocab.txt")).save_pretrained(raw)
    out = folder / "reader"
    CrossEncoder(str(raw), num_labels=1, local_files_only=True).save(str(out))
    return out


def _with_info(folder: Path, threshold: float, top_n: int = 4) -> str:
    info = {"version": 1, "top_n": top_n, "threshold": threshold, "trained_on": "test", "pairs": 0}
    (folder / READER_FILE).write_text(json.dumps(info), encoding="utf-8")
    return str(folder)


def _parts(fake_embedder):
    from qa.index import Index
    from qa.retrieve import Retriever

    chunks = [Chunk(i, f"doc{i}.txt", f"Doc {i}", 0, len(t), t) for i, t in enumerate(TEXTS)]
    settings = Settings()
    index = Index.in_memory(chunks, fake_embedder.encode(TEXTS), settings)
    hits = Retriever(index, fake_embedder, settings).search(QUESTION, 3)
    return index, hits


def _scorer_top(fake_embedder, index, hits, top_n: int) -> tuple[list[str], str]:
    r = rank_sentences(QUESTION, hits, index=index, embedder=fake_embedder)
    order = np.argsort(-r.logits, kind="stable")[:top_n]
    return [r.sentences[i].text for i in order], r.sentences[order[0]].text


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory, fake_embedder_module):
    """A tiny reader whose best sentence is not the scorer's best (the first seed that gives one),
    so the test below can tell which of the two decided."""
    from qa.answer.reader import Reader

    index, hits = _parts(fake_embedder_module)
    texts, scorer_best = _scorer_top(fake_embedder_module, index, hits, 4)
    for seed in range(20):
        folder = _tiny(tmp_path_factory.mktemp(f"reader{seed}"), seed)
        logits = Reader(_with_info(folder, 0.0)).logits(QUESTION, texts)
        if texts[int(np.argmax(logits))] != scorer_best:
            return folder
    raise AssertionError("no seed gave a reader that disagrees with the scorer")


@pytest.fixture(scope="module")
def fake_embedder_module():
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()


def test_a_reader_folder_loads_and_scores_pairs(tiny_reader):
    from qa.answer.reader import Reader

    reader = Reader(_with_info(tiny_reader, 0.5, top_n=3))
    assert (reader.info.top_n, reader.info.threshold) == (3, 0.5)
    logits = reader.logits(QUESTION, ["The bridge opened.", "Boats carry tourists.", "x"])
    assert logits.shape == (3,) and np.isfinite(logits).all()
    assert len(set(np.round(logits, 6))) == 3  # a real model: different sentences, different scores


def test_a_bad_reader_folder_is_a_typed_error_naming_the_fix(tmp_path):
    with pytest.raises(ReaderError) as e:
        Settings(reader=str(tmp_path / "missing"))
    assert "train_reader" in e.value.hint and "QA_READER" in e.value.hint
    with pytest.raises(ReaderError):  # a folder without qa-reader.json
        Settings.from_env({"QA_READER": str(tmp_path)})
    (tmp_path / READER_FILE).write_text('{"version": 2, "top_n": 8}', encoding="utf-8")
    from qa.answer.reader import Reader

    with pytest.raises(ReaderError):  # a qa-reader.json this version cannot read
        Reader(tmp_path)
    assert Settings.from_env({"QA_READER": ""}).reader == ""  # empty: off


def test_the_reader_order_decides_the_first_quote(tiny_reader, fake_embedder_module):
    from qa.answer.reader import Reader, sigmoid

    fe = fake_embedder_module
    index, hits = _parts(fe)
    texts, scorer_best = _scorer_top(fe, index, hits, 4)
    path = _with_info(tiny_reader, 0.0, top_n=4)
    logits = Reader(path).logits(QUESTION, texts)
    want = texts[int(np.argmax(logits))]
    read = compose(QUESTION, hits, Settings(reader=path), embedder=fe, index=index)
    first = {c.id: c for c in read.citations}[read.quotes[0]].text
    assert first == want != scorer_best
    prob = dict(zip(texts, sigmoid(logits), strict=True))
    quoted = [{c.id: c for c in read.citations}[q].text for q in read.quotes]
    assert all(t in prob and prob[t] >= 0.25 * prob[want] for t in quoted)  # the share rule


def test_the_reader_threshold_decides_abstention(tiny_reader, fake_embedder_module):
    fe = fake_embedder_module
    index, hits = _parts(fe)
    never = compose(
        QUESTION, hits, Settings(reader=_with_info(tiny_reader, 1.01)), embedder=fe, index=index
    )
    assert never.abstained and not never.citations and len(never.closest) == 3
    assert never.answer.startswith("The corpus does not say.")
    always = compose(
        QUESTION, hits, Settings(reader=_with_info(tiny_reader, 0.0)), embedder=fe, index=index
    )
    assert not always.abstained and always.quotes


def test_without_a_reader_an_answer_never_imports_torch():
    code = (
        "import sys, json; sys.path.insert(0, '.');"
        "from tests.fakes import FakeEmbedder; from tests.unit.test_reader import _parts, QUESTION;"
        "from qa.answer import compose; from qa.config import Settings;"
        "fe = FakeEmbedder(); index, hits = _parts(fe);"
        "a = compose(QUESTION, hits, Settings(), embedder=fe, index=index);"
        "print(json.dumps([a.abstained or bool(a.quotes), 'torch' in sys.modules]))"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "QA_READER"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, False]
