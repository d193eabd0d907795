"""The corpus: documents with their metadata, loaded from many formats, and their exact chunks.

Layout: `documents` (records), `files` (which files, and why not the others), `loaders/` (one small
module per format, registered by suffix), `load` (load_corpus, read_document), `chunking` (chunks
with exact offsets), `dedupe` (same-story groups). Nothing heavy is imported here.
"""

from qa.corpus.chunking import SEPARATORS, _splitter, chunk_documents, chunk_text
from qa.corpus.dedupe import group_duplicates
from qa.corpus.documents import (
    Chunk,
    Document,
    Part,
    Skipped,
    iso_date,
    published_between,
    sha256_bytes,
    sha256_text,
)
from qa.corpus.files import corpus_files, name_problem, scan_corpus
from qa.corpus.load import MAX_FILE_BYTES, is_blank, load_corpus, read_document
from qa.corpus.loaders import LOADERS, register_loader
from qa.corpus.loaders.txt import decode_text, first_line_title

__all__ = [
    "LOADERS", "MAX_FILE_BYTES", "SEPARATORS", "Chunk", "Document", "Part", "Skipped",
    "_splitter", "chunk_documents", "chunk_text", "corpus_files", "decode_text", "first_line_title", "group_duplicates",
    "is_blank", "iso_date", "load_corpus", "name_problem", "published_between", "read_document", "register_loader", "scan_corpus",
    "sha256_bytes", "sha256_text",
]  # fmt: skip
