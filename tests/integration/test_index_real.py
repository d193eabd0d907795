"""The index built with the real model: its manifest names the model, and stored sentence vectors
are the model's forward pass over each passage pooled per sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.index import load_index
from tests.checks import check_stored_sentences


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
    """Stored sentence spans and pooled vectors equal what the embedder gives (tests/checks.py)."""
    check_stored_sentences(real_settings, embedder)
    assert embedder.dim == 384


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
