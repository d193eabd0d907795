"""Settings refuse values that would silently change behaviour (issue 14, L9), naming the variable."""

from __future__ import annotations

import pytest

from qa.config import Settings
from qa.errors import ConfigError


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("QA_BM25_WEIGHT", "nan"),
        ("QA_RRF_K", "inf"),
        ("QA_CHUNK_SIZE", "-5"),
        ("QA_BM25_WEIGHT", "-1"),
        ("QA_DENSE_WEIGHT", "nan"),
        ("QA_K", "0"),
        ("QA_K", "-3"),
        ("QA_FETCH_FACTOR", "0"),
        ("QA_PORT", "70000"),
        ("QA_MAX_FILE_MB", "nan"),
        ("QA_BATCH_SIZE", "0"),
        ("QA_K", "five"),
    ],
)
def test_bad_numbers_are_refused_with_the_variable_name(var: str, raw: str, tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"QA_HOME": str(tmp_path), var: raw})
    assert var in str(err.value)


def test_good_values_pass(tmp_path) -> None:
    s = Settings.from_env({"QA_HOME": str(tmp_path), "QA_BM25_WEIGHT": "0.4", "QA_K": "7"})
    assert (s.bm25_weight, s.k) == (0.4, 7)


def test_unknown_source_is_an_error_not_an_abstention(tmp_path, fake_embedder) -> None:
    from qa.chat import Engine
    from qa.errors import UnknownDocumentError
    from qa.index import build_index
    from tests.conftest import make_home, settings_for

    home = make_home(
        tmp_path, {"a.txt": "Title A\n\nThe bridge opened in 2019 after four years of work."}
    )
    settings = settings_for(home)
    build_index(settings, fake_embedder)
    engine = Engine(settings, fake_embedder)
    with pytest.raises(UnknownDocumentError) as err:
        engine.ask("When did the bridge open?", sources=["../../etc/passwd"])
    assert "no such document" in str(err.value) and "etc/passwd" in str(err.value)
    assert engine.ask("When did the bridge open?", sources=["a.txt"]).citations
