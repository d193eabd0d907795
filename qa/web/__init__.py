"""The browser chat and the HTTP API (Gradio + FastAPI). Wiring only: answers come from `qa.chat`.

Modules: `render` (HTML from templates/), `session` (conversations, no Gradio types), `status` (the
index status line), `app` (the Gradio page), `api` (/api/*), `guard` (body cap, login, throttling),
`server` (index readiness, serving), `load` (a load generator). Nothing heavy is imported here.
"""

from __future__ import annotations


def main() -> None:
    """`python app.py`: serve with settings from QA_* variables."""
    from qa.web.server import main as _main

    _main()


def serve(settings) -> None:  # noqa: ANN001 (Settings; imported lazily)
    from qa.web.server import serve as _serve

    _serve(settings)
