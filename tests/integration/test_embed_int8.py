"""The int8 backend on the real model: vectors close to fp32, the same ranking on the seed
articles, made once and remade when damaged, an index of the other kind reported as a mismatch;
and a `qa ask` process that imports nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qa.bench.common import QUESTIONS
from qa.config import Settings
from qa.corpus import chunk_documents, load_corpus
from qa.embed import Embedder, embed_text
from qa.embed_int8 import MIN_COSINE
from qa.index import build_index
from qa.index.status import index_status
from tests.conftest import CORPUS, ROOT, settings_for

HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "gradio",
    "pandas",
    "ranx",
    "langchain_core",
    "langchain_community",
)


@pytest.fixture(scope="module")
def chunk_texts() -> list[str]:
    s = Settings()
    docs, _ = load_corpus(CORPUS)
    return [embed_text(c) for c in chunk_documents(docs, s.chunk_size, s.chunk_overlap)]


@pytest.fixture(scope="module")
def fp32() -> Embedder:
    return Embedder(Settings(embed_backend="onnx"))


@pytest.fixture(scope="module")
def int8() -> Embedder:
    e = Embedder(Settings(embed_backend="onnx-int8"))
    e.encode(["made once"])
    return e


def test_int8_vectors_are_close_to_fp32(fp32, int8, chunk_texts):
    texts = chunk_texts + QUESTIONS
    a, b = fp32.encode(texts), int8.encode(texts)
    assert int8.backend == "onnx-int8" and fp32.backend == "onnx"
    assert int8.name.endswith("+int8") and not fp32.name.endswith("+int8")
    assert a.shape == b.shape and not np.array_equal(a, b)  # really another model
    cos = (a * b).sum(axis=1)
    assert cos.min() >= MIN_COSINE and cos.mean() >= 0.98
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    # the question path (one text) equals the batch
    assert float(np.abs(int8.encode([texts[3]])[0] - b[3]).max()) < 1e-4


def test_int8_keeps_the_ranking_of_passages(fp32, int8, chunk_texts):
    docs_a, docs_b = fp32.encode(chunk_texts), int8.encode(chunk_texts)
    qa_, qb = fp32.encode(QUESTIONS), int8.encode(QUESTIONS)
    overlap = []
    for i in range(len(QUESTIONS)):
        ra = np.argsort(-(docs_a @ qa_[i]))[:5]
        rb = np.argsort(-(docs_b @ qb[i]))[:5]
        assert ra[0] in rb[:2], QUESTIONS[i]  # fp32's best passage stays at the top
        overlap.append(len(set(ra) & set(rb)) / 5)
    assert np.mean(overlap) >= 0.8


def test_a_damaged_int8_file_is_made_again(int8, tmp_path, chunk_texts):
    made = int8._onnx.path
    fp32 = made.with_name(made.name.split(".int8-")[0] + ".onnx")
    cache = tmp_path / "cache"
    (cache / "onnx").mkdir(parents=True)
    os.symlink(fp32, cache / "onnx" / fp32.name)  # the export itself is not remade
    (cache / "onnx" / made.name).write_bytes(b"not an onnx file")
    again = Embedder(Settings(cache_dir=cache, embed_backend="onnx-int8"))
    v = again.encode(chunk_texts[:4])
    assert again.backend == "onnx-int8" and (cache / "onnx" / made.name).stat().st_size > 1_000_000
    np.testing.assert_allclose(
        v, int8.encode(chunk_texts[:4]), atol=1e-5
    )  # quantization is deterministic


def test_switching_backend_is_a_mismatch_and_the_build_re_embeds(tmp_path, fp32, int8):
    home = tmp_path / "home"
    (home / "corpus").mkdir(parents=True)
    for p in sorted(CORPUS.iterdir())[:2]:
        (home / "corpus" / p.name).write_bytes(p.read_bytes())
    fp32_settings = settings_for(home, embed_backend="onnx")
    first = build_index(fp32_settings, fp32)
    int8_settings = settings_for(home, embed_backend="onnx-int8")
    status = index_status(int8_settings)
    assert status.state == "mismatch" and "+int8" in status.message
    report = build_index(int8_settings, int8)
    assert report.embedded == first.chunks and report.reused == 0
    assert index_status(int8_settings).state == "fresh"
    assert index_status(fp32_settings).state == "mismatch"


@pytest.mark.parametrize("question", [QUESTIONS[0], QUESTIONS[1]], ids=["plain", "quantity"])
def test_qa_ask_never_imports_heavy_modules(real_settings, question):
    code = (
        "import json, sys\n"
        "sys.argv = ['qa', *json.loads(sys.argv[1])]\n"
        "from qa.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r})))\n"
    )
    args = [
        "--corpus",
        str(real_settings.corpus_dir),
        "--index",
        str(real_settings.index_dir),
        "ask",
        question,
    ]
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert "Sources:" in out.stdout  # it answered
    assert json.loads(lines[-1]) == []
