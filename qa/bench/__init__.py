"""`qa bench`: the cost of every step, measured in one run on the real model.

Parts (qa/bench/<part>.py), each optional (`--parts`):

- real: the real model on real text (the corpus's articles varied into a few thousand chunks):
  raw encode against `build_index`, an unchanged rebuild, a one-document change, latency, and
  LangChain's FAISS store over the same chunks with the same model.
- backends: build throughput with fp32 ONNX against int8 on the same texts in the same process.
- scale: N chunks (the real articles plus seeded synthetic ones, vectors shaped like sentence
  embeddings) built by the real pipeline; a fresh process measures start-up, index load, latency
  end to end and per step, recall against exact search, and its peak memory.
- cold: `qa ask` in fresh processes (plain and quantity questions), and the heavy modules it imports.

Nothing here is imported by the rest of qa; results are plain dicts (JSON at the CLI).
"""

from qa.bench.common import PIECES_PER_DOC, QUESTIONS, SCALE_CHUNK_SIZE, peak_rss_mb
from qa.bench.report import PARTS, format_report, run_bench
from qa.bench.scale import scale_settings
from qa.bench.scale_worker import bm25_recall, exact_top_k, recall_at_k
from qa.bench.synthetic import (
    SyntheticEmbedder,
    SyntheticVectors,
    n_topics_for,
    synthetic_vocabulary,
    word_queries,
    write_synthetic_corpus,
)

__all__ = [
    "PARTS",
    "PIECES_PER_DOC",
    "QUESTIONS",
    "SCALE_CHUNK_SIZE",
    "SyntheticEmbedder",
    "SyntheticVectors",
    "bm25_recall",
    "exact_top_k",
    "format_report",
    "n_topics_for",
    "peak_rss_mb",
    "recall_at_k",
    "run_bench",
    "scale_settings",
    "synthetic_vocabulary",
    "word_queries",
    "write_synthetic_corpus",
]
