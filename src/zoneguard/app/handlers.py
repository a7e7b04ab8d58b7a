"""The seed's message handlers: each sends its message to the worker and records the
answer on the order. They raise to have the bus retry (worker unreachable, 5xx, a token or
URL to fix) and return normally once the outcome is known (accepted, or refused for good).

A message may arrive more than once (at-least-once bus), so a refusal is not always what
it seems: a 409 to a redelivery can mean the worker took the first delivery and its answer
was lost. The handler then asks the worker whether it holds the order before calling it
refused; and a refusal, being the app's own conclusion, ends an order only while the
worker has reported nothing of it (``rules.applies``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.cancel import cancelled_here
from zoneguard.app.db.engine import Database
from zoneguard.app.db.models import OrderLifecycle
from zoneguard.app.ids import now_ms
from zoneguard.app.logs import escaped, orders_log
from zoneguard.app.messages import BusMessage, MonitorPositionMessage, PlaceOrderMessage
from zoneguard.app.rules import TERMINAL, OrderStatus
from zoneguard.app.store import Event, Facts
from zoneguard.app.worker_client import WorkerRejected, WsWorkerClient

Changed = Callable[[], None]
"""Called after a commit that changed an order (wakes the live feed)."""

SOURCE = "bus"


class Verdict(Enum):
    SEND = "send"
    DROP = "drop"
    """Unknown, or already over."""
    WITHDRAW = "withdraw"
    """Cancelled in the app before the worker had it: make sure the worker does not."""


@dataclass(frozen=True, slots=True)
class Recorded:
    applied: bool
    status: str
    status_source: str | None

    @property
    def cancelled_here(self) -> bool:
        return cancelled_here(self.status, self.status_source)


class _RecordingHandler:
    """What both handlers share: look at the order, send, record the worker's answer."""

    label = "message"
    accepted_as = ("submitted", OrderStatus.SUBMITTED)

    def __init__(
        self, client: WsWorkerClient, db: Database, callback_url: str, changed: Changed
    ) -> None:
        self.client = client
        self.db = db
        self.callback_url = callback_url
        self.changed = changed

    async def _send(self, message: BusMessage) -> dict[str, Any]:
        raise NotImplementedError

    async def _withdraw(self, order_id: str) -> None:
        """The order was cancelled here: keep it off the worker."""
        orders_log.info(
            "%s not sent: the order was cancelled", self.label, extra={"order_id": order_id}
        )

    async def handle(self, message: BusMessage) -> None:
        order_id = getattr(message, "order_id", None)
        if not isinstance(order_id, str):
            raise TypeError(f"{self.label} without an order_id")
        verdict = await self._verdict(order_id)
        if verdict is Verdict.WITHDRAW:
            await self._withdraw(order_id)
        if verdict is not Verdict.SEND:
            return
        orders_log.debug("sending to the worker", extra={"order_id": order_id})
        try:
            answer = await self._send(message)
        except WorkerRejected as exc:
            await self._rejected(order_id, exc)
            return
        orders_log.info(
            "worker accepted the %s (%s)",
            self.label,
            answer.get("status"),
            extra={"order_id": order_id, "duplicate": answer.get("duplicate", False)},
        )
        await self._accepted(order_id, answer)

    async def _verdict(self, order_id: str) -> Verdict:
        seen = await self.db.run(lambda s: _status_of(s, order_id))
        if seen is None:
            orders_log.error(
                "%s for unknown order; dropped", self.label, extra={"order_id": order_id}
            )
            return Verdict.DROP
        if cancelled_here(*seen):
            return Verdict.WITHDRAW
        if OrderStatus(seen[0]) in TERMINAL:
            orders_log.info(
                "%s not sent: the order is already %s",
                self.label,
                seen[0],
                extra={"order_id": order_id},
            )
            return Verdict.DROP
        return Verdict.SEND

    async def _accepted(self, order_id: str, answer: dict[str, Any], note: str = "") -> None:
        name, status = self.accepted_as
        worker_status = answer.get("status")
        reason = f"worker: {worker_status}" if isinstance(worker_status, str) else None
        event = Event(
            name, status, SOURCE, now_ms(), Facts(reason=note or reason), data={"answer": answer}
        )
        recorded = await self._record(order_id, event)
        if recorded is not None and recorded.cancelled_here:
            await self._withdraw(order_id)  # the cancel crossed the order on its way

    async def _rejected(self, order_id: str, exc: WorkerRejected) -> None:
        if exc.status == 409 and await self._worker_holds(order_id):
            orders_log.warning(
                "worker refused a redelivered %s (%s) but holds the order: kept as accepted",
                self.label,
                escaped(exc.message),
                extra={"order_id": order_id, "http_status": exc.status},
            )
            note = f"worker holds it (refused a redelivery: {exc.message})"
            await self._accepted(order_id, {"refused": exc.body}, note)
            return
        orders_log.error(
            "worker refused %s: %s",
            self.label,
            escaped(exc.message),
            extra={"order_id": order_id, "http_status": exc.status},
        )
        recorded = await self._record(
            order_id,
            Event(
                "failed",
                OrderStatus.FAILED,
                SOURCE,
                now_ms(),
                Facts(error=f"worker refused: {exc.message}"),
                data={"http_status": exc.status, "answer": exc.body},
            ),
        )
        if recorded is not None and not recorded.applied:
            orders_log.warning(
                "the refusal does not end the order: the worker already reported it %s",
                recorded.status,
                extra={"order_id": order_id},
            )

    async def _worker_holds(self, order_id: str) -> bool:
        """Whether the worker has the order (unreachable: raises, and the bus retries)."""
        try:
            await self.client.order(order_id)
        except WorkerRejected:
            return False
        return True

    async def _record(self, order_id: str, event: Event) -> Recorded | None:
        def write(session: Session) -> Recorded | None:
            order = store.lock_order(session, order_id)
            if order is None:
                return None
            applied = store.record(session, order, event).applied
            return Recorded(applied, order.status, order.status_source)

        recorded = await self.db.run(write)
        self.changed()
        return recorded

    async def give_up(self, message: BusMessage, error: str) -> None:
        order_id = getattr(message, "order_id", None)
        if not isinstance(order_id, str):
            return
        await self._record(
            order_id,
            Event(
                "undelivered",
                None,
                SOURCE,
                now_ms(),
                Facts(error=f"not delivered to the worker: {error} (see /api/messages/failed)"),
            ),
        )


def _status_of(session: Session, order_id: str) -> tuple[str, str | None] | None:
    order = session.get(OrderLifecycle, order_id)
    return None if order is None else (order.status, order.status_source)


class PlaceOrderMessageHandler(_RecordingHandler):
    label = "PlaceOrderMessage"

    async def _send(self, message: BusMessage) -> dict[str, Any]:
        if not isinstance(message, PlaceOrderMessage):
            raise TypeError(f"expected PlaceOrderMessage, got {type(message).__name__}")
        return await self.client.place_order(message.worker_payload(self.callback_url))

    async def _withdraw(self, order_id: str) -> None:
        """Ask the worker to cancel it: a 404 (it never had it) or a 409 (it is over there
        already) settles it; unreachable raises, and the bus tries again."""
        try:
            answer = await self.client.cancel(order_id)
        except WorkerRejected as exc:
            orders_log.info(
                "PlaceOrderMessage dropped: the order was cancelled (worker: %s)",
                escaped(exc.message),
                extra={"order_id": order_id, "http_status": exc.status},
            )
            return
        orders_log.warning(
            "the worker took an order cancelled here; asked it to cancel (%s)",
            answer.get("status"),
            extra={"order_id": order_id},
        )


class MonitorPositionMessageHandler(_RecordingHandler):
    label = "MonitorPositionMessage"
    accepted_as = ("monitoring", OrderStatus.MONITORING)

    async def _send(self, message: BusMessage) -> dict[str, Any]:
        if not isinstance(message, MonitorPositionMessage):
            raise TypeError(f"expected MonitorPositionMessage, got {type(message).__name__}")
        return await self.client.monitor_position(message.worker_payload(self.callback_url))

    async def _withdraw(self, order_id: str) -> None:
        """Only said: a guard the worker took anyway protects the position; closing it is
        an operator's call (``POST /api/orders/{id}/close``)."""
        orders_log.warning(
            "MonitorPositionMessage not sent, or taken despite the cancel: the order was "
            "cancelled here",
            extra={"order_id": order_id},
        )
