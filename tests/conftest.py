"""Shared fixtures: the real model, the real corpus, a real index built once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def embedder():
    from qa.config import Settings
    from qa.embed import shared_embedder

    return shared_embedder(Settings())


def make_home(base: Path, files: dict[str, str] | None = None, copy_corpus: bool = False) -> Path:
    """A project folder with corpus/ (the real articles and/or inline files) and an empty index/."""
    (base / "corpus").mkdir(parents=True, exist_ok=True)
    if copy_corpus:
        for p in sorted(CORPUS.iterdir()):
            if p.is_file():
                shutil.copy(p, base / "corpus" / p.name)
    for name, text in (files or {}).items():
        (base / "corpus" / name).write_text(text, encoding="utf-8")
    return base


def settings_for(home: Path, **kw):
    from qa.config import Settings

    return Settings(corpus_dir=home / "corpus", index_dir=home / "index", **kw)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory, embedder):
    """Settings of a private copy of the real corpus with its index built (shared, read-only)."""
    from qa.store import build_index

    home = make_home(tmp_path_factory.mktemp("real"), copy_corpus=True)
    settings = settings_for(home)
    build_index(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def engine(real_settings, embedder):
    from qa.chat import Engine

    return Engine(real_settings, embedder)


@pytest.fixture()
def fresh_home(tmp_path):
    """A writable copy of the real corpus, no index yet."""
    return make_home(tmp_path, copy_corpus=True)
