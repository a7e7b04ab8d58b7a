"""The seed's callback bodies, field names unchanged, plus the fields we add.

Prices and sizes leave as JSON numbers, like the seed's examples (``"entry_price": 65250.0``);
they are built from ``Decimal`` through the shortest float text, which is exact for every
price and size with at most 15 significant digits (all of them, on any venue we know).
``event_id`` and ``timestamp`` are added by the queue when the callback is journaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zoneguard.worker.order_queue import ENTRY_INDEX, Callback, WorkerOrder
from zoneguard.worker.outbox import callback_url_for

TIMEOUT_REASON = "Entry zone not reached within timeout"
"""The ``timeout`` reason of an entry that was never placed (the seed's words)."""


def not_filled_reason(order: WorkerOrder) -> str:
    """The ``timeout`` reason of an entry placed on the exchange, unfilled at its deadline."""
    return (
        f"Entry order placed{_at(order.entry_limit_price)} but not filled within timeout; cancelled"
    )


def partly_filled_reason(order: WorkerOrder) -> str:
    """The ``filled`` callback's reason for an entry partly filled at its deadline: the rest
    was cancelled, the filled contracts stay guarded (and end with ``closed``)."""
    return (
        f"Entry order placed{_at(order.entry_limit_price)} filled {order.filled_contracts} of "
        f"{order.contracts} contracts{_at(order.entry_price)} within timeout; the rest was "
        "cancelled, the filled contracts stay guarded"
    )


def _at(price: Decimal | None) -> str:
    return "" if price is None else f" at {price.normalize():f}"


def realized_pnl(order: WorkerOrder, contracts: Decimal, price: Decimal) -> Decimal | None:
    """PnL of closing ``contracts`` at ``price`` against the average entry (quote currency);
    None while the contract size or the entry is unknown."""
    base = order.extra.get("contract_size")
    if base is None or order.entry_price is None:
        return None
    sign = 1 if order.side.value == "long" else -1
    return sign * (price - order.entry_price) * contracts * Decimal(str(base))


@dataclass(frozen=True, slots=True)
class ZoneFill:
    """What ``filled`` says of one zone's entry (plans with several entry zones): the zone
    (1-based), its entry order, what it filled and at what price, and the whole position."""

    index: int
    exchange_order_id: str | None
    filled: Decimal
    price: Decimal | None
    position_filled: Decimal
    position_price: Decimal | None


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class CallbackFactory:
    """Builds each status's body and picks its URL (the order's, else the app's)."""

    def __init__(self, app_base_url: str) -> None:
        self.app_base_url = app_base_url

    def _callback(self, order: WorkerOrder, body: dict[str, Any]) -> Callback:
        status = body.pop("status")
        body.setdefault("symbol", order.symbol)
        body.setdefault("side", order.side.value)
        url = callback_url_for(order.plan.callback_url, self.app_base_url)
        return Callback(url, status, body)

    def placed(self, order: WorkerOrder) -> Callback:
        """The first entry is on the exchange (with several zones: the zone it serves)."""
        index = order.extra.get(ENTRY_INDEX)
        return self.zone_placed(
            order,
            index if isinstance(index, int) else None,
            contracts=order.contracts,
            price=order.entry_limit_price,
            client_order_id=order.entry_client_id,
            exchange_order_id=order.entry_order_id,
        )

    def zone_placed(
        self,
        order: WorkerOrder,
        entry_index: int | None,
        *,
        contracts: Decimal,
        price: Decimal | None,
        client_order_id: str | None,
        exchange_order_id: str | None,
    ) -> Callback:
        """``placed`` of one entry; ``entry_index`` (1-based) when the plan has zones."""
        zone: dict[str, Any] = {} if entry_index is None else {"entry_index": entry_index}
        return self._callback(
            order,
            {
                "order_id": order.order_id,
                "exchange_order_id": exchange_order_id,
                "status": "placed",
                "entry_price": _number(price),
                "quantity": _number(order.plan.quantity),
                "contracts": _number(contracts),
                "client_order_id": client_order_id,
                **zone,
            },
        )

    def failed(self, order: WorkerOrder, error: str, code: int | None) -> Callback:
        return self._callback(
            order,
            {
                "order_id": order.order_id,
                "status": "failed",
                "error": error,
                "error_code": code,
            },
        )

    def timeout(self, order: WorkerOrder, reason: str = TIMEOUT_REASON) -> Callback:
        return self._callback(
            order, {"order_id": order.order_id, "status": "timeout", "reason": reason}
        )

    def cancelled(self, order: WorkerOrder, reason: str) -> Callback:
        return self._callback(
            order, {"order_id": order.order_id, "status": "cancelled", "reason": reason}
        )

    def filled(
        self,
        order: WorkerOrder,
        reason: str | None = None,
        *,
        zone: ZoneFill | None = None,
    ) -> Callback:
        """Not in the seed: the position is open and guarded (size and average entry).
        ``reason``: why the entry stopped short of its size (its deadline cut it), said here
        so the lifecycle still ends in one final callback (``closed``). ``zone``: with
        several entry zones, the zone's entry and fill; the body's ``filled_contracts`` and
        ``entry_price`` are then the whole position's so far."""
        extra: dict[str, Any] = {} if reason is None else {"reason": reason}
        exchange_order_id = order.entry_order_id
        filled, price = order.filled_contracts, order.entry_price
        if zone is not None:
            extra["entry_index"] = zone.index
            extra["zone_filled_contracts"] = _number(zone.filled)
            extra["zone_entry_price"] = _number(zone.price)
            exchange_order_id = zone.exchange_order_id
            filled, price = zone.position_filled, zone.position_price
        if order.plan.take_profits:
            extra["take_profits"] = [
                {"price": _number(t.price), "size_percent": _number(t.size_percent)}
                for t in order.plan.take_profits
            ]
        return self._callback(
            order,
            {
                **extra,
                "order_id": order.order_id,
                "exchange_order_id": exchange_order_id,
                "status": "filled",
                "entry_price": _number(price),
                "quantity": _number(order.plan.quantity),
                "filled_contracts": _number(filled),
                "stop_loss": _number(order.plan.stop_loss),
                "take_profit": _number(order.plan.take_profit),
            },
        )

    def closed(
        self, order: WorkerOrder, *, closed_by: str, slippage_percent: Decimal | None
    ) -> Callback:
        pnl: Decimal | None = None
        if order.close_price is not None:
            pnl = realized_pnl(order, order.filled_contracts, order.close_price)
            if pnl is not None:
                # The whole position's: what its take-profit rungs realised before this close.
                pnl += Decimal(str((order.extra.get("exit") or {}).get("realized_pnl", "0")))
        return self._callback(
            order,
            {
                "position_id": order.order_id,
                "order_id": order.order_id,
                "close_order_id": order.close_order_id,
                "status": "closed",
                "reason": order.close_reason,
                "close_price": _number(order.close_price),
                "entry_price": _number(order.entry_price),
                # The size closed: an entry closed while partly filled never sent
                # ``filled``, and the receiver would not know what the position was.
                "filled_contracts": _number(order.filled_contracts),
                "trigger_level": _number(order.close_level),
                "closed_by": closed_by,
                "slippage_percent": _number(slippage_percent),
                "realized_pnl": _number(pnl),
            },
        )

    def partially_closed(
        self,
        order: WorkerOrder,
        *,
        close_order_id: str | None,
        take_profit_index: int,
        closed: Decimal,
        remaining: Decimal,
        price: Decimal | None,
    ) -> Callback:
        """A take-profit rung closed part of the position (quantities in contracts, like
        ``filled_contracts``); the rest stays guarded."""
        return self._callback(
            order,
            {
                "position_id": order.order_id,
                "order_id": order.order_id,
                "close_order_id": close_order_id,
                "status": "partially_closed",
                "reason": "take_profit",
                "take_profit_index": take_profit_index,
                "closed_quantity": _number(closed),
                "remaining_quantity": _number(remaining),
                "close_price": _number(price),
                "entry_price": _number(order.entry_price),
                "realized_pnl": _number(
                    None if price is None else realized_pnl(order, closed, price)
                ),
            },
        )

    def stop_moved(self, order: WorkerOrder, level: Decimal, reason: str) -> Callback:
        """The position's stop moved (``break_even`` or ``trailing_stop``); always tighter."""
        return self._callback(
            order,
            {
                "position_id": order.order_id,
                "order_id": order.order_id,
                "status": "stop_moved",
                "stop_loss": _number(level),
                "reason": reason,
            },
        )

    def close_failed(self, order: WorkerOrder, error: str, code: int | None) -> Callback:
        return self._callback(
            order,
            {
                "position_id": order.order_id,
                "order_id": order.order_id,
                "status": "close_failed",
                "reason": order.close_reason,
                "error": error,
                "error_code": code,
            },
        )
