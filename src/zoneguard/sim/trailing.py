"""Trailing orders (``submit-trail-order``): activation, the tracked extreme, the callback.

A sell trail (sides 3 and 4) activates once the price is at or above its activation price,
then follows the highest price since; it fires when the price falls ``callback_rate``
percent below that high. A buy trail (sides 1 and 2) mirrors it: activates at or below the
activation price, follows the low, fires ``callback_rate`` percent above it. Firing sends
a market order (PROTOCOL §7.8; bitmart-skills "How trailing stops work"). The last price is
both "last" and "mark" in the simulator, so ``activation_price_type`` does not change when.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from zoneguard.sim.model import PLAN_STATE_ACTIVE, PositionMode, is_buy

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
