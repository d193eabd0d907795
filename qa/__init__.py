"""qa: offline, cited question answering over a local document corpus.

Nothing heavy is imported here: the model, FAISS and Gradio load on first use.
"""

__version__ = "0.1.0"
