"""The embedding backends: ONNX Runtime gives PyTorch's vectors, exports once, falls back cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from qa.config import Settings
from qa.corpus import chunk_documents, load_corpus
from qa.embed import Embedder, default_model_path, embed_text
from qa.errors import ModelError
from tests.conftest import CORPUS, ROOT

QUESTIONS = [
    "How many North Korean troops were deployed to Russia?",
    "Who is Ryu Seong-hyeon?",
    "",
    "x",
]


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    s = Settings()
    docs, _ = load_corpus(CORPUS)
    return [embed_text(c) for c in chunk_documents(docs, s.chunk_size, s.chunk_overlap)] + QUESTIONS


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.slow
def test_onnx_and_torch_give_the_same_vectors(corpus_texts, cache):
    onnx = Embedder(Settings(cache_dir=cache, embed_backend="onnx"))
    torch = Embedder(Settings(cache_dir=cache, embed_backend="torch"))
    a, b = onnx.encode(corpus_texts), torch.encode(corpus_texts)
    assert onnx.backend == "onnx" and torch.backend == "torch"
    assert a.shape == b.shape == (len(corpus_texts), 384)
    assert float(np.abs(a - b).max()) < 1e-5
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # one at a time (the question path) equals the batch
    for i in (0, len(corpus_texts) - 4):
        assert float(np.abs(onnx.encode([corpus_texts[i]])[0] - a[i]).max()) < 1e-5
    assert len(list((cache / "onnx").glob("*.onnx"))) == 1


@pytest.mark.slow
def test_a_question_process_with_the_export_cached_never_imports_torch(cache):
    Embedder(Settings(cache_dir=cache, embed_backend="onnx")).encode(["export it"])  # made once
    code = (
        "import sys, json; from qa.config import Settings; from qa.embed import Embedder;"
        f"e = Embedder(Settings(cache_dir={str(cache)!r}, embed_backend='onnx')); v = e.encode(['Who is Ryu Seong-hyeon?']);"
        "print(json.dumps([e.backend, 'torch' in sys.modules, v.shape[1]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["onnx", False, 384]


@pytest.mark.slow
def test_a_damaged_export_is_made_again(cache, corpus_texts):
    Embedder(Settings(cache_dir=cache, embed_backend="onnx")).encode(["export it"])
    (path,) = (cache / "onnx").glob("*.onnx")
    path.write_bytes(b"not an onnx file")
    e = Embedder(Settings(cache_dir=cache, embed_backend="onnx"))
    v = e.encode(corpus_texts[:3])
    assert e.backend == "onnx" and path.stat().st_size > 1_000_000
    want = Embedder(Settings(cache_dir=cache, embed_backend="torch")).encode(corpus_texts[:3])
    assert float(np.abs(v - want).max()) < 1e-5


def _model_copy(tmp_path, pooling: dict):
    """The shipped model with another pooling config (files linked, not copied)."""
    src = default_model_path()
    dst = tmp_path / "model"
    shutil.copytree(src, dst, copy_function=os.symlink)
    cfg = dst / "1_Pooling" / "config.json"
    data = json.loads(cfg.read_text())
    cfg.unlink()
    cfg.write_text(json.dumps({**data, **pooling}))
    return dst


@pytest.mark.slow
def test_a_model_the_export_does_not_cover_falls_back_to_torch(tmp_path):
    model = _model_copy(
        tmp_path, {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    )
    auto = Embedder(
        Settings(model_path=str(model), cache_dir=tmp_path / "cache", embed_backend="auto")
    )
    v = auto.encode(["Who is Ryu Seong-hyeon?"])
    assert auto.backend == "torch" and v.shape == (1, 384)
    assert not (tmp_path / "cache" / "onnx").exists()
    for backend in ("onnx", "onnx-int8"):  # asked for by name: a clear error naming the fix
        with pytest.raises(ModelError, match="pooling") as info:
            Embedder(
                Settings(model_path=str(model), cache_dir=tmp_path / "cache", embed_backend=backend)
            ).encode(["x"])
        assert "QA_EMBED_BACKEND=auto" in info.value.hint
