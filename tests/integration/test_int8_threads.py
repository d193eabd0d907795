"""The int8 encoder on the real model runs the texts of a call side by side on one-thread
sessions; a text's vector (and its pooled span vectors) must stay a function of the text alone:
the same alone, in a batch, from several threads at once, and with one worker or several."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa.bench.common import QUESTIONS
from qa.config import Settings
from qa.corpus import chunk_documents, load_corpus
from qa.embed import Embedder, embed_text
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def texts() -> list[str]:
    s = Settings()
    docs, _ = load_corpus(CORPUS)
    chunks = [embed_text(c) for c in chunk_documents(docs, s.chunk_size, s.chunk_overlap)]
    return chunks[:24] + QUESTIONS[:6]


@pytest.fixture(scope="module")
def int8() -> Embedder:
    e = Embedder(Settings(embed_backend="onnx-int8"))
    e.encode(["made once"])
    return e


def _spans(texts: list[str]) -> list[list[tuple[int, int]]]:
    return [[(0, len(t) // 2), (len(t) // 3, len(t))] for t in texts]


def test_int8_runs_one_text_a_batch_on_one_thread_sessions(int8):
    enc = int8._onnx
    assert enc.max_batch == 1
    assert enc.workers == (os.cpu_count() or 1)
    assert enc.session.get_session_options().intra_op_num_threads == 1
    fp32 = Embedder(Settings(embed_backend="onnx"))
    fp32.encode(["x"])
    assert fp32._onnx.workers == 1 and fp32._onnx.max_batch > 1  # fp32 batches as before


def test_a_vector_is_the_same_alone_in_a_batch_and_across_threads(int8, texts):
    batch = int8.encode(texts)
    alone = np.stack([int8.encode([t])[0] for t in texts])
    np.testing.assert_array_equal(batch, alone)
    shuffled = list(reversed(texts))
    np.testing.assert_array_equal(int8.encode(shuffled)[::-1], batch)
    with ThreadPoolExecutor(4) as pool:  # several callers at once share one encoder
        singles = np.stack(list(pool.map(lambda t: int8.encode([t])[0], texts)))
        parts = list(pool.map(lambda i: int8.encode(texts[i : i + 7]), range(0, len(texts), 7)))
    np.testing.assert_array_equal(singles, batch)
    np.testing.assert_array_equal(np.concatenate(parts), batch)


def test_pooled_spans_do_not_depend_on_the_batch(int8, texts):
    vecs, pooled = int8.encode_with_spans(texts, _spans(texts))
    np.testing.assert_array_equal(vecs, int8.encode(texts))
    for i in (0, 5, len(texts) - 1):
        v1, p1 = int8.encode_with_spans([texts[i]], _spans([texts[i]]))
        np.testing.assert_array_equal(v1[0], vecs[i])
        np.testing.assert_array_equal(p1[0], pooled[i])
        assert p1[0].shape == (2, vecs.shape[1]) and np.isfinite(p1[0]).all()


def test_one_worker_gives_the_same_vectors_as_several(int8, texts):
    one = Embedder(Settings(embed_backend="onnx-int8", embed_threads=1))
    assert one.encode(["x"]).shape[1] == int8.dim
    assert one._onnx.workers == 1
    np.testing.assert_array_equal(one.encode(texts), int8.encode(texts))
