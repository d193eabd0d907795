"""The approximate (IVF) path end to end, on seeded synthetic vectors at a modest size with a low
`ann_threshold`: build through the real pipeline, save, load, search, recall against brute force,
source filters, answers. Also `qa bench` end to end. Counts and recall are asserted, never times."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from qa.bench import (
    PIECES_PER_DOC,
    SyntheticEmbedder,
    SyntheticVectors,
    exact_top_k,
    recall_at_k,
    scale_settings,
    write_synthetic_corpus,
)
from qa.index import build_index, dense, load_index, make_faiss_index
from tests.conftest import CORPUS

N = 20_000


@pytest.fixture(scope="module")
def ann(tmp_path_factory, embedder):
    """A 20k-chunk index over the real articles plus synthetic ones, built with IVF."""
    home = tmp_path_factory.mktemp("ann")
    settings = scale_settings(home, ann_threshold=5_000)
    settings.corpus_dir.mkdir(parents=True)
    for p in CORPUS.iterdir():
        shutil.copy(p, settings.corpus_dir / p.name)
    pieces = write_synthetic_corpus(settings.corpus_dir, N, CORPUS, seed=3)
    gen = SyntheticVectors(N // 200, seed=3)
    vectors = gen.sample(len(pieces), seed=4)
    report = build_index(
        settings, SyntheticEmbedder(embedder, {t: i for i, (_, t) in enumerate(pieces)}, vectors)
    )
    return settings, report, gen


def test_index_type_is_chosen_by_size(ann, real_settings):
    settings, report, _ = ann
    assert report.index_type.startswith("IVF") and "+rerank" in report.index_type
    assert report.chunks > N and report.embedded == report.chunks  # real articles + synthetic
    assert load_index(real_settings).manifest.index_type == "FlatIP"  # small corpora stay exact
    v = SyntheticVectors(8, seed=1).sample(2_000, seed=2)
    assert make_faiss_index(v, settings.with_(ann_threshold=2_001))[1] == "FlatIP"
    assert make_faiss_index(v, settings.with_(ann_threshold=2_000))[1].startswith("IVF")


def test_recall_against_brute_force(ann):
    settings, _, gen = ann
    idx = load_index(settings)
    assert idx.approximate and idx.faiss.ntotal == len(idx)
    queries = gen.sample(200, seed=99)
    assert recall_at_k(idx, queries, 10) >= 0.95
    # scores are exact cosines (re-ranked from the stored vectors), best first
    hits = idx.dense_search(queries[0], 20)
    ids = np.array([i for i, _ in hits])
    assert np.allclose([s for _, s in hits], np.asarray(idx.vectors)[ids] @ queries[0], atol=1e-5)
    assert all(a[1] >= b[1] for a, b in zip(hits, hits[1:], strict=False))


def test_bm25_scores_match_bm25s(ann):
    settings, _, _ = ann
    idx = load_index(settings)
    for q in ("North Korean troops deployed", "the report said officials", "zzzz unknown"):
        ids = idx.tokenizer.tokenize(
            [q], update_vocab="never", return_as="ids", show_progress=False
        )[0]
        ids = [i for i in ids if i != idx.tokenizer.word_to_id.get("")]
        if ids:
            assert np.allclose(idx._bm25_scores(ids), idx.bm25.get_scores_from_ids(ids), atol=1e-4)
        got = idx.bm25_search(q, 20)
        ref = idx.bm25.get_scores_from_ids(ids) if ids else np.zeros(len(idx))
        best = np.sort(ref[ref > 0])[::-1][:20]
        assert np.allclose([s for _, s in got], best, atol=1e-4)


def test_source_filter_on_the_approximate_index(ann, monkeypatch):
    settings, _, gen = ann
    idx = load_index(settings)
    q = gen.sample(1, seed=123)[0]
    wanted = ["syn_000003.txt", "syn_000042.txt"]
    mask = idx.mask_for(wanted)
    allowed = np.flatnonzero(mask)
    assert allowed.size == 2 * PIECES_PER_DOC
    exact = allowed[exact_top_k(np.asarray(idx.vectors)[allowed], q[None, :], 10)[0]]
    # a narrow filter is searched exactly
    got = [cid for cid, _ in idx.dense_search(q, 10, mask)]
    assert got == exact.tolist()
    # a wide filter goes through the IVF index with a selector: only allowed chunks come back
    monkeypatch.setattr(dense, "EXACT_FILTER_MAX", 10)
    got = idx.dense_search(q, 10, mask)
    assert got and all(idx.chunks[cid].doc_id in wanted for cid, _ in got)
    assert len(set(c for c, _ in got) & set(exact.tolist())) >= 8
    assert idx.dense_search(q, 10, idx.mask_for(["no-such-doc.txt"])) == []


def test_answers_from_the_approximate_index(ann, embedder):
    from qa.chat import Engine

    settings, _, _ = ann
    engine = Engine(settings, embedder)
    answer = engine.ask("How many North Korean troops were deployed to Russia?")
    assert not answer.abstained
    # Every article giving a deployment figure is found among 20k chunks, and every quote is exact.
    # (Synthetic chunks are word salad from the corpus vocabulary, so one may be quoted as well.)
    real = {p.name for p in CORPUS.iterdir()}
    assert real <= {c.source for c in answer.citations}
    for c in answer.citations:
        assert (settings.corpus_dir / c.source).read_text(encoding="utf-8")[
            c.start : c.end
        ] == c.text
    only = engine.ask("troops", sources=["syn_000001.txt"], mode="dense")
    assert all(c.source == "syn_000001.txt" for c in only.citations + only.closest)


@pytest.mark.slow
def test_bench_cli_runs_end_to_end(tmp_path):
    from qa.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "--corpus",
            str(CORPUS),
            "bench",
            "--chunks",
            "2000",
            "--texts",
            "100",
            "--queries",
            "12",
            "--workdir",
            str(tmp_path),
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"machine", "model", "real", "scale", "total_s"} <= set(out)
    real, scale = out["real"], out["scale"]
    for key in (
        "raw_encode_per_s",
        "build_per_s",
        "build_vs_raw",
        "unchanged_rebuild_s",
        "one_doc_changed_embedded",
        "ask",
        "retrieve",
        "langchain",
    ):
        assert key in real
    assert real["unchanged_rebuild_embedded"] == 0 and real["unchanged_rebuild_skipped_work"]
    assert real["one_doc_changed_embedded"] == real["one_doc_changed_doc_chunks"] >= 1
    assert real["build_embedded"] == real["texts"]
    for key in (
        "import_s",
        "model_load_s",
        "index_load_s",
        "ask",
        "dense_search",
        "embed_query",
        "peak_rss_mb",
        "recall_at_10",
        "index_type",
        "build_s",
        "langchain",
    ):
        assert key in scale
    assert (
        scale["chunks"] == 2000 and scale["index_type"] == "FlatIP" and scale["recall_at_10"] == 1.0
    )
    assert {"p50_ms", "p95_ms"} <= set(scale["ask"]) and scale["peak_rss_mb"] > 0
    assert {"build_s", "query", "query_p50_ratio_langchain_over_ours"} <= set(real["langchain"])
    assert not list(tmp_path.iterdir())  # temporary indexes are removed
