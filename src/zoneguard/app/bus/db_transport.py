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

DEFAULT_LEASE_S = 120.0
"""Far longer than any single wait (a renewal may sit out SQLite's 30 s busy timeout) and
renewed every third of it, so a live consumer never loses its claim; a crashed one's
messages come back after two minutes."""


class DbDelivery:
    def __init__(self, transport: DbTransport, claimed: Claimed) -> None:
        self._transport = transport
        self._claim = claimed

    @property
    def envelope(self) -> Envelope:
        return self._claim.envelope

    async def ack(self) -> None:
        claim = self._claim
        await self._transport.settle(lambda s: table.remove(s, claim), claim, "acknowledged")

    async def retry(self, delay_s: float, error: str) -> None:
        claim, attempts = self._claim, self._claim.envelope.attempts + 1
        at = self._transport.clock() + int(delay_s * 1000)
        await self._transport.settle(
            lambda s: table.reschedule(s, claim, attempts=attempts, at_ms=at, error=error),
            claim,
            "rescheduled",
        )

    async def fail(self, attempts: int, error: str) -> None:
        claim, now = self._claim, self._transport.clock()

        def move(session: Session) -> bool:
            if not table.remove(session, claim):
                return False
            table.add_failed(session, claim.envelope, attempts=attempts, error=error, now_ms=now)
            return True

        await self._transport.settle(move, claim, "moved to the failure queue")

    async def release(self) -> None:
        claim = self._claim
        await self._transport.settle(lambda s: table.release(s, claim), claim, "released")


class DbTransport:
    name = "db"

    def __init__(
        self,
        db: Database,
        *,
        poll_interval_s: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.owner = f"consumer-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self._poll_interval_s = poll_interval_s
        self._lease_ms = int(lease_s * 1000)
        self._waker = Waker()
        self._held: dict[str, Claimed] = {}  # by claim token
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
                self._held[claimed[0].token] = claimed[0]
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
                lapsed = await claiming
                await self.db.run(lambda s: _release_all(s, lapsed))
            raise

    async def settle(self, change: Callable[[Session], bool], claim: Claimed, what: str) -> None:
        """Run ``change`` (False: the claim had lapsed, and nothing changed)."""
        try:
            if not await self.db.run(change):
                log.warning(
                    "bus: %s %s not %s: its claim lapsed and another consumer holds it "
                    "(it may be handled twice; handlers are idempotent)",
                    claim.envelope.message_type,
                    claim.envelope.message_uuid,
                    what,
                )
        finally:
            self._held.pop(claim.token, None)

    async def _renew_forever(self) -> None:
        """Keep our claims alive while handlers work (a third of the lease at a time, and
        again after a second when a renewal failed)."""
        period_s = self._lease_ms / 3000
        pause_s = period_s
        while True:
            await asyncio.sleep(pause_s)
            pause_s = period_s
            held = list(self._held.values())
            if not held:
                continue
            try:
                await self.db.run(
                    partial(table.renew, claims=held, until_ms=self.clock() + self._lease_ms)
                )
            except Exception:
                log.exception("bus: renewing claims failed; retrying")
                pause_s = min(period_s, 1.0)


def _release_all(session: Session, claims: Sequence[Claimed]) -> bool:
    for claim in claims:
        table.release(session, claim)
    return True
