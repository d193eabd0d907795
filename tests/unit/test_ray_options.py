"""The Ray options without Ray: settings, address checks and the no-work path (tests/integration/
test_ray.py runs the real cluster)."""

from __future__ import annotations

import socket
import sys

import pytest

from qa.config import Settings
from qa.errors import ClusterError, ConfigError


def test_ray_settings_from_env():
    s = Settings.from_env(
        {"QA_RAY_ADDRESS": "auto", "QA_RAY_WORKERS": "3", "QA_EMBED_THREADS": "1"}
    )
    assert (s.ray_address, s.ray_workers, s.embed_threads) == ("auto", 3, 1)
    assert Settings.from_env({}).ray_address is None
    with pytest.raises(ConfigError):
        Settings.from_env({"QA_RAY_WORKERS": "-1"})


def test_bad_and_unreachable_addresses_are_cluster_errors():
    from qa.embed_ray import _probe

    with pytest.raises(ClusterError, match="bad Ray address"):
        _probe("somehost:port")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        ClusterError, match=f"cannot reach a Ray cluster at 127.0.0.1:{port}"
    ) as err:
        _probe(f"127.0.0.1:{port}")
    assert "--ray" in err.value.hint


def test_nothing_to_embed_never_touches_ray():
    from qa.embed_ray import embed_on_ray

    before = "ray" in sys.modules
    got = embed_on_ray(Settings(ray_address="192.0.2.1:6379"), [], "onnx", 8)
    assert got.vectors.shape == (0, 8) and got.spans == []
    assert ("ray" in sys.modules) == before
