"""The HTTP API beside the page: POST /api/ask, POST /api/chat, GET /api/status (docs/api.md).

/api/ask returns exactly `Answer.to_dict()`, the object `qa ask --json` prints. Errors are JSON
`{"error": ..., "hint": ...}` with a 4xx status; authentication and body limits are the guard's.
Answers are computed on FastAPI's thread pool, concurrently on the one shared engine; an answer the
engine has cached (qa/cache.py) is sent from the event loop without a thread hop, and every answer
is serialised by orjson.
"""

from functools import partial
from typing import Any

from qa.config import MODES, Settings
from qa.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    QAError,
    QuestionError,
)
from qa.web.session import MAX_QUESTION_CHARS, Conversations, keep_last, question_problem


def _models() -> tuple[type, type]:
    from pydantic import BaseModel, ConfigDict, Field

    class AskBody(BaseModel):
        model_config = ConfigDict(extra="forbid")
        question: str
        k: int | None = Field(default=None, ge=1, le=100)
        mode: str | None = Field(default=None, pattern="^(" + "|".join(MODES) + ")$")
        sources: list[str] | None = Field(default=None, max_length=1000)
        since: str | None = Field(default=None, max_length=40)  # YYYY-MM-DD, publication dates
        until: str | None = Field(default=None, max_length=40)

    class ChatBody(AskBody):
        conversation_id: str | None = Field(default=None, max_length=64)

    return AskBody, ChatBody


def _status_for(exc: QAError) -> int:
    if isinstance(exc, QuestionError):
        return 422
    if isinstance(exc, (IndexMissingError, IndexCorruptError, IndexMismatchError)):
        return 503  # the service cannot answer until the index is (re)built
    return 400


def json_response(body: dict) -> Any:
    """`body` as JSON bytes from orjson: FastAPI's default (jsonable_encoder, then json.dumps) costs
    more CPU than the cached answer it sends."""
    import orjson
    from fastapi.responses import Response

    return Response(orjson.dumps(body), media_type="application/json")


def error_response(status: int, message: str, hint: str = "") -> Any:
    from fastapi.responses import JSONResponse

    body = {"error": message} | ({"hint": hint} if hint else {})
    return JSONResponse(body, status_code=status)


def _options(body: Any) -> dict[str, Any]:
    """The engine's keyword arguments from a request body (dates only when given)."""
    dates = {k: v for k, v in (("since", body.since), ("until", body.until)) if v}
    return {"k": body.k, "sources": body.sources or None, "mode": body.mode, **dates}


def api_router(settings: Settings, engine: Any) -> Any:
    """The /api routes on the shared engine."""
    from fastapi import APIRouter, Request
    from starlette.concurrency import run_in_threadpool

    AskBody, ChatBody = _models()
    router = APIRouter(prefix="/api")
    conversations = Conversations(engine)

    def answer(fn: Any, body: Any) -> Any:
        problem = question_problem(body.question)
        if problem:
            code = 413 if len(body.question) > MAX_QUESTION_CHARS else 422
            return error_response(code, problem, f"send at most {MAX_QUESTION_CHARS:,} characters")
        try:
            return fn(body.question, **_options(body))
        except QAError as exc:
            return error_response(_status_for(exc), exc.message, exc.hint)

    def ask_in_thread(body: Any, fresh: bool) -> Any:
        a = answer(partial(engine.ask, fresh=fresh), body)
        return json_response(a.to_dict()) if hasattr(a, "to_dict") else a

    @router.post("/ask")
    async def ask(body: AskBody, request: Request) -> Any:
        """A cached answer straight from the event loop; anything else on the thread pool.
        `Cache-Control: no-cache` asks for the answer computed again (qa.web.load checks with it)."""
        fresh = "no-cache" in request.headers.get("cache-control", "").lower()
        hit = None
        if not fresh and not question_problem(body.question):
            hit = engine.cached(body.question, **_options(body))
        if hit is not None:
            return json_response(hit.to_dict())
        return await run_in_threadpool(ask_in_thread, body, fresh)

    @router.post("/chat")
    def chat(body: ChatBody) -> Any:
        if body.conversation_id and not conversations.has(body.conversation_id):
            return error_response(404, f"no conversation {body.conversation_id!r}",
                                  "start a new one: leave out conversation_id")  # fmt: skip
        cid, chat = conversations.get(body.conversation_id)
        with chat.lock:  # one question at a time per conversation: turns stay in order
            a = answer(chat.conv.ask, body)
            if not hasattr(a, "to_dict"):
                return a
            chat.asked += 1
            keep_last(chat.conv)  # the follow-up rules read only the last turns: memory bounded
        return json_response({"conversation_id": cid, "turn": chat.asked - 1, **a.to_dict()})

    @router.get("/status")
    def status() -> Any:
        from qa.web.status import raw_status

        st = raw_status(settings)
        return {**st.to_dict(), "fresh": st.fresh}  # the object `qa index status --json` prints

    return router


def install_error_handlers(app: Any) -> None:
    """Validation errors on /api as `{"error": ...}`: bad JSON 400, bad fields 422."""
    from fastapi.exceptions import RequestValidationError

    async def invalid(request: Any, exc: RequestValidationError) -> Any:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "the request body is not valid JSON",
                                  'send e.g. {"question": "how many troops were deployed?"}')  # fmt: skip
        where = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'body'}: {e.get('msg', '')}"
            for e in errors[:5]
        )
        return error_response(422, f"invalid request: {where}", "see docs/api.md")

    app.add_exception_handler(RequestValidationError, invalid)
