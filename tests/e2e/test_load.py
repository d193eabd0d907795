"""Load against the real app on 127.0.0.1 (qa.web.load): many clients on /api/ask and on the page's
Gradio endpoint get the single-client answers with zero errors; a long chat's answers do not grow.
Latency is printed, never asserted (speed targets live in `qa bench` and docs/api.md)."""

from __future__ import annotations

import pytest

from tests.conftest import make_home
from tests.e2e.appserver import AppProcess

pytest.importorskip("requests")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    proc = AppProcess(make_home(tmp_path_factory.mktemp("load"), copy_corpus=True))
    yield proc
    proc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("where", ["api", "ui"])
def test_twenty_concurrent_clients_get_the_single_client_answers(app, where):
    from qa.web.load import QUESTIONS, api_ask, run_load, ui_ask

    out = run_load(app.url, api_ask if where == "api" else ui_ask, 20, 10.0, QUESTIONS)
    print(f"\nload {where}: {out}")
    assert out["requests"] >= 20
    assert out["errors"] == 0 and out["different"] == 0, out["first_errors"]


@pytest.mark.slow
def test_twenty_clients_asking_only_new_questions_get_what_one_client_gets(app):
    """--distinct: nothing from the cache; sampled answers match one client's uncached answer."""
    from qa.web.load import QUESTIONS, api_ask, run_load

    out = run_load(app.url, api_ask, 20, 10.0, QUESTIONS, distinct=True, check=30)
    print(f"\nload api --distinct: {out}")
    assert out["requests"] >= 20 and out["checked"] == 30
    assert out["errors"] == 0 and out["different"] == 0, out["first_errors"]


@pytest.mark.slow
def test_answer_cost_does_not_grow_with_the_chat(app):
    """L4: the page receives only the new message; turn 60's reply is as small as turn 3's."""
    from qa.web.load import chat_turns

    out = chat_turns(app.url, 60)
    print(f"\nchat: {out}")
    early, late = out["early"], out["late"]
    # the same question (turn 3 and 60 both ask QUESTIONS[2]); only the turn number differs
    assert late["bytes"] <= early["bytes"] + 200, out
