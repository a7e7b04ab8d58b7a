"""The JSON the API and the live feed send: decimals as exact strings, times as both
ISO-8601 UTC and epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from zoneguard.app.db.models import FailedMessage, OrderLifecycle, OrderTransition, Position
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
        "quantity": _dec(order.quantity),
        "leverage": order.leverage,
        "stop_loss": _dec(order.stop_loss),
        "take_profit": _dec(order.take_profit),
        "timeout_seconds": order.timeout_seconds,
        "metadata": order.signal_metadata,
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
