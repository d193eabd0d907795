"""The page's answer event under concurrency, over real HTTP on an in-process Gradio server (no model):
answers run side by side instead of queueing behind the default workers, the rebuild stays one at a
time, and Gradio's per-event analytics summary is off."""

from __future__ import annotations

import threading

import pytest

from qa.answer import Answer
from tests.conftest import make_home, settings_for
from tests.e2e.appserver import free_port

pytest.importorskip("requests")

PARTIES = 10  # answers that must be running at the same moment for any of them to finish


class BarrierEngine:
    """An engine whose answers finish only when PARTIES of them are being computed at once."""

    index = None

    def __init__(self) -> None:
        self.barrier = threading.Barrier(PARTIES, timeout=30)

    def ask(self, question: str, **_: object) -> Answer:
        self.barrier.wait()  # BrokenBarrierError (an error event) when fewer run together
        return Answer(question, "No answer in the documents.", [], abstained=True)


@pytest.fixture()
def page(tmp_path):
    from qa.web.app import build_app

    home = make_home(tmp_path, files={"a.txt": "Bridge\nThe bridge reopened on Tuesday.\n"})
    demo = build_app(settings_for(home), BarrierEngine())
    demo.queue(default_concurrency_limit=2)  # what server.make_app sets on a 2-core machine
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield demo, f"http://127.0.0.1:{port}"
    demo.close()


def test_answers_run_side_by_side_and_the_rebuild_alone(page):
    from qa.web.load import ui_call

    demo, url = page
    outs: list[object] = []
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            outs.append(ui_call(url, "answer", [f"question {i}?", 5, [], "hybrid", "", ""]))
        except Exception as exc:  # collected: the assertion shows them
            errors.append(repr(exc)[:200])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARTIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(outs) == PARTIES, errors
    assert all("No answer in the documents." in str(o[0]) for o in outs)

    fns = {f.api_name: f for f in demo.fns.values()}
    assert fns["rebuild"].concurrency_limit == 1
    answers = [f for f in demo.fns.values() if f.name == "answer"]
    assert len(answers) == 3 and {f.concurrency_id for f in answers} == {"answer"}
    assert all(f.concurrency_limit >= 20 for f in answers)
    # the pandas summary of past events (monitoring page only) is never recomputed
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY >= 2**31
