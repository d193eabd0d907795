"""Assertions shared by the unit tier (fake embedder) and the integration tier (real model)."""

from __future__ import annotations

import numpy as np

QUESTION = "How many North Korean troops were deployed?"


def check_stored_sentences(settings, embedder) -> None:
    """Every quotable sentence of every chunk is in the index, with the vector an answer scores it
    by: the chunk's own forward pass pooled over the sentence (what `encode_with_spans` gives)."""
    from qa.embed import embed_text
    from qa.index import load_index
    from qa.sentences import quotable_spans

    idx = load_index(settings)
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
        assert got_vecs.shape == (len(sp), embedder.dim)
        np.testing.assert_allclose(got_vecs, want, atol=2e-3)  # stored as float16
        np.testing.assert_allclose(np.linalg.norm(got_vecs, axis=1), 1.0, atol=2e-3)
        total += len(sp)
    assert total == idx.sentence_table.spans.shape[0] > 2 * len(chunks)


def cli_ask(s, question: str = QUESTION):
    """`qa ask --json` in-process against settings `s`; never a crash."""
    from click.testing import CliRunner

    from qa.cli import cli

    env = {"QA_CORPUS_DIR": str(s.corpus_dir), "QA_INDEX_DIR": str(s.index_dir)}
    r = CliRunner().invoke(cli, ["ask", "--json", question], env=env)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"qa ask crashed: {r.exception!r}") from r.exception
    return r
