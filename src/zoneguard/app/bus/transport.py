"""What the consumer needs from a transport: deliveries it can settle one way or another."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from zoneguard.app.bus.table import Envelope


class Delivery(Protocol):
    """One message handed to the consumer; settle it exactly once."""

    @property
    def envelope(self) -> Envelope: ...

    async def ack(self) -> None:
        """Handled: forget it."""

    async def retry(self, delay_s: float, error: str) -> None:
        """Failed this attempt: deliver again after ``delay_s`` with one more attempt."""

    async def fail(self, attempts: int, error: str) -> None:
        """Give up: move it to the failure queue."""

    async def release(self) -> None:
        """Not handled (shutting down): give it back untouched."""


class Transport(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def receive(self) -> Delivery:
        """Wait for the next message."""
        ...

    def notify(self) -> None:
        """New messages were committed: look now instead of at the next poll."""


class Waker:
    """An event other threads may set: the bus is told "new rows" from whichever thread
    committed them, and the consumer waits on the loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._event.set()
        else:
            loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout_s: float) -> None:
        """Until notified or ``timeout_s`` passed, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=max(timeout_s, 0.0))
        self._event.clear()
