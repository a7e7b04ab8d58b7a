"""Trailing orders (``submit-trail-order``): activation, the tracked extreme, the callback.

A sell trail (sides 3 and 4) activates once the price is at or above its activation price,
then follows the highest price since; it fires when the price falls ``callback_rate``
percent below that high. A buy trail (sides 1 and 2) mirrors it: activates at or below the
activation price, follows the low, fires ``callback_rate`` percent above it. Firing sends
a market order (PROTOCOL §7.8; bitmart-skills "How trailing stops work"). The last price is
both "last" and "mark" in the simulator, so ``activation_price_type`` does not change when.
:class:`Trails` keeps the engine's trailing orders: accepts, cancels and fires them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from zoneguard.sim import errors as e
from zoneguard.sim.account import Account
from zoneguard.sim.checks import check_price, check_price_type
from zoneguard.sim.errors import SimError
from zoneguard.sim.ids import IdSource
from zoneguard.sim.market import Market
from zoneguard.sim.model import (
    PLAN_STATE_ACTIVE,
    PLAN_STATE_CANCELLED,
    PLAN_STATE_TRIGGERED,
    SIDES,
    Order,
    OrderOrigin,
    PositionMode,
    is_buy,
    is_opening,
    position_type_of,
)
from zoneguard.sim.order_requests import OrderRequest, TrailRequest

MIN_CALLBACK_RATE = Decimal("0.1")
MAX_CALLBACK_RATE = Decimal(5)
HUNDRED = Decimal(100)


@dataclass(slots=True)
class TrailOrder:
    order_id: int
    symbol: str
    side: int
    size: int
    leverage: Decimal
    open_type: str
    activation_price: Decimal
    activation_price_type: int
    callback_rate: Decimal  # percent: "1" is 1 %
    create_time: int
    update_time: int
    position_mode: PositionMode
    state: int = PLAN_STATE_ACTIVE
    activated: bool = False
    extreme: Decimal = Decimal(0)  # the high (sell) or low (buy) since activation
    executive_order_id: int | None = None

    @property
    def sells(self) -> bool:
        return not is_buy(self.side)


def observe(trail: TrailOrder, price: Decimal) -> bool:
    """Feed the last price; True when the trail fires (the caller sends its order)."""
    if not trail.activated:
        if price < trail.activation_price if trail.sells else price > trail.activation_price:
            return False
        trail.activated = True
        trail.extreme = price
    if trail.sells:
        trail.extreme = max(trail.extreme, price)
        return price <= trail.extreme * (1 - trail.callback_rate / HUNDRED)
    trail.extreme = min(trail.extreme, price)
    return price >= trail.extreme * (1 + trail.callback_rate / HUNDRED)


class TrailOrderSender(Protocol):
    """Sends the market order of a fired trail: the engine's ``submit_order``."""

    def __call__(self, req: OrderRequest, *, origin: OrderOrigin, trail: TrailOrder) -> Order: ...


class Trails:
    """The trailing orders accepted, by id, and the active ones per symbol."""

    def __init__(
        self, market: Market, account: Account, ids: IdSource, clock: Callable[[], int]
    ) -> None:
        self._market = market
        self._account = account
        self._ids = ids
        self._clock = clock
        self._trails: dict[int, TrailOrder] = {}
        self._active: dict[str, dict[int, TrailOrder]] = {}  # per symbol

    def trail(self, order_id: int) -> TrailOrder | None:
        return self._trails.get(order_id)

    def trails(self) -> Iterable[TrailOrder]:
        return self._trails.values()

    def active_trails(self) -> Iterable[TrailOrder]:
        for per_symbol in self._active.values():
            yield from per_symbol.values()

    def any_active(self) -> bool:
        return any(self._active.values())

    def submit(self, req: TrailRequest) -> TrailOrder:
        contract = self._market.contract(req.symbol)
        if req.side not in SIDES:
            raise SimError(e.INVALID_SIDE, f"Invalid side {req.side}")
        if not contract.min_volume <= req.size <= contract.market_max_volume:
            raise SimError(e.SIZE_OUT_OF_RANGE, "Size out of range")
        check_price(contract, req.activation_price, "activation_price")
        check_price_type(req.activation_price_type)
        if not MIN_CALLBACK_RATE <= req.callback_rate <= MAX_CALLBACK_RATE:
            raise SimError(e.INVALID_REQUEST, "callback_rate must be between 0.1 and 5")
        leverage, open_type = self._account.leverage_setting(req.symbol)
        if is_opening(req.side):
            leverage, open_type = self._account.resolve_leverage(
                req.symbol, req.leverage, req.open_type
            )
        now = self._clock()
        trail = TrailOrder(
            order_id=self._ids.order_id(),
            symbol=req.symbol,
            side=req.side,
            size=req.size,
            leverage=leverage,
            open_type=open_type,
            activation_price=req.activation_price,
            activation_price_type=req.activation_price_type,
            callback_rate=req.callback_rate,
            create_time=now,
            update_time=now,
            position_mode=self._account.position_mode,
        )
        observe(trail, self._market.last_price(req.symbol))  # activates at once if reached
        self._trails[trail.order_id] = trail
        self._active.setdefault(req.symbol, {})[trail.order_id] = trail
        return trail

    def cancel(self, symbol: str, order_id: int | None) -> list[int]:
        """One trail order, or every one of ``symbol`` without an id."""
        self._market.book(symbol)
        active = self._active.get(symbol, {})
        if order_id is None:
            victims = list(active.values())
        elif order_id in active:
            victims = [active[order_id]]
        else:
            raise SimError(e.ORDER_NOT_EXIST, "Trail order not exist")
        for trail in victims:
            self._end(trail, PLAN_STATE_CANCELLED)
        return [trail.order_id for trail in victims]

    def fire_reached(self, symbol: str, send: TrailOrderSender) -> list[Order]:
        """Feed ``symbol``'s last price to its active trails (all of them, before any
        fires), then send the orders of those that fired; returns the orders sent."""
        active = self._active.get(symbol)
        if not active:
            return []
        last = self._market.last_price(symbol)
        fired = [trail for trail in active.values() if observe(trail, last)]
        sent: list[Order] = []
        for trail in fired:
            order = self._fire(trail, send)
            if order is not None:
                sent.append(order)
        return sent

    def _fire(self, trail: TrailOrder, send: TrailOrderSender) -> Order | None:
        """Send a fired trail's market order; a close is cut to what is held."""
        self._end(trail, PLAN_STATE_TRIGGERED)
        size = trail.size
        if not is_opening(trail.side):
            position = self._account.position(trail.symbol, position_type_of(trail.side))
            size = min(size, position.hold if position is not None else 0)
        req = OrderRequest(
            symbol=trail.symbol,
            side=trail.side,
            size=size,
            type="market",
            leverage=trail.leverage,
            open_type=trail.open_type,
        )
        try:
            order = send(req, origin="trailing_order", trail=trail)
        except SimError:
            trail.state = PLAN_STATE_CANCELLED
            return None
        trail.executive_order_id = order.order_id
        return order

    def _end(self, trail: TrailOrder, state: int) -> None:
        self._active.get(trail.symbol, {}).pop(trail.order_id, None)
        trail.state = state
        trail.update_time = self._clock()
