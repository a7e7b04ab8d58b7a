"""The seed's OrderCallbackController, minus HTTP: read a callback body, then apply it.

Reading refuses what cannot be applied, naming the field (``status`` unknown, no order
id, a price that is not a number). Applying happens in one transaction that first
inserts the ``event_id`` into ``callback_events``: a second delivery of the same event
hits the unique key and changes nothing. A callback for an order the app never created
(placed straight on the worker) gets a lifecycle of its own (``origin = external``):
refusing it would only make the worker retry forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.db.models import CallbackEvent
from zoneguard.app.rules import CALLBACK_STATUSES, OrderStatus
from zoneguard.app.store import Event, Facts
from zoneguard.domain.errors import FieldError

MAX_ID_LENGTH = 128
_PRICE_FIELDS = (
    "entry_price",
    "close_price",
    "quantity",
    "filled_contracts",
    "realized_pnl",
    "fees",
    "fee",
)
_TEXT_FIELDS = ("exchange_order_id", "client_order_id", "close_order_id", "reason", "error")


class CallbackInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


@dataclass(frozen=True, slots=True)
class IncomingCallback:
    status: str
    order_id: str
    event_id: str
    timestamp: str | None
    symbol: str | None
    side: str | None
    facts: Facts
    body: dict[str, Any]


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    """Recorded, but it would have moved the status backwards."""
    DUPLICATE = "duplicate"


def parse_callback(body: Mapping[str, Any], raw: bytes) -> IncomingCallback:
    """Check a callback body; raise :class:`CallbackInvalid` naming every bad field."""
    errors: list[FieldError] = []
    status = body.get("status")
    if not isinstance(status, str) or not status:
        errors.append(FieldError("status", "is required"))
    elif status not in CALLBACK_STATUSES:
        known = ", ".join(sorted(CALLBACK_STATUSES))
        errors.append(FieldError("status", f"unknown status {status[:40]!r}; known: {known}"))
    order_id = body.get("order_id") or body.get("position_id")
    if not isinstance(order_id, str) or not order_id.strip():
        errors.append(FieldError("order_id", "is required (order_id or position_id)"))
    elif len(order_id) > 64:
        errors.append(FieldError("order_id", "must be at most 64 characters"))
    event_id = body.get("event_id")
    if event_id is not None and (
        not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_LENGTH
    ):
        errors.append(FieldError("event_id", f"must be a string of 1..{MAX_ID_LENGTH} characters"))
    timestamp = body.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        errors.append(FieldError("timestamp", "must be an ISO-8601 string"))
    numbers: dict[str, Decimal | None] = {}
    for name in _PRICE_FIELDS:
        numbers[name] = _number(body, name, errors)
    texts: dict[str, str | None] = {name: _text(body, name, errors) for name in _TEXT_FIELDS}
    error_code = body.get("error_code")
    if error_code is not None and (isinstance(error_code, bool) or not isinstance(error_code, int)):
        errors.append(FieldError("error_code", "must be a whole number"))
        error_code = None
    if errors:
        raise CallbackInvalid(errors)
    assert isinstance(status, str)
    assert isinstance(order_id, str)
    facts = Facts(
        exchange_order_id=texts["exchange_order_id"],
        client_order_id=texts["client_order_id"],
        close_order_id=texts["close_order_id"],
        entry_price=numbers["entry_price"],
        close_price=numbers["close_price"],
        quantity=numbers["quantity"],
        filled_contracts=numbers["filled_contracts"],
        realized_pnl=numbers["realized_pnl"],
        fees=numbers["fees"] if numbers["fees"] is not None else numbers["fee"],
        reason=texts["reason"],
        error=texts["error"],
        error_code=error_code,
    )
    return IncomingCallback(
        status=status,
        order_id=order_id.strip(),
        # The seed's own example has no event_id: the body's hash dedupes exact repeats.
        event_id=event_id
        if isinstance(event_id, str)
        else "sha256:" + hashlib.sha256(raw).hexdigest(),
        timestamp=timestamp if isinstance(timestamp, str) else None,
        symbol=_loose_text(body.get("symbol")),
        side=_loose_text(body.get("side")),
        facts=facts,
        body=dict(body),
    )


def _number(body: Mapping[str, Any], name: str, errors: list[FieldError]) -> Decimal | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.append(FieldError(name, "must be a number"))
        return None
    try:
        # str() of a float is its shortest exact text: 65250.0 -> Decimal("65250.0").
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.append(FieldError(name, f"must be a number, got {str(value)[:30]!r}"))
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e20"):
        errors.append(FieldError(name, "must be a finite number of sane size"))
        return None
    return number


def _text(body: Mapping[str, Any], name: str, errors: list[FieldError]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append(FieldError(name, "must be a string"))
        return None
    text = str(value)
    limit = 64 if name.endswith("_id") else 4000
    if len(text) > limit:
        errors.append(FieldError(name, f"must be at most {limit} characters"))
        return None
    return text


def _loose_text(value: object) -> str | None:
    return value[:32] if isinstance(value, str) and value else None


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
    order = store.lock_order(session, callback.order_id)
    if order is None:
        order = store.create_order(
            session,
            callback.order_id,
            origin="external",
            at_ms=now_ms,
            symbol=callback.symbol,
            side=callback.side if callback.side in ("long", "short") else None,
            first_event="discovered",
            status=OrderStatus.SUBMITTED,
        )
        session.flush()
    transition = store.record(
        session,
        order,
        Event(
            name=callback.status,
            status=OrderStatus(callback.status),
            source="callback",
            at_ms=now_ms,
            facts=callback.facts,
            event_id=callback.event_id,
            event_time=callback.timestamp,
            data=callback.body,
        ),
    )
    return Outcome.APPLIED if transition.applied else Outcome.STALE
