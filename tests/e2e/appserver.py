"""`python app.py` in a subprocess for end-to-end tests: its own QA_HOME, a free 127.0.0.1 port,
stopped through its own process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

AUTH = ("analyst", "s3cret-pass")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(home: Path, **env: str) -> dict[str, str]:
    out = {
        **os.environ,
        "QA_HOME": str(home),
        "QA_HOST": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    for name in ("QA_CORPUS_DIR", "QA_INDEX_DIR", "QA_AUTH"):
        if name not in env:
            out.pop(name, None)
    return out


class AppProcess:
    """The real app; `url` has no trailing slash. Raises with the log when it does not come up."""

    def __init__(self, home: Path, **env: str) -> None:
        import requests

        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"app-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py")],
                cwd=home,
                env=child_env(home, QA_PORT=str(self.port), **env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"app exited ({self.proc.returncode}): {self.log_text()[-3000:]}"
                )
            try:
                requests.get(self.url + "/", timeout=5)
                return
            except requests.ConnectionError:
                time.sleep(0.5)
        self.stop()
        raise AssertionError(f"app did not start: {self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
