"""OnnxEncoder's one-text-a-run mode on a tiny hand-made model (no real model: seconds).

The model is what the export makes, shrunk: token embeddings, one MatMul, mean pooling over the
attention mask and L2 normalization, with the token rows as a second output. Quantized by
qa.embed_int8.quantize (the real recipe), it shows why int8 runs one text a batch (dynamic
quantization scales activations over the whole batch) and checks that running the texts of a call
side by side on several threads keeps every vector a function of its text alone."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from qa.embed_int8 import int8_path, quantize  # noqa: E402
from qa.embed_onnx import OnnxEncoder  # noqa: E402

WORDS = [
    "the",
    "a",
    "troops",
    "were",
    "sent",
    "north",
    "south",
    "to",
    "from",
    "city",
    "river",
    "bridge",
    "on",
    "by",
    "loud",
]
DIM = 16
INFO = {"max_seq_length": 32, "lower": True}
TEXTS = [
    "the troops were sent north",
    "a bridge on the river",
    "sent from the city to the south",
    "troops",
    "the river city bridge by the north river",
    "loud loud loud",
    "",
]


def _tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    vocab.update({w: i + 4 for i, w in enumerate(WORDS)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"pad_token": "[PAD]"}))


def _model(path: Path) -> None:
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((len(WORDS) + 4, DIM)).astype(np.float32)
    emb[4 + WORDS.index("loud")] *= 8  # a word with large activations
    w = rng.standard_normal((DIM, DIM)).astype(np.float32)
    ints = ["input_ids", "attention_mask", "token_type_ids"]
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["x"]),
        helper.make_node("MatMul", ["x", "W"], ["tokens"]),
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "two"], ["m3"]),
        helper.make_node("Mul", ["tokens", "m3"], ["hm"]),
        helper.make_node("ReduceSum", ["hm", "one"], ["s"], keepdims=0),
        helper.make_node("ReduceSum", ["m3", "one"], ["c"], keepdims=0),
        helper.make_node("Div", ["s", "c"], ["v"]),
        helper.make_node("LpNormalization", ["v"], ["embedding"], axis=-1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "len"]) for n in ints],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM]),
            helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["batch", "len", DIM]),
        ],
        [
            numpy_helper.from_array(emb, "E"),
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """(model folder, int8 file) made by the real quantization recipe."""
    folder = tmp_path_factory.mktemp("tiny")
    _tokenizer(folder)
    fp32 = folder / "model.onnx"
    _model(fp32)
    target = int8_path(fp32)
    quantize(fp32, target, lambda p: OnnxEncoder._one_by_one(p, folder, INFO, 2), TEXTS[:5])
    return folder, target


def _spans(texts: list[str]) -> list[list[tuple[int, int]]]:
    return [[(0, len(t) // 2), (len(t) // 3, len(t))] if t else [] for t in texts]


def test_batched_int8_would_make_a_vector_depend_on_its_neighbours(tiny):
    folder, int8 = tiny
    batched = OnnxEncoder(int8, folder, INFO["max_seq_length"], INFO["lower"], 1)
    assert batched.max_batch > 1
    alone = batched.encode([TEXTS[0]])[0]
    with_loud = batched.encode([TEXTS[0], "loud loud loud loud the troops"])[0]
    assert not np.array_equal(alone, with_loud)  # why int8 runs one text a batch


def test_one_by_one_on_threads_is_a_function_of_the_text(tiny):
    folder, int8 = tiny
    enc = OnnxEncoder._one_by_one(int8, folder, INFO, 2)
    assert enc.max_batch == 1 and enc.workers == 2
    assert enc.session.get_session_options().intra_op_num_threads == 1
    texts = TEXTS * 6
    alone = np.stack([enc.encode([t])[0] for t in texts])
    np.testing.assert_array_equal(enc.encode(texts), alone)
    np.testing.assert_array_equal(enc.encode(texts[::-1])[::-1], alone)
    with ThreadPoolExecutor(3) as pool:  # several callers share one encoder
        parts = list(pool.map(lambda i: enc.encode(texts[i : i + 5]), range(0, len(texts), 5)))
    np.testing.assert_array_equal(np.concatenate(parts), alone)
    np.testing.assert_allclose(np.linalg.norm(alone, axis=1), 1.0, atol=1e-5)
    single = OnnxEncoder._one_by_one(int8, folder, INFO, 1)
    assert single.workers == 1
    np.testing.assert_array_equal(single.encode(texts), alone)


def test_spans_are_pooled_per_text_whatever_the_thread(tiny):
    folder, int8 = tiny
    enc = OnnxEncoder._one_by_one(int8, folder, INFO, 2)
    texts = TEXTS * 3
    vecs, pooled = enc.encode_with_spans(texts, _spans(texts))
    np.testing.assert_array_equal(vecs, enc.encode(texts))
    for i, t in enumerate(texts):
        v1, p1 = enc.encode_with_spans([t], _spans([t]))
        np.testing.assert_array_equal(v1[0], vecs[i])
        np.testing.assert_array_equal(p1[0], pooled[i])
        assert p1[0].shape == (len(_spans([t])[0]), DIM)


class _Watched:
    """The real session, noting which threads ran it and how many runs overlapped."""

    def __init__(self, session) -> None:
        self.session, self.threads, self.busy, self.most = session, set(), 0, 0
        self.lock = threading.Lock()

    def run(self, *args):
        with self.lock:
            self.threads.add(threading.get_ident())
            self.busy += 1
            self.most = max(self.most, self.busy)
        try:
            return self.session.run(*args)
        finally:
            with self.lock:
                self.busy -= 1

    def __getattr__(self, name):
        return getattr(self.session, name)


def test_the_texts_of_a_call_run_on_the_worker_threads(tiny):
    folder, int8 = tiny
    enc = OnnxEncoder._one_by_one(int8, folder, INFO, 2)
    want = enc.encode(TEXTS * 40)
    watched = enc.session = _Watched(enc.session)
    np.testing.assert_array_equal(enc.encode(TEXTS * 40), want)
    assert len(watched.threads) == 2 and threading.get_ident() not in watched.threads
    watched.threads.clear()
    enc.encode(["the troops"])  # one text: run on the caller's thread, no hand-off
    assert watched.threads == {threading.get_ident()}
