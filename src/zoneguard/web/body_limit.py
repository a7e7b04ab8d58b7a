"""An ASGI middleware that refuses a request body larger than a limit with 413, before the
body is read: a declared ``Content-Length`` above the limit is answered at once; a body
without one (chunked) is counted as it streams and cut at the limit.

Why not trust the application to check: a framework reads the whole body before any
handler runs, so a 200 MB POST would be held in memory first. Here nothing past the limit
is ever handed on, and the 413 closes the connection, so the rest is never read.

Pure ASGI, no dependency: any server and any framework can wrap their app in it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Render = Callable[[str], bytes]
"""Turns the refusal's message into the 413's JSON body."""


def default_render(message: str) -> bytes:
    """``{"ok": false, "error": "body: ...", "fields": [{"field": "body", ...}]}``."""
    return json.dumps(
        {
            "ok": False,
            "error": f"body: {message}",
            "fields": [{"field": "body", "message": message}],
        }
    ).encode()


class BodyTooLarge(Exception):
    """Raised into the application's ``receive`` once the limit is passed (the 413 has been
    sent by then); the middleware swallows it."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, render: Render = default_render) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.app = app
        self.max_bytes = max_bytes
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, f"{declared} bytes declared")
            return
        await _Guarded(self, receive, send).run(scope)

    async def _refuse(self, send: Send, what: str) -> None:
        body = self.render(f"{what}; at most {self.max_bytes} bytes are accepted")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),  # the rest of the body is never read
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


class _Guarded:
    """One request whose body is counted as the application receives it."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self.limit = limit
        self._receive = receive
        self._send = send
        self.seen = 0
        self.started = False
        self.refused = False

    async def run(self, scope: Scope) -> None:
        try:
            await self.limit.app(scope, self.receive, self.send)
        except Exception:
            if not self.refused:
                raise
            # The application failed on the cut body after the 413 went out: nothing to add.

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit.max_bytes:
                self.refused = True
                if not self.started:
                    await self.limit._refuse(self._send, f"more than {self.limit.max_bytes} sent")
                raise BodyTooLarge(self.seen)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 was the answer
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None
