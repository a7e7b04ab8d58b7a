"""The JSON the API and the live feed send: decimals as exact strings, times as both
ISO-8601 UTC and epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from zoneguard.app.db.models import FailedMessage, OrderLifecycle, OrderTransition, Position
from zoneguard.app.rules import ENTRY_STATUSES, TERMINAL
from zoneguard.domain.values import decimal_text


def iso_utc(at_ms: int | None) -> str | None:
    if at_ms is None:
        return None
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def order_view(order: OrderLifecycle) -> dict[str, Any]:
    return {
        "id": order.id,
        "status": order.status,
        "origin": order.origin,
        "symbol": order.symbol,
        "side": order.side,
        "entry_zone_min": _dec(order.entry_zone_min),
        "entry_zone_max": _dec(order.entry_zone_max),
        "entry_zones": order.entry_zones,
        "quantity": _dec(order.quantity),
        "leverage": order.leverage,
        "stop_loss": _dec(order.stop_loss),
        "take_profit": _dec(order.take_profit),
        "timeout_seconds": order.timeout_seconds,
        "metadata": order.signal_metadata,
        **_exit_legs(order.exit_legs),
        "exchange_order_id": order.exchange_order_id,
        "client_order_id": order.client_order_id,
        "close_order_id": order.close_order_id,
        "entry_price": _dec(order.entry_price),
        "close_price": _dec(order.close_price),
        "filled_contracts": _dec(order.filled_contracts),
        "reason": order.reason,
        "error": order.error,
        "error_code": order.error_code,
        "created_at": iso_utc(order.created_ms),
        "updated_at": iso_utc(order.updated_ms),
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
        "version": order.version,
    }


def _exit_legs(legs: dict[str, Any] | None) -> dict[str, Any]:
    stored = legs or {}
    return {name: stored.get(name) for name in ("take_profits", "break_even", "trailing_stop")}


def exit_progress(order: OrderLifecycle) -> dict[str, Any] | None:
    """Where an order with exit legs stands, from the worker's callbacks: each rung of its
    ladder (``closed_quantity``, ``close_price``, ``close_order_id`` once it has filled)
    and the stop as it stands now (moved by break-even or a trailing stop). None for a
    seed signal."""
    if not order.exit_legs:
        return None
    rungs: list[dict[str, Any]] = [
        {"index": index, **rung, "state": "waiting"}
        for index, rung in enumerate(order.exit_legs.get("take_profits") or [], start=1)
    ]
    stop = _dec(order.stop_loss)
    stop_reason = "stop_loss"
    for transition in order.transitions:
        data = transition.data or {}
        if transition.event == "partially_closed":
            index = data.get("take_profit_index")
            if isinstance(index, int) and 1 <= index <= len(rungs):
                rungs[index - 1].update(
                    state="closed",
                    closed_quantity=data.get("closed_quantity"),
                    close_price=data.get("close_price"),
                    close_order_id=data.get("close_order_id"),
                )
        elif transition.event == "stop_moved":
            level = data.get("stop_loss")
            if isinstance(level, int | float | str) and not isinstance(level, bool):
                stop, stop_reason = decimal_text(Decimal(str(level))), str(data.get("reason"))
    if order.status == "closed" and rungs and order.reason == "take_profit":
        for rung in rungs:  # the final close took every rung still waiting
            if rung["state"] == "waiting":
                rung["state"] = "closed"
    return {"take_profits": rungs, "stop_loss": stop, "stop_reason": stop_reason}


def entry_progress(order: OrderLifecycle) -> dict[str, Any] | None:
    """Where an order with several entry zones stands, from the worker's ``placed`` and
    ``filled`` callbacks (their ``entry_index``): each zone ``waiting`` (not entered yet),
    ``placed`` (its post-only entry works: ``contracts``, ``limit_price`` and its ids) or
    ``filled`` (``filled_contracts`` and ``entry_price`` of its own fill). Once the order
    has ended, a zone that never filled is ``dropped``: no zone is entered after a close or
    the timeout, and what was working is cancelled. The position's totals (size, average
    entry) are the order's. None for a seed signal."""
    if not order.entry_zones:
        return None
    zones: list[dict[str, Any]] = [
        {"index": index, **zone, "state": "waiting"}
        for index, zone in enumerate(order.entry_zones, start=1)
    ]
    for transition in order.transitions:
        data = transition.data or {}
        index = data.get("entry_index")
        if transition.event not in ENTRY_STATUSES or type(index) is not int:
            continue
        if not 1 <= index <= len(zones):
            continue
        zone = zones[index - 1]
        ids = {  # a filled names no client id: the placed's stays
            name: _text(data[name])
            for name in ("client_order_id", "exchange_order_id")
            if data.get(name) is not None
        }
        if transition.event == "filled":
            zone.update(
                state="filled",
                filled_contracts=_number(data.get("zone_filled_contracts")),
                entry_price=_number(data.get("zone_entry_price")),
                **ids,
            )
        elif zone["state"] != "filled":
            zone.update(
                state="placed",
                contracts=_number(data.get("contracts")),
                limit_price=_number(data.get("entry_price")),
                **ids,
            )
    if order.status in TERMINAL:
        for zone in zones:
            if zone["state"] != "filled":
                zone["state"] = "dropped"
    return {
        "zones": zones,
        "filled_contracts": _dec(order.filled_contracts),
        "entry_price": _dec(order.entry_price),
    }


def _number(value: object) -> str | None:
    """A number of a callback's body (checked on arrival) as exact decimal text."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return decimal_text(Decimal(str(value).strip()))
    except ArithmeticError:
        return None


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return str(value)


def transition_view(transition: OrderTransition) -> dict[str, Any]:
    return {
        "seq": transition.seq,
        "event": transition.event,
        "source": transition.source,
        "from_status": transition.from_status,
        "to_status": transition.to_status,
        "applied": transition.applied,
        "at": iso_utc(transition.at_ms),
        "at_ms": transition.at_ms,
        "event_time": transition.event_time,
        "event_id": transition.event_id,
        "reason": transition.reason,
        "error": transition.error,
        "data": transition.data,
    }


def position_view(position: Position) -> dict[str, Any]:
    return {
        "id": position.id,
        "order_id": position.id,
        "symbol": position.symbol,
        "side": position.side,
        "status": position.status,
        "quantity": _dec(position.quantity),
        "filled_contracts": _dec(position.filled_contracts),
        "entry_price": _dec(position.entry_price),
        "exit_price": _dec(position.exit_price),
        "realized_pnl": _dec(position.realized_pnl),
        "fees": _dec(position.fees),
        "close_reason": position.close_reason,
        "close_order_id": position.close_order_id,
        "error": position.error,
        "opened_at": iso_utc(position.opened_ms),
        "closed_at": iso_utc(position.closed_ms),
        "updated_at": iso_utc(position.updated_ms),
        "opened_ms": position.opened_ms,
        "closed_ms": position.closed_ms,
        "updated_ms": position.updated_ms,
        "version": position.version,
    }


def failed_message_view(message: FailedMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "message_uuid": message.message_uuid,
        "type": message.message_type,
        "body": message.body,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "created_at": iso_utc(message.created_ms),
        "failed_at": iso_utc(message.failed_ms),
    }
