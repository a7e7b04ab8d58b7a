"""The seed's OrderCallbackController, minus HTTP: apply a callback read by
:mod:`zoneguard.app.callback_body`.

Applying happens in one transaction that first inserts the ``event_id`` into
``callback_events``: a second delivery of the same event hits the unique key and changes
nothing. A callback for an order the app never created (placed straight on the worker)
gets a lifecycle of its own (``origin = external``): refusing it would only make the
worker retry forever.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.callback_body import IncomingCallback
from zoneguard.app.db.models import CallbackEvent
from zoneguard.app.rules import NOTE_STATUSES, WORKER_SOURCE, OrderStatus
from zoneguard.app.store import Event, Facts


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    """Recorded, but it would have moved the status backwards."""
    DUPLICATE = "duplicate"


class DuplicateEvent(Exception):
    """The event_id was already applied."""


def apply_callback(session: Session, callback: IncomingCallback, *, now_ms: int) -> Outcome:
    """Record and apply ``callback`` in the caller's transaction (dedupe first)."""
    if session.get(CallbackEvent, callback.event_id) is not None:
        return Outcome.DUPLICATE
    session.add(
        CallbackEvent(
            event_id=callback.event_id,
            order_id=callback.order_id,
            status=callback.status,
            received_ms=now_ms,
            body=callback.body,
        )
    )
    try:
        session.flush()  # a concurrent twin fails here, on the unique key
    except IntegrityError as exc:
        raise DuplicateEvent(callback.event_id) from exc
    order = store.lock_or_discover(
        session,
        callback.order_id,
        at_ms=now_ms,
        symbol=callback.symbol,
        side=callback.side if callback.side in ("long", "short") else None,
    )
    note = callback.status in NOTE_STATUSES
    transition = store.record(
        session,
        order,
        Event(
            name=callback.status,
            # A note moves no status, and its prices are a part's, not the order's.
            status=None if note else OrderStatus(callback.status),
            source=WORKER_SOURCE,
            at_ms=now_ms,
            facts=Facts() if note else callback.facts,
            event_id=callback.event_id,
            event_time=callback.timestamp,
            data=callback.body,
        ),
    )
    return Outcome.APPLIED if transition.applied or note else Outcome.STALE
