"""Load against a running app (`python -m qa.web.load --help`): many clients on /api/ask or on the
page's own Gradio endpoint, and one long chat (turn 3 against turn N). Prints one JSON object.

    python -m qa.web.load --url http://127.0.0.1:7860 api --clients 20 --seconds 60
    python -m qa.web.load --url http://127.0.0.1:7860 api --clients 20 --seconds 60 --distinct
    python -m qa.web.load --url http://127.0.0.1:7860 ui --clients 20 --seconds 60
    python -m qa.web.load --url http://127.0.0.1:7860 chat --turns 300
"""

from __future__ import annotations

import itertools
import json
import os
import random
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

QUESTIONS = (
    "How many North Korean troops were deployed?",
    "Why do North Korean soldiers choose suicide over capture?",
    "Who is Ryu Seong-hyeon?",
    "What is the price of bananas in Ecuador?",  # abstains
)


def pct(values: Sequence[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))] if v else float("nan")


def api_ask(url: str, question: str, session: Any, auth: Any = None, fresh: bool = False) -> dict:
    """POST /api/ask; `fresh`: with Cache-Control: no-cache, the answer computed again."""
    headers = {"cache-control": "no-cache"} if fresh else None
    r = session.post(f"{url}/api/ask", json={"question": question}, timeout=120, auth=auth,
                     headers=headers)  # fmt: skip
    r.raise_for_status()
    return r.json()


def ui_ask(url: str, question: str, session: Any, auth: Any = None) -> Any:
    """One question through the page's `answer` event over Gradio's HTTP API (a first turn)."""
    return ui_call(url, "answer", [question, 5, [], "hybrid", "", ""], session)


def ui_call(url: str, name: str, data: list, session: Any = None) -> Any:
    """One event of the page through Gradio's HTTP API (/gradio_api/call/NAME), its outputs."""
    import requests

    session = session or requests.Session()
    r = session.post(f"{url}/gradio_api/call/{name}", json={"data": data}, timeout=120)
    r.raise_for_status()
    r = session.get(f"{url}/gradio_api/call/{name}/{r.json()['event_id']}", timeout=900)
    r.raise_for_status()
    event = None
    for line in r.text.splitlines():
        if line.startswith("event: "):
            event = line[7:].strip()
        elif line.startswith("data: ") and event in ("complete", "error"):
            if event == "error":
                raise RuntimeError(f"error event: {line[6:200]}")
            return json.loads(line[6:])
    raise RuntimeError(f"no answer (last event {event!r})")


def run_load(url: str, ask: Callable, clients: int, seconds: float, questions: Sequence[str],
             auth: Any = None, distinct: bool = False, check: int = 100) -> dict:  # fmt: skip
    """`clients` threads asking for `seconds`; every answer compared with the single-client one.

    `distinct`: every question asked is new (a base question with a run-unique suffix), so no answer
    comes from the server's cache; afterwards `check` of them, drawn at random, are asked again by
    one client with Cache-Control: no-cache and compared with the answer given under load."""
    import requests

    with requests.Session() as s:
        single = {} if distinct else {q: ask(url, q, s, auth) for q in questions}
    results: list[tuple[float, str]] = []  # (latency, error or "" or "different")
    given: list[tuple[str, Any]] = []  # (question, answer) under load, for the distinct check
    lock = threading.Lock()
    numbers = itertools.count()
    run = secrets.token_hex(3)  # new questions in every run, also against the same server
    load_start, cpu0 = os.getloadavg()[0], time.process_time()
    start = time.monotonic()

    def client(n: int) -> None:
        rng = random.Random(n)
        with requests.Session() as s:
            while time.monotonic() - start < seconds:
                if distinct:
                    i = next(numbers)
                    q = f"{questions[i % len(questions)]} (variant {run}-{i})"
                else:
                    q = rng.choice(questions)
                t0 = time.perf_counter()
                try:
                    out = ask(url, q, s, auth)
                    err = "" if distinct or out == single[q] else "different"
                except Exception as exc:  # counted and reported
                    err, out = repr(exc)[:200], None
                with lock:
                    results.append((time.perf_counter() - t0, err))
                    if distinct and not err:
                        given.append((q, out))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    ok = [lat for lat, err in results if not err]
    checked, differing = _recheck(url, ask, given, check, auth) if distinct else (len(ok), 0)
    summary = _summary(results, elapsed, differing)
    return {"clients": clients, "seconds": round(elapsed, 1), "distinct": distinct,
            "requests": len(results), **summary, "checked": checked,
            "load_generator_cores": round((time.process_time() - cpu0) / elapsed, 2),  # this process
            "load_avg": [round(load_start, 2), round(os.getloadavg()[0], 2)]}  # fmt: skip


def _summary(results: list[tuple[float, str]], elapsed: float, differing: int) -> dict:
    """Errors, mismatches, rate and latency percentiles of (latency, error) results."""
    ok = [lat for lat, err in results if not err]
    return {
        "errors": sum(1 for _, e in results if e and e != "different"),
        "different": sum(1 for _, e in results if e == "different") + differing,
        "first_errors": sorted({e for _, e in results if e})[:3],
        "answers_per_s": round(len(ok) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(ok), 1) if ok else None,
        "p95_ms": round(1000 * pct(ok, 0.95), 1) if ok else None,
    }


def _recheck(url: str, ask: Callable, given: list, n: int, auth: Any) -> tuple[int, int]:
    """(checked, differing): `n` answers given under load against the same question asked again
    by one client with the server's cache bypassed."""
    import requests

    sample = random.Random(0).sample(given, min(n, len(given)))
    with requests.Session() as s:
        differing = sum(ask(url, q, s, auth, fresh=True) != out for q, out in sample)
    return len(sample), differing


def chat_turns(url: str, turns: int, auth: Any = None) -> dict:
    """One browser session asking `turns` questions in a row; latency and bytes of each answer."""
    from gradio_client import Client

    client = Client(url, auth=auth, verbose=False)
    lat, size = [], []
    for i in range(turns):
        q = QUESTIONS[i % 3]
        client.predict(q, api_name="/add_question")
        t0 = time.perf_counter()
        out = client.predict(q, 5, [], "hybrid", "", "", api_name="/answer")
        lat.append(time.perf_counter() - t0)
        size.append(len(json.dumps(out)))

    def window(i: int) -> dict:  # a few turns around turn i (1-based), to smooth out noise
        sl = slice(max(0, i - 3), i + 2)
        return {"turn": i, "median_ms": round(1000 * statistics.median(lat[sl]), 1),
                "bytes": size[i - 1]}  # fmt: skip

    return {"turns": turns, "early": window(3), "late": window(turns)}


@click.group()
@click.option("--url", default="http://127.0.0.1:7860", show_default=True)
@click.option("--auth", help="user:password (QA_AUTH of the server)")
@click.pass_context
def main(ctx: click.Context, url: str, auth: str | None) -> None:
    """Load a running qa app."""
    ctx.obj = {"url": url.rstrip("/"), "auth": tuple(auth.split(":", 1)) if auth else None}


@main.command()
@click.option("--clients", default=20, show_default=True)
@click.option("--seconds", default=60.0, show_default=True)
@click.option("--distinct", is_flag=True, help="every question new: none answered from the cache")
@click.option("--check", default=100, show_default=True,
              help="with --distinct: answers re-asked uncached by one client and compared")  # fmt: skip
@click.pass_obj
def api(obj: dict, clients: int, seconds: float, distinct: bool, check: int) -> None:
    """POST /api/ask from many clients."""
    out = run_load(obj["url"], api_ask, clients, seconds, QUESTIONS, obj["auth"], distinct, check)
    click.echo(json.dumps(out))


@main.command()
@click.option("--clients", default=20, show_default=True)
@click.option("--seconds", default=60.0, show_default=True)
@click.pass_obj
def ui(obj: dict, clients: int, seconds: float) -> None:
    """The page's answer event (Gradio queue) from many clients (no QA_AUTH)."""
    click.echo(json.dumps(run_load(obj["url"], ui_ask, clients, seconds, QUESTIONS)))


@main.command()
@click.option("--turns", default=300, show_default=True)
@click.pass_obj
def chat(obj: dict, turns: int) -> None:
    """One long chat: turn 3 against the last turn."""
    click.echo(json.dumps(chat_turns(obj["url"], turns, obj["auth"])))


if __name__ == "__main__":
    main()
