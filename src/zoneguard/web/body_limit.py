"""An ASGI middleware that refuses a request body above a size limit, before reading it.

uvicorn sets no limit of its own, and a route that calls ``await request.body()`` holds the
whole body in memory before it can refuse it: a 200 MB POST costs 200 MB, in the very process
that must keep its other duties (a worker's stop-losses) on time. Here:

- a declared ``Content-Length`` above the limit is answered 413 at once; the body is never
  asked for (so no ``100 Continue`` either);
- a body without one (chunked) is counted as the application reads it and cut the moment it
  passes the limit: 413, and the application's read fails with :class:`BodyTooLarge`;
- the 413 carries ``Connection: close``, so the server closes the connection instead of
  reading the rest of the body only to throw it away.

The answer is the error shape of our HTTP APIs, naming the field ``body``. The module
imports nothing of ours, so any ASGI application can use it.
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


class BodyTooLarge(Exception):
    """Raised from ``receive`` inside the application when the body passed the limit; the
    413 is already sent, so the application only has to stop."""


def too_large_body(max_body_bytes: int) -> dict[str, Any]:
    """The 413's JSON body (the shape of every 4xx of our APIs)."""
    message = f"larger than the limit of {max_body_bytes} bytes"
    return {
        "ok": False,
        "error": f"body: {message}",
        "fields": [{"field": "body", "message": message}],
    }


class BodyLimit:
    """Wraps an ASGI application; ``max_body_bytes`` is the largest body let through."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        if max_body_bytes < 0:
            raise ValueError(f"max_body_bytes must be >= 0, got {max_body_bytes}")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await refuse(send, self.max_body_bytes)
            return
        exchange = _CountedExchange(receive, send, self.max_body_bytes)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except BodyTooLarge:
            if not exchange.refused:
                raise


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None when absent or not a plain number (the HTTP
    server refuses a malformed one before the application runs)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
    return None


async def refuse(send: Send, max_body_bytes: int) -> None:
    """Send the 413, asking the server to close the connection after it."""
    body = json.dumps(too_large_body(max_body_bytes)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _CountedExchange:
    """``receive`` counting the body's bytes, ``send`` noting whether a response began."""

    def __init__(self, receive: Receive, send: Send, max_body_bytes: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = max_body_bytes
        self._seen = 0
        self._started = False
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            raise BodyTooLarge(self._limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > self._limit:
                if not self._started:
                    await refuse(self._send, self._limit)
                self.refused = True
                raise BodyTooLarge(self._limit)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 (or a cut-off response) is all this request gets
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)
