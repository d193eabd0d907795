"""The Gradio page: components and the events wiring them to `session` and `render`. No logic here.

The chat log is a `gr.HTML` whose value is only the newest message; transcript.js appends it. The
question travels in a hidden textbox (a component's value goes with its request, so a question typed
meanwhile cannot replace it); conversations live server-side in `gr.State`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from qa.config import MODES, Settings
from qa.errors import QAError
from qa.web import render
from qa.web.session import ChatSession, parse_click
from qa.web.status import index_view

log = logging.getLogger("qa.web")
STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = [
    "How many troops were deployed?",
    "Who is Ryu Seong-hyeon?",
    "Why do North Korean soldiers choose suicide over capture?",
    "What injuries did the two captured soldiers have?",
]


def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class Handlers:
    """The event functions, bound to one shared engine (each browser session has its ChatSession)."""

    def __init__(self, settings: Settings, engine: Any) -> None:
        self.settings, self.engine = settings, engine

    def session(self, sess: ChatSession | None) -> ChatSession:
        return sess or ChatSession(self.engine, self.settings)

    def add_question(self, question: str, sess: ChatSession | None) -> tuple:
        """Echo the question at once; `answer` follows with the question in `pending`."""
        sess = self.session(sess)
        q = (question or "").strip()
        return "", sess.question(q), q, sess

    def answer(
        self, question: str, sess: ChatSession | None, k: float, sources: Any, mode: str,
        since: str = "", until: str = "",
    ) -> tuple:  # fmt: skip
        import gradio as gr

        sess = self.session(sess)
        srcs = [s for s in (sources or []) if isinstance(s, str)] or None
        dates = {"since": (since or "").strip() or None, "until": (until or "").strip() or None}
        msg, panel = sess.ask(question, k=int(k), sources=srcs, mode=mode, **dates)
        return msg, sess, gr.skip() if panel is None else panel

    def pick_example(self, sess: ChatSession | None, evt: Any) -> tuple:
        import gradio as gr

        data = getattr(evt, "_data", None)
        text = data.get("example") if isinstance(data, dict) else None
        if not isinstance(text, str) or text not in EXAMPLES:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return self.add_question(text, sess)

    def open_citation(self, sess: ChatSession | None, evt: Any) -> tuple:
        """A click on [n] or a source. The payload is the page's: anything malformed is ignored."""
        import gradio as gr

        click = parse_click(getattr(evt, "_data", None))
        if click is None:
            return gr.skip(), gr.skip()
        if sess is None:
            return render.document_html(None, None, problem="Ask a question first."), gr.skip()
        doc, panel = sess.open(click.turn, click.kind, click.n)
        return doc, gr.skip() if panel is None else panel

    def new_chat(self) -> tuple:
        return "", None, render.sources_html(None, 0, {}), render.document_html(None, None)

    def refresh(self) -> tuple:
        import gradio as gr

        view = index_view(self.settings)
        return render.render("status.html", s=view), gr.Dropdown(choices=view.choices())

    def rebuild(self, progress: Any = None) -> tuple:
        """Rebuild the index (one at a time: the event's concurrency limit is 1), then reload."""
        from qa.web.server import build_note, rebuild_index

        try:
            report = rebuild_index(self.settings, self.engine, progress)
            note = render.note_html(build_note(report))
        except QAError as exc:
            note = render.note_html(str(exc), "qa-error", "Could not rebuild the index.")
        except Exception:
            log.exception("rebuilding the index failed")
            note = render.note_html(
                "The details are in the server log.", "qa-error", "Could not rebuild the index."
            )
        return (*self.refresh(), note)


def _layout(gr: Any, settings: Settings, first: Any) -> dict:
    """The components, by name."""
    c: dict[str, Any] = {"sess": gr.State(None), "pending": gr.Textbox(visible=False)}
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, elem_id="qa-header"):
            gr.HTML(render.header_html())
        with gr.Column(scale=2):
            c["status"] = gr.HTML(render.render("status.html", s=first), elem_id="qa-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            c["chat"] = gr.HTML("", html_template=render.transcript_template(EXAMPLES),
                                js_on_load=static_text("transcript.js"), elem_id="qa-chat")  # fmt: skip
            with gr.Row():
                c["box"] = gr.Textbox(elem_id="qa-question", show_label=False, lines=1, max_lines=4,
                                      placeholder="Ask a question about the documents…", scale=5,
                                      autofocus=True, submit_btn=False, max_length=2000)  # fmt: skip
                c["ask"] = gr.Button(
                    "Ask", variant="primary", scale=1, min_width=80, elem_id="qa-ask"
                )
                c["new"] = gr.Button("New chat", scale=1, min_width=80, elem_id="qa-new")
            _settings_panel(gr, settings, c, first.choices())
        with gr.Column(scale=2, min_width=360):
            c["sources"] = gr.HTML(render.sources_html(None, 0, {}), elem_id="qa-sources",
                                   js_on_load=static_text("sources.js"))  # fmt: skip
            c["viewer"] = gr.HTML(render.document_html(None, None), elem_id="qa-doc",
                                  js_on_load=static_text("viewer.js"))  # fmt: skip
    return c


def _settings_panel(gr: Any, settings: Settings, c: dict, choices: list) -> None:
    with gr.Accordion("Settings and index", open=False, elem_id="qa-settings"):
        with gr.Row():
            c["k"] = gr.Slider(1, 20, value=settings.k, step=1, label="Passages to retrieve",
                               elem_id="qa-k")  # fmt: skip
            c["mode"] = gr.Radio(list(MODES), value=settings.mode, label="Retrieval mode",
                                 elem_id="qa-mode")  # fmt: skip
        c["filter"] = gr.Dropdown(choices=choices, value=[], multiselect=True, elem_id="qa-filter",
                                  label="Search only these documents (empty: all)")  # fmt: skip
        with (
            gr.Row()
        ):  # a date range filters the sources by publication date (undated ones drop out)
            c["since"] = gr.Textbox(
                label="Published since (YYYY-MM-DD)", elem_id="qa-since", max_length=40
            )
            c["until"] = gr.Textbox(
                label="Published until (YYYY-MM-DD)", elem_id="qa-until", max_length=40
            )
        with gr.Row():
            c["rebuild"] = gr.Button("Rebuild index", elem_id="qa-rebuild", scale=1)
            c["note"] = gr.HTML("", elem_id="qa-rebuild-note", min_height=48)


def answer_concurrency() -> int:
    """How many answers the page computes at once (at least 32). The engine is thread-safe and an
    answer takes milliseconds, so waiting clients are better served side by side than queued behind
    `os.cpu_count()` workers: each queued event costs Gradio a status message to every event behind
    it whenever one starts (8 at a time: 15.7 ms of server CPU per answer; 32: 13.3 ms)."""
    return max(32, 4 * (os.cpu_count() or 1))


def _wire(gr: Any, h: Handlers, c: dict) -> None:
    ask_in = [c["pending"], c["sess"], c["k"], c["filter"], c["mode"], c["since"], c["until"]]
    ask_out = [c["chat"], c["sess"], c["sources"]]
    echo_out = [c["box"], c["chat"], c["pending"], c["sess"]]
    answer = {"show_progress": "hidden", "concurrency_limit": answer_concurrency(),
              "concurrency_id": "answer"}  # fmt: skip
    for trigger in (c["box"].submit, c["ask"].click):
        trigger(h.add_question, [c["box"], c["sess"]], echo_out, queue=False).then(
            h.answer, ask_in, ask_out, **answer
        )

    def pick_example(sess: ChatSession | None, evt: gr.EventData) -> tuple:
        return h.pick_example(sess, evt)

    def open_citation(sess: ChatSession | None, evt: gr.EventData) -> tuple:
        return h.open_citation(sess, evt)

    def rebuild(progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008 (Gradio's idiom)
        return h.rebuild(progress)

    # `from __future__ import annotations` hides the types Gradio looks for: name them explicitly.
    pick_example.__annotations__["evt"] = gr.EventData
    open_citation.__annotations__["evt"] = gr.EventData
    c["chat"].click(pick_example, [c["sess"]], echo_out, queue=False).then(
        h.answer, ask_in, ask_out, **answer
    )
    c["viewer"].click(
        open_citation, [c["sess"]], [c["viewer"], c["sources"]], show_progress="hidden"
    )
    panels = [c["chat"], c["sess"], c["sources"], c["viewer"]]
    c["new"].click(h.new_chat, None, panels, queue=False)
    c["rebuild"].click(rebuild, None, [c["status"], c["filter"], c["note"]],
                       show_progress_on=c["note"], concurrency_limit=1, concurrency_id="rebuild")  # fmt: skip


def build_app(settings: Settings, engine: Any = None) -> Any:
    """The Gradio Blocks page. `engine` is shared by every session; each session has its own Conversation."""
    # Gradio's queue recomputes a pandas summary of up to 10,000 past events after every event, for a
    # monitoring page this app does not serve: read when the queue is made (see server.make_app).
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(2**31))
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1")
    import gradio as gr

    from qa.chat import Engine

    h = Handlers(settings, engine or Engine(settings))
    with gr.Blocks(title="qa — cited answers from your documents", analytics_enabled=False) as demo:
        first = index_view(settings)
        c = _layout(gr, settings, first)
        _wire(gr, h, c)
        demo.load(h.refresh, None, [c["status"], c["filter"]], show_progress="hidden")
    return demo


def theme() -> Any:
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    # System fonts only: the default theme would fetch Google Fonts, and the app runs offline.
    return gr.themes.Soft(primary_hue="blue", neutral_hue="slate", font=system, font_mono=mono)
