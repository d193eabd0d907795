"""The edge: one ASGI middleware in front of the API and the Gradio page.

- Request bodies are capped (`MAX_BODY`) on every route, Gradio's included: a declared length over
  the cap is refused before a byte is read, a streamed (chunked) body as soon as it passes the cap
  (413); a streamed body within the cap is read here and handed on whole.
- With QA_AUTH: nothing but the login page and its assets is served before login (no config, no API
  description, no heartbeat); /api/* also accepts HTTP Basic with the same user:password.
- Failed logins (form or Basic) are throttled per client: after n failures the client waits
  `BASE_DELAY * 2**(n-1)` seconds (at most `MAX_DELAY`), answered 429 with Retry-After meanwhile.
- Heartbeat streams (Gradio holds one open per page) are capped per client.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from qa.config import Settings

MAX_BODY = 64 * 1024
BASE_DELAY = 0.5
MAX_DELAY = 300.0
MAX_HEARTBEATS = 16  # open heartbeat streams (pages) per client address
OPEN_PATHS = {"/", "/login", "/login/", "/favicon.ico", "/manifest.json", "/theme.css",
              "/gradio_api/theme.css", "/gradio_api/login_check", "/gradio_api/login_check/"}  # fmt: skip
OPEN_PREFIXES = ("/assets/", "/static/", "/gradio_api/static/", "/svelte/")


async def reply(send: Any, status: int, error: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": error}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


class Throttle:
    """Failed logins per client, with an exponential wait (bounded memory: oldest clients dropped)."""

    def __init__(
        self, base: float = BASE_DELAY, cap: float = MAX_DELAY, clients: int = 10_000
    ) -> None:
        self.base, self.cap, self.clients = base, cap, clients
        self._fails: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds this client must still wait before its next login attempt (0: go ahead)."""
        with self._lock:
            n, last = self._fails.get(client, (0, 0.0))
        if n == 0:
            return 0.0
        return max(0.0, last + min(self.cap, self.base * 2 ** (n - 1)) - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            n, _ = self._fails.pop(client, (0, 0.0))
            self._fails[client] = (n + 1, time.monotonic())
            while len(self._fails) > self.clients:
                self._fails.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._fails.pop(client, None)


API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.DOTALL)


def _stripping(send: Any) -> Any:
    """A `send` that buffers an HTML page and drops the API description Gradio embeds in it."""
    start: dict = {}
    parts: list[bytes] = []

    async def wrapped(msg: dict) -> None:
        if msg["type"] == "http.response.start":
            start.update(msg)
            return
        if msg["type"] != "http.response.body":
            return await send(msg)
        parts.append(msg.get("body", b""))
        if msg.get("more_body"):
            return
        body = API_INFO.sub(b"window.gradio_api_info = null;</script>", b"".join(parts))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return wrapped


class Guard:
    """ASGI middleware around the FastAPI app (see the module docstring)."""

    def __init__(
        self, app: Any, settings: Settings, gradio_app: Any, max_body: int = MAX_BODY
    ) -> None:
        self.app, self.auth, self.gradio = app, settings.auth, gradio_app
        self.max_body = max_body
        self.throttle = Throttle()
        self.heartbeats: dict[str, int] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await reply(send, 413, f"request body over the limit of {self.max_body} bytes")
        path, client = scope.get("path", ""), (scope.get("client") or ("?", 0))[0]
        if self.auth is not None and await self._refused(scope, path, client, headers, send):
            return
        if "/heartbeat/" in path:
            return await self._heartbeat(scope, receive, send, client)
        await self._limited(scope, receive, send)

    async def _refused(self, scope: dict, path: str, client: str, headers: dict, send: Any) -> bool:
        """True when the request was refused here (the answer sent); False when it may go on."""
        is_login = path in ("/login", "/login/") and scope["method"] == "POST"
        basic = headers.get("authorization", "")
        if is_login or (basic and path.startswith("/api/")):
            wait = self.throttle.wait(client)
            if wait > 0:
                retry = {"retry-after": str(max(1, round(wait + 0.5)))}
                await reply(send, 429, f"too many failed logins: retry in {wait:.1f} s", retry)
                return True
        if is_login:
            scope["qa.login"] = client  # the response tells success or failure
            return False
        if self._logged_in(headers):
            return False
        if basic and path.startswith("/api/"):
            self.throttle.failed(client)
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            if path == "/":  # the login page: Gradio embeds its API description; it goes
                scope["qa.strip_api"] = True
                scope["headers"] = [
                    (k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"
                ]
            return False
        www = {"www-authenticate": 'Basic realm="qa"'} if path.startswith("/api/") else {}
        await reply(
            send,
            401,
            "not logged in: log in on the page, or send HTTP Basic credentials (QA_AUTH)",
            www,
        )
        return True

    def _logged_in(self, headers: dict) -> bool:
        """A Gradio session cookie of a logged-in user, or valid HTTP Basic credentials."""
        tokens = getattr(self.gradio, "tokens", {})
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name.startswith("access-token") and value and value in tokens:
                return True
        kind, _, cred = headers.get("authorization", "").partition(" ")
        if kind.lower() != "basic" or not cred:
            return False
        try:
            user, _, password = base64.b64decode(cred, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        want_user, want_password = self.auth
        ok_user = secrets.compare_digest(user.encode(), want_user.encode())
        return ok_user & secrets.compare_digest(password.encode(), want_password.encode())

    async def _heartbeat(self, scope: dict, receive: Any, send: Any, client: str) -> None:
        if self.heartbeats.get(client, 0) >= MAX_HEARTBEATS:
            return await reply(send, 429, "too many open pages from this address")
        self.heartbeats[client] = self.heartbeats.get(client, 0) + 1
        try:
            await self._limited(scope, receive, send)
        finally:
            self.heartbeats[client] -= 1
            if not self.heartbeats[client]:
                del self.heartbeats[client]

    async def _limited(self, scope: dict, receive: Any, send: Any) -> None:
        """Run the app, a streamed body read first within the cap; login results counted."""
        headers = dict(scope["headers"])
        if b"content-length" not in headers and b"transfer-encoding" in headers:
            body = b""
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    return  # the client went away
                body += msg.get("body", b"")
                if len(body) > self.max_body:
                    return await reply(
                        send, 413, f"request body over the limit of {self.max_body} bytes"
                    )
                if not msg.get("more_body"):
                    break
            receive = _replay(body, receive)
        login = scope.get("qa.login")
        if scope.get("qa.strip_api"):
            send = _stripping(send)

        async def watched_send(msg: dict) -> None:
            if msg["type"] == "http.response.start" and login is not None:
                if msg["status"] < 300:
                    self.throttle.succeeded(login)
                elif msg["status"] in (400, 401, 403):
                    self.throttle.failed(login)
            await send(msg)

        await self.app(scope, receive, watched_send)


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` giving `body` once, then the connection's own messages (disconnect)."""
    sent = False

    async def wrapped() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped
