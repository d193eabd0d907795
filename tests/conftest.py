"""Shared fixtures: the fake and the real embedder, a fixture copy of the seed articles, a real index built once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
# Tests never read the user's corpus/: a fixture copy of the four seed articles stands in for it.
CORPUS = Path(__file__).resolve().parent / "fixtures" / "seed"
ARTIFACTS = ROOT / "test-artifacts"


def bench_dir() -> Path:
    """Shared benchmarks (SQuAD 2.0 dev, SciFact): QA_BENCH_DIR, default ../shared/bench."""
    return Path(os.environ.get("QA_BENCH_DIR") or ROOT.parent / "shared" / "bench").resolve()


def need_bench(name: str) -> Path:
    """The benchmark folder `name`, or a loud skip naming the variable that points at it."""
    path = bench_dir() / name
    if not path.is_dir():
        pytest.skip(
            f"benchmark {name!r} not found at {path}: set QA_BENCH_DIR to the folder holding it"
        )
    return path


def chromium_path() -> str | None:
    """The browser for end-to-end tests: QA_CHROMIUM, else `chromium` on PATH."""
    return (
        os.environ.get("QA_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture()
def fake_embedder():
    """The deterministic no-model embedder of unit tests (tests/fakes.py)."""
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()


@pytest.fixture(scope="session")
def embedder():
    from qa.config import Settings
    from qa.embed import shared_embedder

    return shared_embedder(Settings())


def make_home(base: Path, files: dict[str, str] | None = None, copy_corpus: bool = False) -> Path:
    """A project folder with corpus/ (the fixture seed articles and/or inline files) and an empty index/."""
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
    from qa.index import build_index

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
