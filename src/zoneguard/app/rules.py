"""How an order's status moves in the app, whatever order the news arrives in.

The worker delivers each order's callbacks in order, but at least once, and the bus
handler's own "submitted" can race a fast "placed". So a status only moves *forward* in
this ranking; news that would move it back (a late ``placed`` after ``closed``) is kept
as a transition that was not applied. ``closed`` outranks everything: once a position is
closed, nothing reopens it.

Who says it matters too (:func:`applies`). The worker knows what happened on the
exchange; the app only concludes things: the bus handler that the worker refused an order,
an operator's cancel that the worker never had it. Such a conclusion may end an order only
while the worker has reported nothing of it (``queued``/``submitted``), and it gives way to
any later word from the worker: the refusal may have been of a redelivery the worker had
already taken, or the cancel may have crossed the order on its way to the worker.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    QUEUED = "queued"
    """Stored, PlaceOrderMessage on the bus."""
    SUBMITTED = "submitted"
    """The worker accepted it and waits for the zone."""
    MONITORING = "monitoring"
    """The worker guards a position opened elsewhere (MonitorPositionMessage)."""
    PLACED = "placed"
    FILLED = "filled"
    CLOSE_FAILED = "close_failed"
    TIMEOUT = "timeout"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class PositionStatus(StrEnum):
    OPEN = "open"
    CLOSE_FAILED = "close_failed"
    CLOSED = "closed"


NOTE_STATUSES: frozenset[str] = frozenset({"partially_closed", "stop_moved"})
"""News of an open position that moves no status: a take-profit rung closed part of it,
its stop moved (break-even, trailing). Kept in the order's history with its body."""

ENTRY_STATUSES: frozenset[str] = frozenset({"placed", "filled"})
"""Statuses that carry ``entry_index`` for a plan with several entry zones: news of that
zone's own entry order (see :func:`zone_entry_is_note`)."""

CALLBACK_STATUSES: frozenset[str] = frozenset(
    {"placed", "failed", "timeout", "closed", "close_failed", "filled", "cancelled"} | NOTE_STATUSES
)
"""Every status the worker sends (the seed's five, ``filled``, ``cancelled``, and the
notes of an open position)."""

_S = OrderStatus
_RANK: dict[OrderStatus, int] = {
    _S.QUEUED: 0,
    _S.SUBMITTED: 1,
    _S.PLACED: 2,
    _S.FILLED: 3,
    _S.MONITORING: 3,
    _S.CLOSE_FAILED: 4,
    _S.TIMEOUT: 5,
    _S.FAILED: 5,
    _S.CANCELLED: 5,
    _S.CLOSED: 6,
}
TERMINAL: frozenset[OrderStatus] = frozenset({_S.TIMEOUT, _S.FAILED, _S.CANCELLED, _S.CLOSED})
UNREPORTED: frozenset[OrderStatus] = frozenset({_S.QUEUED, _S.SUBMITTED})
"""The worker has said nothing of the order yet (beyond accepting it)."""

APP_SOURCES: frozenset[str] = frozenset({"bus", "api"})
"""Sources of the app's own conclusions (the bus handler, an operator action)."""
WORKER_SOURCE = "callback"

_POSITION_RANK = {PositionStatus.OPEN: 0, PositionStatus.CLOSE_FAILED: 1, PositionStatus.CLOSED: 2}


def rank(status: OrderStatus) -> int:
    return _RANK[status]


def moves_forward(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether news of ``new`` is applied to an order in ``current``: a higher rank, or the
    same status again (which refreshes the facts, e.g. a second ``close_failed``)."""
    return new is current or _RANK[new] > _RANK[current]


def position_moves_forward(current: PositionStatus, new: PositionStatus) -> bool:
    return new is current or _POSITION_RANK[new] > _POSITION_RANK[current]


def applies(
    current: OrderStatus, current_source: str | None, new: OrderStatus, new_source: str
) -> bool:
    """Whether news of ``new`` from ``new_source`` is applied to an order that is in
    ``current``, set by ``current_source`` (see the module's docstring)."""
    if new_source in APP_SOURCES and new in TERMINAL:
        return current in UNREPORTED
    if new_source == WORKER_SOURCE and current in TERMINAL and current_source in APP_SOURCES:
        return True
    return moves_forward(current, new)


def zone_entry_is_note(current: OrderStatus, current_source: str | None, new: OrderStatus) -> bool:
    """Whether one entry zone's ``placed`` / ``filled`` (it carries ``entry_index``) is a
    note that moves no status: the order is already there or past it, through another
    zone's entry (zone 2 placed once zone 1 has filled, zone 2's fill after zone 1's) or
    its end. Otherwise it is the position's first entry and moves the status as the seed's
    does, so nothing a later zone says can move an order backwards."""
    return new is current or not applies(current, current_source, new, WORKER_SOURCE)
