"""The live feed behind ``GET /api/events`` (Server-Sent Events).

One task per app process reads what changed from the database and fans it out to every
open stream. It wakes at once when this process commits a change (:meth:`notify`) and
otherwise looks every ``interval_s``, which also catches changes made by a separate
``zoneguard app consume`` process. It follows the database's change sequence, handed out
in commit order (``db/changes.py``), not anybody's clock: a commit that waited, or a
process whose clock is off, is never skipped, and each change goes out once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.bus.transport import Waker
from zoneguard.app.db.changes import last_change_seq
from zoneguard.app.db.engine import Database
from zoneguard.app.ids import now_ms
from zoneguard.app.views import order_view, position_view

log = logging.getLogger(__name__)

SUBSCRIBER_BACKLOG = 1_000
KEEPALIVE_S = 15.0

Change = tuple[str, dict[str, Any]]
"""``("order" | "position", the row's JSON)``."""


class ChangeFeed:
    def __init__(
        self, db: Database, *, interval_s: float = 1.0, clock: Callable[[], int] = now_ms
    ) -> None:
        self.db = db
        self.clock = clock
        self._interval_s = interval_s
        self._waker = Waker()
        self._subscribers: set[asyncio.Queue[Change | None]] = set()
        self._cursor = 0
        """The last change sequence value already sent."""
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._waker.notify()

    async def start(self) -> None:
        self._waker.bind()
        self._cursor = await self.db.run(last_change_seq)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.close_streams()

    def close_streams(self) -> None:
        """End every open event stream (the server is shutting down; browsers reconnect)."""
        for queue in list(self._subscribers):
            self._subscribers.discard(queue)
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    queue.get_nowait()
            queue.put_nowait(None)

    def subscribe(self) -> asyncio.Queue[Change | None]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change | None]) -> None:
        self._subscribers.discard(queue)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live feed: reading changes failed")
            await self._waker.wait(self._interval_s)

    async def poll_once(self) -> int:
        """Read and fan out what changed; returns how many changes went out."""
        after = self._cursor

        def read(session: Session) -> tuple[int, list[Change]]:
            changes = store.changed_after(session, after)
            rows: list[Change] = [("order", order_view(o)) for o in changes.orders]
            rows += [("position", position_view(p)) for p in changes.positions]
            return changes.upto, rows

        self._cursor, rows = await self.db.run(read)
        for change in rows:
            self._publish(change)
        return len(rows)

    def _publish(self, change: Change) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # A stream that does not read: end it (the browser reconnects and reloads).
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)


def sse_frame(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def sse_stream(feed: ChangeFeed, keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[bytes]:
    """``event: order|position`` frames with the row's JSON, a comment line as keep-alive."""
    queue = feed.subscribe()
    try:
        yield b"retry: 2000\n" + sse_frame("hello", {"at_ms": feed.clock()})
        while True:
            try:
                change = await asyncio.wait_for(queue.get(), timeout=keepalive_s)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if change is None:
                return
            yield sse_frame(*change)
    finally:
        feed.unsubscribe(queue)
