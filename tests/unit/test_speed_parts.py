"""Pure parts of the int8 backend, the model fingerprint, `qa bench` and the CLI's cold-start
helpers: no model, no index."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from qa.bench import exact_top_k, format_report, write_synthetic_corpus
from qa.bench.cold import ask_command
from qa.bench.synthetic import SyntheticVectors, _pseudo_words
from qa.config import DEFAULT_MODEL_NAME, Settings
from qa.embed_int8 import int8_path, min_cosine
from qa.embed_onnx import _fingerprint
from qa.errors import ConfigError
from tests.conftest import CORPUS, ROOT


def test_the_int8_backend_names_its_vectors_apart_from_fp32():
    assert Settings(embed_backend="onnx-int8").resolved_model_name == DEFAULT_MODEL_NAME + "+int8"
    for backend in ("auto", "onnx", "torch"):
        assert Settings(embed_backend=backend).resolved_model_name == DEFAULT_MODEL_NAME
    named = Settings(embed_backend="onnx-int8", model_name="my-model")
    assert named.resolved_model_name == "my-model+int8"  # an explicit name is marked too
    assert Settings.from_env({"QA_EMBED_BACKEND": "onnx-int8"}).embed_backend == "onnx-int8"


@pytest.mark.parametrize("value", ["gpu", "ONNX ", "int8", ""])
def test_an_unknown_backend_is_a_config_error(value):
    if value == "":  # empty means unset
        assert (
            Settings.from_env({"QA_EMBED_BACKEND": value}).embed_backend == Settings().embed_backend
        )
        return
    with pytest.raises(ConfigError, match="backend") as info:
        Settings.from_env({"QA_EMBED_BACKEND": value})
    assert "onnx-int8" in info.value.hint


def test_int8_file_sits_beside_the_export_under_the_same_content_hash(tmp_path):
    fp32 = tmp_path / "onnx" / "0123abcd.onnx"
    q = int8_path(fp32)
    assert q.parent == fp32.parent and q.name.startswith("0123abcd.int8-") and q.suffix == ".onnx"
    assert q != fp32


def test_min_cosine_is_the_worst_row_and_skips_nan_rows():
    a = np.array([[1.0, 0.0], [0.0, 1.0], [np.nan, 0.0]], dtype=np.float32)
    b = np.array([[2.0, 0.0], [1.0, 1.0], [1.0, 0.0]], dtype=np.float32)  # unnormalized on purpose
    assert min_cosine(a, b) == pytest.approx(2**-0.5, abs=1e-6)
    assert min_cosine(a[:1], -a[:1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        min_cosine(a, b[:2])


def _fake_model(folder):
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "weights.bin").write_bytes(b"\x00" * 1000)
    (folder / "README.md").write_text("docs do not shape vectors")
    return folder


def test_the_fingerprint_is_remembered_by_size_and_mtime(tmp_path):
    model, memo = _fake_model(tmp_path / "model"), tmp_path / "cache"
    first = _fingerprint(model)
    assert _fingerprint(model, memo) == first  # the memo changes nothing about the hash
    assert (memo / "fingerprints.json").is_file()
    weights = model / "weights.bin"
    st = weights.stat()
    weights.write_bytes(b"\x01" * 1000)  # same size, mtime put back: the memo answers
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _fingerprint(model, memo) == first
    assert _fingerprint(model) != first  # without the memo the new bytes count
    weights.write_bytes(b"\x01" * 1001)  # a size change: hashed again
    changed = _fingerprint(model, memo)
    assert changed == _fingerprint(model) != first
    (model / "README.md").write_text("edited docs")
    assert _fingerprint(model, memo) == changed


def test_a_damaged_fingerprint_memo_is_ignored(tmp_path):
    model, memo = _fake_model(tmp_path / "model"), tmp_path / "cache"
    memo.mkdir()
    (memo / "fingerprints.json").write_text("{not json")
    assert _fingerprint(model, memo) == _fingerprint(model)
    assert json.loads((memo / "fingerprints.json").read_text())  # rewritten whole


def test_exact_top_k_is_brute_force_ranking():
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((300, 8)).astype(np.float32)
    queries = rng.standard_normal((5, 8)).astype(np.float32)
    got = exact_top_k(vecs, queries, 7)
    want = np.argsort(-(queries @ vecs.T), axis=1, kind="stable")[:, :7]
    assert np.array_equal(got, want)


def test_synthetic_data_is_seeded_and_shaped(tmp_path):
    words = _pseudo_words(500)
    assert len(set(words)) == 500 and all(w.endswith("q") and w.isalpha() for w in words)
    gen = SyntheticVectors(20, dim=32, latent=8, seed=1)
    v = gen.sample(100, seed=2)
    assert v.shape == (100, 32) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(v, SyntheticVectors(20, dim=32, latent=8, seed=1).sample(100, seed=2))
    pieces = write_synthetic_corpus(
        tmp_path, 450, CORPUS, seed=3, topic_share=1.0
    )  # no 200k-word background
    assert len(pieces) == 450 and len(list(tmp_path.glob("syn_*.txt"))) == 3  # 200 per document


def test_the_cold_start_command_points_at_the_settings_index(tmp_path):
    s = Settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i", model_path=str(tmp_path))
    cmd = ask_command(s, "How many?")
    assert cmd[-2:] == ["ask", "How many?"]
    assert cmd[cmd.index("--index") + 1] == str(tmp_path / "i")
    assert cmd[cmd.index("--model") + 1] == str(tmp_path)


def _report(**parts) -> dict:
    machine = {
        "cpus": 2,
        "cpu_model": "cpu",
        "ram_gib": 8,
        "load_average_at_start": [0.1],
        "python": "3",
    }
    return {
        "machine": machine,
        "model": {"name": "m", "backend": "onnx", "dim": 4},
        "total_s": 1.0,
        **parts,
    }


def test_the_report_prints_only_the_parts_that_ran():
    cold = {
        "backend": "onnx",
        "plain": {"question": "q", "p50_ms": 812.4, "p95_ms": 900.0, "n": 5, "cpu_p50_ms": 700},
        "quantity": {
            "question": "q2",
            "p50_ms": 950.0,
            "p95_ms": 990.0,
            "n": 5,
            "cpu_p50_ms": 800.0,
        },
        "heavy_modules_imported": [],
    }
    text = format_report(_report(cold=cold))
    assert (
        "plain question 812 (900) / 700 ms" in text
        and "quantity question 950 (990) / 800 ms" in text
    )
    assert "heavy modules imported: none" in text and "build throughput" not in text
    text = format_report(_report(backends={"texts": 10, "error": "onnx-int8: no quantizer"}))
    assert "not measured (onnx-int8: no quantizer)" in text
    speed = {
        "texts": 10,
        "onnx": {"build_per_s": 40.0, "encode_per_s": 50.0, "build_cpu_ms_per_chunk": 45.0},
        "onnx-int8": {"build_per_s": 100.0, "encode_per_s": 125.0, "build_cpu_ms_per_chunk": 15.0},
        "int8_build_speedup": 2.5,
        "int8_build_cpu_ratio": 3.0,
        "int8_encode_speedup": 2.5,
    }
    text = format_report(_report(backends=speed))
    assert "fp32 ONNX 40.0/s vs int8 100.0/s (x2.5)" in text
    assert "build CPU per chunk: fp32 45.0 ms vs int8 15.0 ms (x3.0)" in text


def test_bench_refuses_an_unknown_part():
    from qa.cli import cli

    result = CliRunner().invoke(cli, ["--corpus", str(CORPUS), "bench", "--parts", "real,warp"])
    assert result.exit_code == 1
    assert "warp" in result.output and "cold" in result.output


def test_bm25s_loads_without_numba_scipy_and_tqdm_which_stay_importable():
    code = (
        "import sys, json, importlib.util; from qa.cli import _light_bm25s; _light_bm25s();"
        "import bm25s; from bm25s.tokenization import Tokenizer;"
        "before = sorted(m for m in ('numba', 'scipy', 'tqdm') if m in sys.modules);"
        "later = [m for m in ('scipy', 'tqdm') if importlib.util.find_spec(m) and __import__(m)];"
        "print(json.dumps([before, later, bm25s.NUMBA_AVAILABLE]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    before, later, numba_used = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [] and numba_used is False
    assert later == ["scipy", "tqdm"]  # hidden only while bm25s loaded


def test_the_progress_bar_follows_stages(capsys):
    from qa.cli import _Bar

    bar = _Bar()
    bar("loading corpus", 0, 1)
    for done in (0, 5, 10):
        bar("embedding", done, 10)
    bar("indexing", 0, 1)
    bar("done", 1, 1)
    bar.close()
    err = capsys.readouterr().err
    assert (
        "loading corpus ..." in err
        and "indexing ..." in err
        and "10/10" in err
        and "done ..." not in err
    )
