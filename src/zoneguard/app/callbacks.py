"""The seed's OrderCallbackController, minus HTTP: apply a callback read by
:mod:`zoneguard.app.callback_body`.

Applying happens in one transaction that first inserts the ``event_id`` into
``callback_events``: a second delivery of the same event hits the unique key and changes
nothing. A callback for an order the app never created (placed straight on the worker)
gets a lifecycle of its own (``origin = external``): refusing it would only make the
worker retry forever.

With several entry zones, ``placed`` and ``filled`` carry ``entry_index``: the first
entry's move the status as the seed's do; a later zone's are notes, kept in the order's
history like ``partially_closed`` (a later fill setting the position's size and average
entry to the body's totals, unless it is closed).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.callback_body import IncomingCallback
from zoneguard.app.db.models import CallbackEvent
from zoneguard.app.rules import (
    ENTRY_STATUSES,
    NOTE_STATUSES,
    WORKER_SOURCE,
    OrderStatus,
    zone_entry_is_note,
)
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
    zone_note = (
        callback.entry_index is not None
        and callback.status in ENTRY_STATUSES
        and zone_entry_is_note(
            OrderStatus(order.status), order.status_source, OrderStatus(callback.status)
        )
    )
    note = callback.status in NOTE_STATUSES or zone_note
    event = Event(
        name=callback.status,
        # A note moves no status, and its prices are a part's, not the order's.
        status=None if note else OrderStatus(callback.status),
        source=WORKER_SOURCE,
        at_ms=now_ms,
        facts=Facts() if note else callback.facts,
        event_id=callback.event_id,
        event_time=callback.timestamp,
        data=callback.body,
    )
    if zone_note and callback.status == "filled":
        # Another zone filled: its body's filled_contracts and entry_price are the whole
        # position's so far (total, size-weighted average).
        store.record_zone_fill(session, order, event, callback.facts)
        return Outcome.APPLIED
    transition = store.record(session, order, event)
    return Outcome.APPLIED if transition.applied or note else Outcome.STALE
