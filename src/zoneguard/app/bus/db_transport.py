"""``db://``: the queue is the ``bus_messages`` table of the app's own database.

The consumer wakes at once when this process commits a message (:meth:`notify`) and
otherwise looks at the table every ``poll_interval_s`` (messages from other processes,
retries coming due, leases of crashed consumers running out). A queue consumer, not the
price path: a second of polling costs nothing there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy.orm import Session

from zoneguard.app.bus import table
from zoneguard.app.bus.table import Claimed, Envelope
from zoneguard.app.bus.transport import Waker
from zoneguard.app.db.engine import Database
from zoneguard.app.ids import now_ms

log = logging.getLogger(__name__)


class DbDelivery:
    def __init__(self, transport: DbTransport, claimed: Claimed) -> None:
        self._transport = transport
        self._row_id = claimed.row_id
        self._envelope = claimed.envelope

    @property
    def envelope(self) -> Envelope:
        return self._envelope

    async def ack(self) -> None:
        row_id = self._row_id
        await self._transport.settle(lambda s: table.remove(s, row_id), row_id)

    async def retry(self, delay_s: float, error: str) -> None:
        row_id, attempts = self._row_id, self._envelope.attempts + 1
        at = self._transport.clock() + int(delay_s * 1000)
        await self._transport.settle(
            lambda s: table.reschedule(s, row_id, attempts=attempts, at_ms=at, error=error), row_id
        )

    async def fail(self, attempts: int, error: str) -> None:
        row_id, envelope, now = self._row_id, self._envelope, self._transport.clock()

        def move(session: Session) -> None:
            table.add_failed(session, envelope, attempts=attempts, error=error, now_ms=now)
            table.remove(session, row_id)

        await self._transport.settle(move, row_id)

    async def release(self) -> None:
        row_id, owner = self._row_id, self._transport.owner
        await self._transport.settle(lambda s: table.release(s, row_id, owner=owner), row_id)


class DbTransport:
    name = "db"

    def __init__(
        self,
        db: Database,
        *,
        poll_interval_s: float = 1.0,
        lease_s: float = 30.0,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.owner = f"consumer-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self._poll_interval_s = poll_interval_s
        self._lease_ms = int(lease_s * 1000)
        self._waker = Waker()
        self._held: set[int] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._waker.bind()
        self._heartbeat = asyncio.get_running_loop().create_task(self._renew_forever())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    def notify(self) -> None:
        self._waker.notify()

    async def receive(self) -> DbDelivery:
        while True:
            claimed = await self._claim()
            if claimed:
                self._held.add(claimed[0].row_id)
                return DbDelivery(self, claimed[0])
            next_due = await self.db.run(table.next_due_ms)
            wait_s = self._poll_interval_s
            if next_due is not None:
                wait_s = min(wait_s, max(0.0, (next_due - self.clock()) / 1000))
            await self._waker.wait(wait_s)

    async def _claim(self) -> list[Claimed]:
        """Claim one due message. Shielded: if we are cancelled while the claim commits in
        its thread, the claim is given back instead of waiting out its lease."""
        now, lease, owner = self.clock(), self._lease_ms, self.owner
        claiming = asyncio.ensure_future(
            self.db.run(lambda s: table.claim_due(s, now_ms=now, lease_ms=lease, owner=owner))
        )
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                ids = [item.row_id for item in await claiming]
                await self.db.run(lambda s: _release_all(s, ids, owner))
            raise

    async def settle(self, change: Callable[[Session], None], row_id: int) -> None:
        try:
            await self.db.run(change)
        finally:
            self._held.discard(row_id)

    async def _renew_forever(self) -> None:
        """Keep our claims alive while handlers work (a third of the lease at a time)."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            held = sorted(self._held)
            if not held:
                continue
            try:
                await self.db.run(
                    partial(
                        table.renew,
                        row_ids=held,
                        owner=self.owner,
                        until_ms=self.clock() + self._lease_ms,
                    )
                )
            except Exception:
                log.exception("bus: renewing claims failed; retrying")


def _release_all(session: Session, row_ids: Sequence[int], owner: str) -> None:
    for row_id in row_ids:
        table.release(session, row_id, owner=owner)
