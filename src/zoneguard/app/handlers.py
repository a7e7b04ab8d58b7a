"""The seed's message handlers: each sends its message to the worker and records the
answer on the order. They raise to have the bus retry (worker unreachable or 5xx) and
return normally once the outcome is known (accepted, or refused for good)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from zoneguard.app import store
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


class _RecordingHandler:
    """What both handlers share: find the order, record the worker's answer."""

    label = "message"

    def __init__(
        self, client: WsWorkerClient, db: Database, callback_url: str, changed: Changed
    ) -> None:
        self.client = client
        self.db = db
        self.callback_url = callback_url
        self.changed = changed

    async def _still_wanted(self, order_id: str) -> bool:
        """False when the order is unknown or already over (a late redelivery)."""
        status = await self.db.run(lambda s: _status_of(s, order_id))
        if status is None:
            orders_log.error(
                "%s for unknown order; dropped", self.label, extra={"order_id": order_id}
            )
            return False
        if OrderStatus(status) in TERMINAL:
            orders_log.info(
                "%s not sent: the order is already %s",
                self.label,
                status,
                extra={"order_id": order_id},
            )
            return False
        return True

    async def _record(self, order_id: str, event: Event) -> None:
        def write(session: Session) -> None:
            order = store.lock_order(session, order_id)
            if order is not None:
                store.record(session, order, event)

        await self.db.run(write)
        self.changed()

    async def _rejected(self, order_id: str, exc: WorkerRejected) -> None:
        orders_log.error(
            "worker refused %s: %s",
            self.label,
            escaped(exc.message),
            extra={"order_id": order_id, "http_status": exc.status},
        )
        await self._record(
            order_id,
            Event(
                "failed",
                OrderStatus.FAILED,
                "bus",
                now_ms(),
                Facts(error=f"worker refused: {exc.message}"),
                data={"http_status": exc.status, "answer": exc.body},
            ),
        )

    async def give_up(self, message: BusMessage, error: str) -> None:
        order_id = getattr(message, "order_id", None)
        if not isinstance(order_id, str):
            return
        await self._record(
            order_id,
            Event(
                "undelivered",
                None,
                "bus",
                now_ms(),
                Facts(error=f"not delivered to the worker: {error} (see /api/messages/failed)"),
            ),
        )


def _status_of(session: Session, order_id: str) -> str | None:
    order = session.get(OrderLifecycle, order_id)
    return None if order is None else order.status


class PlaceOrderMessageHandler(_RecordingHandler):
    label = "PlaceOrderMessage"

    async def handle(self, message: BusMessage) -> None:
        if not isinstance(message, PlaceOrderMessage):
            raise TypeError(f"expected PlaceOrderMessage, got {type(message).__name__}")
        order_id = message.order_id
        if not await self._still_wanted(order_id):
            return
        orders_log.debug("sending to the worker", extra={"order_id": order_id})
        try:
            answer = await self.client.place_order(message.worker_payload(self.callback_url))
        except WorkerRejected as exc:
            await self._rejected(order_id, exc)
            return
        orders_log.info(
            "worker accepted the order (%s)",
            answer.get("status"),
            extra={"order_id": order_id, "duplicate": answer.get("duplicate", False)},
        )
        await self._record(order_id, _accepted("submitted", OrderStatus.SUBMITTED, answer))


class MonitorPositionMessageHandler(_RecordingHandler):
    label = "MonitorPositionMessage"

    async def handle(self, message: BusMessage) -> None:
        if not isinstance(message, MonitorPositionMessage):
            raise TypeError(f"expected MonitorPositionMessage, got {type(message).__name__}")
        order_id = message.order_id
        if not await self._still_wanted(order_id):
            return
        try:
            answer = await self.client.monitor_position(message.worker_payload(self.callback_url))
        except WorkerRejected as exc:
            await self._rejected(order_id, exc)
            return
        orders_log.info("worker guards the position", extra={"order_id": order_id})
        await self._record(order_id, _accepted("monitoring", OrderStatus.MONITORING, answer))


def _accepted(name: str, status: OrderStatus, answer: dict[str, Any]) -> Event:
    worker_status = answer.get("status")
    return Event(
        name,
        status,
        "bus",
        now_ms(),
        Facts(reason=f"worker: {worker_status}" if isinstance(worker_status, str) else None),
        data={"answer": answer},
    )
