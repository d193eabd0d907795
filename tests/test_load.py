"""Load: 20 concurrent clients drive the real app over Gradio's HTTP API on 127.0.0.1 for a bounded
time. Zero errors, and every answer identical to the single-client answer. Latency is printed
(p50/p95), never asserted."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time

import pytest

from tests.conftest import make_home
from tests.test_security import AppProcess

requests = pytest.importorskip("requests")

CLIENTS = 20
WINDOW_S = 30.0  # clients start new questions only within this window
MAX_PER_CLIENT = 5  # and at most this many each: at most 100 requests
QUESTIONS = [
    "How many North Korean troops were deployed?",
    "Why do North Korean soldiers choose suicide over capture?",
    "Who is Ryu Seong-hyeon?",
    "What is the price of bananas in Ecuador?",  # abstains
]


def ask(url: str, question: str, session: requests.Session) -> list:
    """One question through `/gradio_api/call/answer` (a fresh Gradio session: a first turn)."""
    r = session.post(
        f"{url}/gradio_api/call/answer", json={"data": [question, 5, [], "hybrid"]}, timeout=60
    )
    r.raise_for_status()
    event_id = r.json()["event_id"]
    r = session.get(f"{url}/gradio_api/call/answer/{event_id}", timeout=900)
    r.raise_for_status()
    event, data = None, None
    for line in r.text.splitlines():
        if line.startswith("event: "):
            event = line[7:].strip()
        elif line.startswith("data: ") and event in ("complete", "error"):
            data = line[6:]
            break
    if event != "complete" or data is None:
        raise RuntimeError(f"event {event!r}: {data!r}")
    return json.loads(data)


@pytest.mark.slow
def test_twenty_concurrent_clients_get_the_single_client_answers(tmp_path):
    home = make_home(tmp_path, copy_corpus=True)
    app = AppProcess(home)
    try:
        with requests.Session() as s:
            single = {q: ask(app.url, q, s) for q in QUESTIONS}
        for q, out in single.items():
            assert "qa-answer" in json.dumps(out), q  # a rendered answer, not an error message
        results: list[tuple[str, list | None, float, str]] = []
        lock = threading.Lock()
        start = time.monotonic()

        def client(n: int) -> None:
            rng = random.Random(n)
            with requests.Session() as s:
                for _ in range(MAX_PER_CLIENT):
                    if time.monotonic() - start > WINDOW_S:
                        break
                    q = rng.choice(QUESTIONS)
                    t0 = time.perf_counter()
                    try:
                        out, err = ask(app.url, q, s), ""
                    except Exception as exc:  # counted, reported, and fails the test below
                        out, err = None, repr(exc)
                    with lock:
                        results.append((q, out, time.perf_counter() - t0, err))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=1800)
        elapsed = time.monotonic() - start
        assert not any(t.is_alive() for t in threads), "clients still waiting"
        errors = [(q, err) for q, _, _, err in results if err]
        different = [q for q, out, _, err in results if not err and out != single[q]]
        lat = sorted(x for _, _, x, err in results if not err)
        if lat:
            p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
            print(
                f"\nload: {CLIENTS} clients, {len(results)} requests in {elapsed:.1f} s "
                f"({len(results) / elapsed:.2f} answers/s), latency p50 {statistics.median(lat):.2f} s, "
                f"p95 {p95:.2f} s, max {lat[-1]:.2f} s"
            )
        assert len(results) >= CLIENTS
        assert errors == []
        assert different == []
        # the app is still healthy afterwards
        with requests.Session() as s:
            assert ask(app.url, QUESTIONS[0], s) == single[QUESTIONS[0]]
    finally:
        app.stop()
