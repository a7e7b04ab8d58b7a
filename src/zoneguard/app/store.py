"""OrderLifecycle and Position: creating them, recording what happens to them, reading
them. Plain functions over a SQLAlchemy session: the caller owns the transaction (so a
signal's row and its bus message commit together)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from zoneguard.app.db.changes import last_change_seq
from zoneguard.app.db.models import OrderLifecycle, OrderTransition, Position
from zoneguard.app.rules import (
    APP_SOURCES,
    TERMINAL,
    OrderStatus,
    PositionStatus,
    applies,
    position_moves_forward,
)
from zoneguard.domain.entry_plan import entry_zones_payload
from zoneguard.domain.exit_plan import exits_payload
from zoneguard.domain.plan import OrderPlan


@dataclass(frozen=True, slots=True)
class Facts:
    """What a piece of news says about an order; None = not said."""

    exchange_order_id: str | None = None
    client_order_id: str | None = None
    close_order_id: str | None = None
    entry_price: Decimal | None = None
    close_price: Decimal | None = None
    quantity: Decimal | None = None
    filled_contracts: Decimal | None = None
    realized_pnl: Decimal | None = None
    fees: Decimal | None = None
    reason: str | None = None
    error: str | None = None
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One piece of news about an order. ``status`` None: a note that moves nothing (e.g.
    the bus gave up delivering), recorded with its error."""

    name: str
    status: OrderStatus | None
    source: str
    at_ms: int
    facts: Facts = Facts()
    event_id: str | None = None
    event_time: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


_ORDER_FACTS = (
    "exchange_order_id",
    "client_order_id",
    "close_order_id",
    "entry_price",
    "close_price",
    "filled_contracts",
    "reason",
    "error",
    "error_code",
)


def create_order(
    session: Session,
    order_id: str,
    *,
    origin: str,
    at_ms: int,
    plan: OrderPlan | None = None,
    symbol: str | None = None,
    side: str | None = None,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    timeout_seconds: int | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    first_event: str = "queued",
    status: OrderStatus = OrderStatus.QUEUED,
) -> OrderLifecycle:
    """A new lifecycle with its first transition (``queued``). From a validated ``plan``
    when there is one, else from the loose fields (monitor requests, unknown orders)."""
    order = OrderLifecycle(
        id=order_id,
        origin=origin,
        status=status.value,
        status_source=origin,
        symbol=plan.symbol if plan else symbol,
        side=plan.side.value if plan else side,
        entry_zone_min=plan.entry_zone_min if plan else None,
        entry_zone_max=plan.entry_zone_max if plan else None,
        quantity=plan.quantity if plan else None,
        leverage=plan.leverage if plan else None,
        stop_loss=plan.stop_loss if plan else stop_loss,
        take_profit=plan.take_profit if plan else take_profit,
        timeout_seconds=plan.timeout_seconds if plan else timeout_seconds,
        signal_metadata=_plain_metadata(plan) if plan else dict(metadata or {}),
        exit_legs=plan_exit_legs(plan) if plan else None,
        entry_zones=plan_entry_zones(plan) if plan else None,
        idempotency_key=idempotency_key,
        created_ms=at_ms,
        updated_ms=at_ms,
        version=1,
    )
    session.add(order)
    session.add(_first_transition(order_id, first_event, origin, status, at_ms))
    return order


def _first_transition(
    order_id: str, event: str, origin: str, status: OrderStatus, at_ms: int
) -> OrderTransition:
    return OrderTransition(
        order_id=order_id,
        seq=0,
        event=event,
        source=origin,
        from_status=None,
        to_status=status.value,
        applied=True,
        at_ms=at_ms,
        data={},
    )


def lock_or_discover(
    session: Session, order_id: str, *, at_ms: int, symbol: str | None, side: str | None
) -> OrderLifecycle:
    """The order, row-locked; first created (``origin = external``, ``submitted``) when the
    app never made it. The insert skips an id that exists: two first callbacks for one
    unknown order at once both get here, one creates it, the other waits for that commit
    (PostgreSQL) and then locks what it made, instead of a unique-key 500."""
    order = lock_order(session, order_id)
    if order is not None:
        return order
    origin, status = "external", OrderStatus.SUBMITTED
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values: dict[str, Any] = {
        "id": order_id,
        "origin": origin,
        "status": status.value,
        "status_source": origin,
        "symbol": symbol,
        "side": side,
        "metadata": {},
        "created_ms": at_ms,
        "updated_ms": at_ms,
        "version": 1,
    }
    table = cast(Table, OrderLifecycle.__table__)
    statement = insert(table).values(values).on_conflict_do_nothing().returning(table.c.id)
    if session.execute(statement).first() is not None:  # rowcount is -1 with psycopg
        session.add(_first_transition(order_id, "discovered", origin, status, at_ms))
    order = lock_order(session, order_id)
    if order is None:  # pragma: no cover - the row exists, one way or the other
        raise LookupError(order_id)
    return order


def _plain_metadata(plan: OrderPlan) -> dict[str, Any]:
    metadata = plan.to_payload()["metadata"]
    return dict(metadata) if isinstance(metadata, dict) else {}


def same_plan(order: OrderLifecycle, plan: OrderPlan) -> bool:
    """Whether a stored signal order carries exactly ``plan`` (idempotent re-submission)."""
    return (
        order.symbol,
        order.side,
        order.entry_zone_min,
        order.entry_zone_max,
        order.quantity,
        order.leverage,
        order.stop_loss,
        order.take_profit,
        order.timeout_seconds,
        order.signal_metadata,
        order.exit_legs,
        order.entry_zones,
    ) == (
        plan.symbol,
        plan.side.value,
        plan.entry_zone_min,
        plan.entry_zone_max,
        plan.quantity,
        plan.leverage,
        plan.stop_loss,
        plan.take_profit,
        plan.timeout_seconds,
        _plain_metadata(plan),
        plan_exit_legs(plan),
        plan_entry_zones(plan),
    )


def plan_exit_legs(plan: OrderPlan) -> dict[str, Any] | None:
    """The plan's exit legs as stored (None when it has none, like a seed signal)."""
    legs = exits_payload(plan.take_profits, plan.break_even, plan.trailing_stop)
    return legs or None


def plan_entry_zones(plan: OrderPlan) -> list[dict[str, str]] | None:
    """The plan's entry zones as stored (None for a seed signal's one zone)."""
    zones = entry_zones_payload(plan.entry_zones).get("entry_zones")
    return cast(list[dict[str, str]], zones) if zones else None


def lock_order(session: Session, order_id: str) -> OrderLifecycle | None:
    """The order, row-locked until commit on PostgreSQL (SQLite: the write lock is held)."""
    return session.get(OrderLifecycle, order_id, with_for_update=True)


def record(session: Session, order: OrderLifecycle, event: Event) -> OrderTransition:
    """Apply ``event`` to ``order`` and its position, and record it as a transition.

    The status moves as :func:`~zoneguard.app.rules.applies` says; facts from an applied
    event overwrite, facts from a stale one only fill gaps (the worker's; a stale conclusion
    of the app's own says nothing about the order). ``closed``, and the worker's word over
    the app's own conclusion, clear the current error: it stays in the transition that
    reported it.
    """
    current = OrderStatus(order.status)
    concluded_here = current in TERMINAL and order.status_source in APP_SOURCES
    applied = event.status is not None and applies(
        current, order.status_source, event.status, event.source
    )
    if applied and event.status is not None:
        order.status = event.status.value
        order.status_source = event.source
        if concluded_here or event.status is OrderStatus.CLOSED:
            order.error = order.error_code = None  # the event's own error is set below
    fills_gaps = applied or event.source not in APP_SOURCES
    for name in _ORDER_FACTS:
        value = getattr(event.facts, name)
        overwrites = applied and not (name == "filled_contracts" and event.name == "closed")
        if value is not None and (overwrites or (fills_gaps and getattr(order, name) is None)):
            setattr(order, name, value)
    if event.status is None and event.facts.error is not None:
        order.error = event.facts.error
    order.updated_ms = max(order.updated_ms, event.at_ms)
    order.version += 1
    transition = OrderTransition(
        order_id=order.id,
        seq=_next_seq(session, order.id),
        event=event.name,
        source=event.source,
        from_status=current.value,
        to_status=order.status,
        applied=applied,
        at_ms=event.at_ms,
        event_time=event.event_time,
        event_id=event.event_id,
        reason=event.facts.reason,
        error=event.facts.error,
        data=event.data,
    )
    session.add(transition)
    _update_position(session, order, event)
    return transition


def _next_seq(session: Session, order_id: str) -> int:
    session.flush()
    last = session.scalar(
        select(func.max(OrderTransition.seq)).where(OrderTransition.order_id == order_id)
    )
    return 0 if last is None else last + 1


_POSITION_EVENTS: dict[str, PositionStatus] = {
    "filled": PositionStatus.OPEN,
    "monitoring": PositionStatus.OPEN,
    "close_failed": PositionStatus.CLOSE_FAILED,
    "closed": PositionStatus.CLOSED,
}


def record_zone_fill(
    session: Session, order: OrderLifecycle, event: Event, totals: Facts
) -> OrderTransition:
    """Another entry zone's ``filled`` once the order is filled (or past it): a note that
    moves no status. Until the order is closed, the order's and the position's
    ``filled_contracts`` and ``entry_price`` become ``totals`` (the body's: the whole
    position's so far, a size-weighted average entry); a closed one keeps what it closed
    with, and the fill stays in the note's data."""
    transition = record(session, order, event)
    if order.status == OrderStatus.CLOSED.value:
        return transition
    _set_totals(order, totals)
    position = _position_of(session, order, totals, event.at_ms)
    if position.status != PositionStatus.CLOSED.value:
        _set_totals(position, totals)
        position.updated_ms = max(position.updated_ms, event.at_ms)
        position.version += 1
    return transition


def _set_totals(row: OrderLifecycle | Position, totals: Facts) -> None:
    if totals.filled_contracts is not None:
        row.filled_contracts = totals.filled_contracts
    if totals.entry_price is not None:
        row.entry_price = totals.entry_price


def _position_of(session: Session, order: OrderLifecycle, facts: Facts, at_ms: int) -> Position:
    """The order's position, opened now when it has none."""
    position = session.get(Position, order.id)
    if position is None:
        position = Position(
            id=order.id,
            symbol=order.symbol,
            side=order.side,
            status=PositionStatus.OPEN.value,
            quantity=facts.quantity if facts.quantity is not None else order.quantity,
            opened_ms=at_ms,
            updated_ms=at_ms,
            version=0,
        )
        session.add(position)
    return position


def _update_position(session: Session, order: OrderLifecycle, event: Event) -> None:
    target = _POSITION_EVENTS.get(event.name)
    if target is None or event.status is None:
        return  # a note (a later entry zone's fill is applied by record_zone_fill)
    facts = event.facts
    position = _position_of(session, order, facts, event.at_ms)
    moved = position_moves_forward(PositionStatus(position.status), target)
    if moved:
        position.status = target.value

    def put(name: str, value: object) -> None:
        if value is not None and (moved or getattr(position, name) is None):
            setattr(position, name, value)

    put("quantity", facts.quantity)
    if target is PositionStatus.CLOSED:
        # What the last close closed (a ladder's rungs closed the rest before it): the
        # position's size stays what was entered, when known.
        if position.filled_contracts is None:
            position.filled_contracts = facts.filled_contracts
    else:
        put("filled_contracts", facts.filled_contracts)
    put("entry_price", facts.entry_price)
    if target is PositionStatus.CLOSED:
        put("exit_price", _whole_exit_price(order, facts))
        put("realized_pnl", facts.realized_pnl)
        put("fees", facts.fees)
        put("close_order_id", facts.close_order_id)
        put("close_reason", facts.reason)
        if moved and facts.error is None:
            position.error = None  # the failed attempts stay in the order's transitions
        if moved and position.closed_ms is None:
            position.closed_ms = event.at_ms
    elif target is PositionStatus.CLOSE_FAILED:
        put("close_reason", facts.reason)
        put("error", facts.error)
    position.updated_ms = max(position.updated_ms, event.at_ms)
    position.version += 1


def _whole_exit_price(order: OrderLifecycle, facts: Facts) -> Decimal | None:
    """The position's average exit: the final close's price, weighted with the
    ``partially_closed`` parts before it (a take-profit ladder)."""
    parts: list[tuple[Decimal, Decimal]] = []
    for transition in order.transitions:
        data = transition.data or {}
        if transition.event == "partially_closed":
            size, price = data.get("closed_quantity"), data.get("close_price")
            if isinstance(size, int | float) and isinstance(price, int | float):
                parts.append((Decimal(str(size)), Decimal(str(price))))
    if not parts or facts.close_price is None or facts.filled_contracts is None:
        return facts.close_price
    parts.append((facts.filled_contracts, facts.close_price))
    total = sum((size for size, _ in parts), Decimal(0))
    if total <= 0:
        return facts.close_price
    average = sum((size * price for size, price in parts), Decimal(0)) / total
    return average.quantize(Decimal("1e-10"))  # a price, not 28 digits of division


# -- reading


def get_order(session: Session, order_id: str) -> OrderLifecycle | None:
    return session.scalar(
        select(OrderLifecycle)
        .where(OrderLifecycle.id == order_id)
        .options(selectinload(OrderLifecycle.transitions))
    )


def find_by_idempotency_key(session: Session, key: str) -> OrderLifecycle | None:
    return session.scalar(select(OrderLifecycle).where(OrderLifecycle.idempotency_key == key))


def list_orders(
    session: Session, *, status: str | None, symbol: str | None, limit: int
) -> Sequence[OrderLifecycle]:
    """Newest first."""
    query = select(OrderLifecycle)
    if status is not None:
        query = query.where(OrderLifecycle.status == status)
    if symbol is not None:
        query = query.where(OrderLifecycle.symbol == symbol)
    query = query.order_by(OrderLifecycle.created_ms.desc(), OrderLifecycle.id.desc())
    return session.scalars(query.limit(limit)).all()


def get_position(session: Session, order_id: str) -> Position | None:
    return session.get(Position, order_id)


def list_positions(session: Session, *, status: str | None, limit: int) -> Sequence[Position]:
    """Most recently opened first."""
    query = select(Position)
    if status is not None:
        query = query.where(Position.status == status)
    query = query.order_by(Position.opened_ms.desc(), Position.id.desc())
    return session.scalars(query.limit(limit)).all()


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed after one change sequence value, up to ``upto`` (see ``db/changes.py``)."""

    upto: int
    orders: Sequence[OrderLifecycle]
    positions: Sequence[Position]


def changed_after(session: Session, after_seq: int) -> Changes:
    """Rows changed by transactions numbered ``after_seq + 1 .. upto``. ``upto`` is read
    first: every transaction up to it has committed, so the two reads below see all of
    them even on PostgreSQL, where each statement takes its own snapshot."""
    upto = last_change_seq(session)
    if upto <= after_seq:
        return Changes(after_seq, (), ())
    orders = session.scalars(
        select(OrderLifecycle)
        .where(OrderLifecycle.change_seq > after_seq, OrderLifecycle.change_seq <= upto)
        .order_by(OrderLifecycle.change_seq)
    ).all()
    positions = session.scalars(
        select(Position)
        .where(Position.change_seq > after_seq, Position.change_seq <= upto)
        .order_by(Position.change_seq)
    ).all()
    return Changes(upto, orders, positions)
