"""The index on disk and in memory: manifest, tables, dense (FAISS) and sparse (BM25) search, the
build, and the one status check. The only package that touches index files.

Names are imported on first use (PEP 562), so `import qa.index` loads neither faiss nor bm25s.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Index": "qa.index.load",
    "load_index": "qa.index.load",
    "build_index": "qa.index.build",
    "BuildReport": "qa.index.build",
    "Manifest": "qa.index.manifest",
    "read_manifest": "qa.index.manifest",
    "check_compatible": "qa.index.manifest",
    "verify_files": "qa.index.manifest",
    "FORMAT_VERSION": "qa.index.manifest",
    "make_tokenizer": "qa.index.bm25",
    "make_faiss_index": "qa.index.dense",
    "ann_params": "qa.index.dense",
    "index_status": "qa.index.status",
    "IndexStatus": "qa.index.status",
    "DocStatus": "qa.index.status",
}

__all__ = [
    "FORMAT_VERSION", "BuildReport", "DocStatus", "Index", "IndexStatus", "Manifest", "ann_params",
    "build_index", "check_compatible", "index_status", "load_index", "make_faiss_index",
    "make_tokenizer", "read_manifest", "verify_files",
]  # fmt: skip

if TYPE_CHECKING:
    from qa.index.bm25 import make_tokenizer
    from qa.index.build import BuildReport, build_index
    from qa.index.dense import ann_params, make_faiss_index
    from qa.index.load import Index, load_index
    from qa.index.manifest import (
        FORMAT_VERSION,
        Manifest,
        check_compatible,
        read_manifest,
        verify_files,
    )
    from qa.index.status import DocStatus, IndexStatus, index_status


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qa.index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
