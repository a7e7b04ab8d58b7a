"""Price choices for orders: where a maker entry rests, and how much a fill slipped.

The seed enters with post-only (maker) limit orders to avoid taker fees. A post-only order
that would cross the book is refused by the exchange, so the entry price must sit strictly
on our side of the opposite best price, yet as close to it as possible to get filled.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

from zoneguard.domain.contract import round_to_step
from zoneguard.domain.values import Side

_DIVISION = Context(prec=28, rounding=ROUND_HALF_EVEN)
"""Fixed context, so a caller's thread-local decimal settings cannot change a result."""
_EXACT = Context(prec=80, rounding=ROUND_HALF_EVEN)


def maker_entry_price(
    side: Side,
    zone_low: Decimal,
    zone_high: Decimal,
    last: Decimal,
    bid: Decimal | None,
    ask: Decimal | None,
    tick: Decimal,
) -> Decimal | None:
    """The best post-only limit price inside ``[zone_low, zone_high]``, or None if none rests.

    Long: the highest price on the ``tick`` grid strictly below the ask (else the bid, else
    one tick under ``last``), capped at ``zone_high`` rounded DOWN. Short, mirrored: the
    lowest grid price strictly above the bid (else the ask, else one tick over ``last``),
    floored at ``zone_low`` rounded UP. None when that price falls outside the zone (the
    market is on the wrong side of it, or the zone holds no grid price).
    """
    if zone_low > zone_high:
        raise ValueError(f"zone_low {zone_low} is above zone_high {zone_high}")
    if side is Side.LONG:
        # The highest grid price strictly below the ask (or at the bid, or under last).
        if ask is not None:
            ceiling = _EXACT.subtract(round_to_step(ask, tick, "up"), tick)
        elif bid is not None:
            ceiling = round_to_step(bid, tick, "down")
        else:
            ceiling = _EXACT.subtract(round_to_step(last, tick, "up"), tick)
        price = min(ceiling, round_to_step(zone_high, tick, "down"))
    else:
        # The lowest grid price strictly above the bid (or at the ask, or over last).
        if bid is not None:
            floor = _EXACT.add(round_to_step(bid, tick, "down"), tick)
        elif ask is not None:
            floor = round_to_step(ask, tick, "up")
        else:
            floor = _EXACT.add(round_to_step(last, tick, "down"), tick)
        price = max(floor, round_to_step(zone_low, tick, "up"))
    if price < zone_low or price > zone_high or price <= 0:
        return None
    return price


def take_profit_limit(
    side: Side, level: Decimal, tolerance_percent: Decimal, tick: Decimal
) -> Decimal:
    """The worst price a take-profit's close may fill at: ``level`` less the tolerance for
    a long (it sells), plus it for a short (it buys), on the ``tick`` grid rounded toward
    the level, so the limit never gives away more than the tolerance allows."""
    if not level.is_finite() or level <= 0:
        raise ValueError(f"level must be positive, got {level}")
    if not tolerance_percent.is_finite() or not 0 <= tolerance_percent < 100:
        raise ValueError(f"tolerance_percent must be in [0, 100), got {tolerance_percent}")
    share = _DIVISION.divide(tolerance_percent, Decimal(100))
    if side is Side.LONG:
        return round_to_step(_EXACT.multiply(level, 1 - share), tick, "up")
    return round_to_step(_EXACT.multiply(level, 1 + share), tick, "down")


def slippage_percent(
    side: Side, expected: Decimal, actual: Decimal, *, closing: bool = True
) -> Decimal:
    """How much worse than ``expected`` the fill ``actual`` was, in percent of ``expected``
    (negative = better for us). ``side`` is the *position's* side; by default the trade
    closes it (a long closes by selling, so a lower price is worse); ``closing=False``
    for a trade that opens it."""
    if not expected.is_finite() or expected <= 0:
        raise ValueError(f"expected price must be positive, got {expected}")
    sells = (side is Side.LONG) == closing
    worse_by = _EXACT.subtract(expected, actual) if sells else _EXACT.subtract(actual, expected)
    return _DIVISION.divide(_EXACT.multiply(worse_by, Decimal(100)), expected)
