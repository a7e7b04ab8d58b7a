"""Injected failures, set through ``POST /_sim/faults``: the exchange misbehaving on demand.

* ``reject_orders``: the next N submit-order calls fail with a chosen code (optionally only
  closing or only opening ones); nothing is executed.
* ``order_response``: the next N submit-order calls ARE executed but the client learns
  nothing certain: a 503/30014 reply, a connection closed without reply, or a late reply.
* ``rest_delay_ms``: every REST reply is late by that much.
* ``stall_feed``: public pushes stop while prices keep moving (and fills keep happening).
* ``thin_book``: the next N orders that take liquidity (market orders, crossing limits) find
  only ``contracts`` of it: they fill that much and the rest is cancelled, as on a thin book.
* ``lookup_lag_ms``: orders younger than that are not shown by order lookups (order detail,
  open orders, order history), as an exchange whose reads lag its writes.
* ``drop_order_pushes``: the next N ``futures/order`` pushes are lost on the way.
* ``reject_cancels``: the next N cancel-order calls fail with a chosen code.
``drop_ws`` is an action, not a state: the server closes the sockets at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from zoneguard.sim import errors as e
from zoneguard.sim.errors import SimError

ResponseMode = Literal["503", "drop", "delay"]


@dataclass(slots=True)
class OrderRejection:
    count: int
    code: int
    message: str
    reduce_only: bool | None  # True: only closing orders, False: only opening, None: all


@dataclass(slots=True)
class ThinBook:
    count: int
    contracts: int
    reduce_only: bool | None


@dataclass(slots=True)
class CancelRejection:
    count: int
    code: int


@dataclass(slots=True)
class OrderResponseFault:
    count: int
    mode: ResponseMode
    delay_ms: int


class FaultState:
    def __init__(self) -> None:
        self.reject_orders: OrderRejection | None = None
        self.order_response: OrderResponseFault | None = None
        self.rest_delay_ms = 0
        self.stall_feed = False
        self.thin_book: ThinBook | None = None
        self.lookup_lag_ms = 0
        self.drop_order_pushes = 0
        self.reject_cancels: CancelRejection | None = None

    def clear(self) -> None:
        self.reject_orders = None
        self.order_response = None
        self.rest_delay_ms = 0
        self.stall_feed = False
        self.thin_book = None
        self.lookup_lag_ms = 0
        self.drop_order_pushes = 0
        self.reject_cancels = None

    def take_liquidity(self, reduce_only: bool) -> int | None:
        """Contracts a taking order may fill if the thin-book fault applies (and count it),
        else None (the whole size)."""
        rule = self.thin_book
        if rule is None or (rule.reduce_only is not None and rule.reduce_only != reduce_only):
            return None
        rule.count -= 1
        if rule.count <= 0:
            self.thin_book = None
        return rule.contracts

    def take_dropped_order_push(self) -> bool:
        if self.drop_order_pushes <= 0:
            return False
        self.drop_order_pushes -= 1
        return True

    def take_cancel_rejection(self) -> SimError | None:
        rule = self.reject_cancels
        if rule is None:
            return None
        rule.count -= 1
        if rule.count <= 0:
            self.reject_cancels = None
        return SimError(rule.code, "Cancel rejected by the simulator's fault injection")

    def take_rejection(self, reduce_only: bool) -> SimError | None:
        """The error for this submit-order if a rejection fault applies (and count it)."""
        rule = self.reject_orders
        if rule is None or rule.count <= 0:
            return None
        if rule.reduce_only is not None and rule.reduce_only != reduce_only:
            return None
        rule.count -= 1
        if rule.count == 0:
            self.reject_orders = None
        return SimError(rule.code, rule.message)

    def take_response_fault(self) -> OrderResponseFault | None:
        rule = self.order_response
        if rule is None or rule.count <= 0:
            return None
        rule.count -= 1
        if rule.count == 0:
            self.order_response = None
        return rule

    def apply(self, spec: dict[str, Any]) -> None:
        """Apply a ``/_sim/faults`` body; raises ValueError naming the bad field."""
        if spec.get("clear"):
            self.clear()
        if "reject_orders" in spec:
            self.reject_orders = _parse_rejection(spec["reject_orders"])
        if "order_response" in spec:
            self.order_response = _parse_response(spec["order_response"])
        if "rest_delay_ms" in spec:
            self.rest_delay_ms = _non_negative_int(spec["rest_delay_ms"], "rest_delay_ms")
        if "stall_feed" in spec:
            value = spec["stall_feed"]
            if not isinstance(value, bool):
                raise ValueError("stall_feed must be true or false")
            self.stall_feed = value
        if "thin_book" in spec:
            self.thin_book = _parse_thin_book(spec["thin_book"])
        if "lookup_lag_ms" in spec:
            self.lookup_lag_ms = _non_negative_int(spec["lookup_lag_ms"], "lookup_lag_ms")
        if "drop_order_pushes" in spec:
            self.drop_order_pushes = _non_negative_int(
                spec["drop_order_pushes"], "drop_order_pushes"
            )
        if "reject_cancels" in spec:
            self.reject_cancels = _parse_cancel_rejection(spec["reject_cancels"])

    def describe(self) -> dict[str, Any]:
        return {
            "reject_orders": None
            if self.reject_orders is None
            else {
                "count": self.reject_orders.count,
                "code": self.reject_orders.code,
                "message": self.reject_orders.message,
                "reduce_only": self.reject_orders.reduce_only,
            },
            "order_response": None
            if self.order_response is None
            else {
                "count": self.order_response.count,
                "mode": self.order_response.mode,
                "delay_ms": self.order_response.delay_ms,
            },
            "rest_delay_ms": self.rest_delay_ms,
            "stall_feed": self.stall_feed,
            "thin_book": None
            if self.thin_book is None
            else {
                "count": self.thin_book.count,
                "contracts": self.thin_book.contracts,
                "reduce_only": self.thin_book.reduce_only,
            },
            "lookup_lag_ms": self.lookup_lag_ms,
            "drop_order_pushes": self.drop_order_pushes,
            "reject_cancels": None
            if self.reject_cancels is None
            else {"count": self.reject_cancels.count, "code": self.reject_cancels.code},
        }


def _non_negative_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _parse_rejection(raw: object) -> OrderRejection | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("reject_orders must be an object")
    count = _non_negative_int(raw.get("count", 1), "reject_orders.count")
    code = _non_negative_int(raw.get("code", e.INSUFFICIENT_BALANCE), "reject_orders.code")
    message = raw.get("message", "Rejected by the simulator's fault injection")
    if not isinstance(message, str):
        raise ValueError("reject_orders.message must be a string")
    reduce_only = raw.get("reduce_only")
    if reduce_only is not None and not isinstance(reduce_only, bool):
        raise ValueError("reject_orders.reduce_only must be true, false or null")
    return OrderRejection(count, code, message, reduce_only) if count else None


def _parse_response(raw: object) -> OrderResponseFault | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("order_response must be an object")
    count = _non_negative_int(raw.get("count", 1), "order_response.count")
    mode = raw.get("mode", "503")
    if mode not in ("503", "drop", "delay"):
        raise ValueError('order_response.mode must be "503", "drop" or "delay"')
    delay_ms = _non_negative_int(raw.get("delay_ms", 0), "order_response.delay_ms")
    if mode == "delay" and delay_ms == 0:
        raise ValueError("order_response.delay_ms is required with mode delay")
    return OrderResponseFault(count, mode, delay_ms) if count else None


def _parse_thin_book(raw: object) -> ThinBook | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("thin_book must be an object")
    count = _non_negative_int(raw.get("count", 1), "thin_book.count")
    contracts = _non_negative_int(raw.get("contracts"), "thin_book.contracts")
    reduce_only = raw.get("reduce_only")
    if reduce_only is not None and not isinstance(reduce_only, bool):
        raise ValueError("thin_book.reduce_only must be true, false or null")
    return ThinBook(count, contracts, reduce_only) if count else None


def _parse_cancel_rejection(raw: object) -> CancelRejection | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("reject_cancels must be an object")
    count = _non_negative_int(raw.get("count", 1), "reject_cancels.count")
    code = _non_negative_int(raw.get("code", e.SERVICE_UNAVAILABLE), "reject_cancels.code")
    return CancelRejection(count, code) if count else None
