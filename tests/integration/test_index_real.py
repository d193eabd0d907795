"""The index built with the real model: its manifest names the model, and stored sentence vectors
are the model's forward pass over each passage pooled per sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.index import load_index


def test_manifest_names_the_real_model(real_settings):
    m = json.loads((real_settings.index_dir / "manifest.json").read_text())
    assert m["model"] == {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "dim": 384,
        "normalized": True,
    }


def test_dense_search_matches_brute_force_with_the_model(real_settings, embedder):
    idx = load_index(real_settings)
    q = embedder.encode(["North Korean soldiers ordered to commit suicide"])[0]
    got = [cid for cid, _ in idx.dense_search(q, 10)]
    brute = np.argsort(-(np.asarray(idx.vectors) @ q), kind="stable")[:10].tolist()
    assert got == brute


@pytest.mark.slow
def test_sentences_are_stored_with_exact_spans_and_their_pooled_vectors(real_settings, embedder):
    """Every quotable sentence of every chunk is in the index, with the vector an answer scores it by:
    the chunk's own forward pass pooled over the sentence (what `encode_with_spans` gives)."""
    from qa.embed import embed_text
    from qa.sentences import quotable_spans

    idx = load_index(real_settings)
    chunks = list(idx.chunks)
    texts = [embed_text(c) for c in chunks]
    shifts = [len(t) - len(c.text) for t, c in zip(texts, chunks, strict=True)]
    spans = [quotable_spans(c) for c in chunks]
    _, pooled = embedder.encode_with_spans(
        texts, [[(a + d, b + d) for a, b in sp] for sp, d in zip(spans, shifts, strict=True)]
    )
    total = 0
    for c, sp, want in zip(chunks, spans, pooled, strict=True):
        got_spans, got_vecs = idx.sentences(c.chunk_id)
        assert got_spans.tolist() == [list(x) for x in sp]
        for a, b in got_spans.tolist():
            text = c.text[a:b]
            assert text == text.strip() and len(text.split()) >= 4
        assert got_vecs.shape == (len(sp), 384)
        np.testing.assert_allclose(got_vecs, want, atol=2e-3)  # stored as float16
        np.testing.assert_allclose(np.linalg.norm(got_vecs, axis=1), 1.0, atol=2e-3)
        total += len(sp)
    assert total == idx.sentence_table.spans.shape[0] > 2 * len(chunks)


@pytest.mark.slow
def test_a_sentence_vector_is_its_passage_read_in_context(real_settings, embedder):
    """Pooled, not embedded alone: close to the stand-alone vector, and closer to its own passage."""
    idx = load_index(real_settings)
    c = idx.chunks[1]
    spans, vecs = idx.sentences(1)
    alone = embedder.encode([c.text[a:b] for a, b in spans.tolist()])
    own = np.asarray(idx.vectors[1])
    cos_alone = np.sum(vecs * alone, axis=1)
    assert np.all(cos_alone > 0.5), cos_alone
    assert np.mean(vecs @ own) > np.mean(alone @ own)
