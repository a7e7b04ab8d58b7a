"""Cancelling an order the worker never had.

An operator cancels an order whose PlaceOrderMessage still waits on the bus (in retry
backoff, say): the worker answers 404, and the next delivery would place the order anyway.
So the app records the cancel itself, as its own conclusion (source ``api``, see
``rules.py``), and the bus handler drops the message; should the order have crossed the
cancel on its way to the worker, the handler asks the worker to cancel it, and anything
the worker then reports still reaches the order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.db.models import OrderLifecycle
from zoneguard.app.rules import UNREPORTED, OrderStatus
from zoneguard.app.store import Event, Facts

CANCEL_SOURCE = "api"
REASON = "cancelled by request before the worker had it"


@dataclass(frozen=True, slots=True)
class Unsent:
    order: OrderLifecycle
    ask_again: bool
    """The worker accepted the order at some point: ask it to cancel once more."""


def cancel_unsent(session: Session, order_id: str, *, at_ms: int) -> Unsent | None:
    """Record the cancel while the worker has reported nothing of the order (again: an
    order cancelled here already stays so); None when the order has moved on, and the
    worker's 404 is then news to look into."""
    order = store.lock_order(session, order_id)
    if order is None:
        return None
    if cancelled_here(order.status, order.status_source):
        return Unsent(order, ask_again=True)
    before = OrderStatus(order.status)
    if before not in UNREPORTED:
        return None
    event = Event("cancelled", OrderStatus.CANCELLED, CANCEL_SOURCE, at_ms, Facts(reason=REASON))
    if not store.record(session, order, event).applied:  # pragma: no cover - UNREPORTED
        return None
    return Unsent(order, ask_again=before is OrderStatus.SUBMITTED)


def cancelled_here(status: str, status_source: str | None) -> bool:
    """Whether the order's cancel is the app's own (the worker may still get the order)."""
    return status == OrderStatus.CANCELLED.value and status_source == CANCEL_SOURCE
