"""`python -m qa.answer.train_reader` on a tiny slice of SQuAD 2.0 dev (two short articles of 01-17,
64 pairs, one step): it writes a reader folder the runtime loads and answers with."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import make_home, need_bench, settings_for

ARTICLES = ("04_sky_united_kingdom.txt", "11_amazon_rainforest.txt")


@pytest.mark.slow
def test_train_reader_writes_a_loadable_reader_folder(tmp_path, embedder):
    from qa.answer import train_reader
    from qa.answer.reader import Reader
    from qa.chat import Engine
    from qa.index import build_index

    bench = need_bench("squad2-dev")
    home = make_home(tmp_path / "home")
    for name in ARTICLES:
        shutil.copy(bench / "corpus" / name, home / "corpus" / name)
    build_index(settings_for(home), embedder)
    out = tmp_path / "reader"
    args = ["--corpus", str(home / "corpus"), "--index", str(home / "index")]
    args += ["--questions", str(bench / "questions.jsonl"), "--out", str(out)]
    args += ["--articles", "4", "--every", "4", "--eval-articles", "11", "--eval-every", "8"]
    args += ["--max-pairs", "64", "--steps", "1", "--batch", "8"]
    assert train_reader.main(args) == 0

    info = json.loads((out / "qa-reader.json").read_text(encoding="utf-8"))
    assert info["version"] == 1 and info["top_n"] == train_reader.TOP_N
    assert 0 < info["pairs"] <= 64 and 0.0 <= info["threshold"] <= 1.0
    assert "SQuAD 2.0 dev articles 4" in info["trained_on"]
    held_out = info["metrics"]["articles 11"]
    assert held_out["questions"] > 0 and 0.0 <= held_out["reader_top1"] <= 1.0
    assert not (out / ".work").exists()  # checkpoint and candidates removed at the end

    reader = Reader(out)
    logits = reader.logits("Who owns Sky?", ["Sky is owned by Comcast.", "The river is long."])
    assert logits.shape == (2,) and np.isfinite(logits).all()
    q = "What is the Amazon rainforest also known as?"
    for threshold, abstains in ((1.01, True), (0.0, False)):  # its threshold decides, end to end
        (out / "qa-reader.json").write_text(json.dumps({**info, "threshold": threshold}))
        answer = Engine(settings_for(home, reader=str(out)), embedder).ask(q)
        assert answer.abstained is abstains and bool(answer.quotes) is not abstains
