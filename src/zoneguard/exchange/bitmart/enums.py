"""BitMart's integer and string enumerations <-> the domain's words (PROTOCOL §4).

Both directions live here so an encoding and its decoding can never drift apart.
"""

from __future__ import annotations

from zoneguard.domain.market import OrderOrigin, TimeInForce
from zoneguard.domain.values import MarginMode, PriceSource, Side

# side: 1 buy_open_long, 2 buy_close_short, 3 sell_close_long, 4 sell_open_short
_SIDE_BY_CODE: dict[int, tuple[Side, bool]] = {
    1: (Side.LONG, False),
    2: (Side.SHORT, True),
    3: (Side.LONG, True),
    4: (Side.SHORT, False),
}
_CODE_BY_SIDE = {pair: code for code, pair in _SIDE_BY_CODE.items()}

_MODE_BY_TIF = {
    TimeInForce.GTC: 1,
    TimeInForce.FOK: 2,
    TimeInForce.IOC: 3,
    TimeInForce.POST_ONLY: 4,
}
_PRICE_TYPE_BY_SOURCE = {PriceSource.LAST: 1, PriceSource.MARK: 2}
_SOURCE_BY_PRICE_TYPE = {code: source for source, code in _PRICE_TYPE_BY_SOURCE.items()}

# open_type: strings on REST and in order pushes, ints (1 isolated, 2 cross) in position pushes.
_MARGIN_BY_OPEN_TYPE: dict[object, MarginMode] = {
    "isolated": MarginMode.ISOLATED,
    "cross": MarginMode.CROSS,
    1: MarginMode.ISOLATED,
    2: MarginMode.CROSS,
}

# Order ``type`` values that say an exchange-side trigger created the order.
_ORIGIN_BY_ORDER_TYPE = {
    "take_profit": OrderOrigin.TAKE_PROFIT,
    "stop_loss": OrderOrigin.STOP_LOSS,
    "plan_order": OrderOrigin.PLAN,
    "planorder": OrderOrigin.PLAN,
    "plan": OrderOrigin.PLAN,
    "trailing_order": OrderOrigin.PLAN,
    "trailing": OrderOrigin.PLAN,
    "liquidate": OrderOrigin.LIQUIDATION,
    "bankruptcy": OrderOrigin.LIQUIDATION,
    "adl": OrderOrigin.OTHER,
}
STOP_TYPE_BY_ORIGIN = {OrderOrigin.TAKE_PROFIT: "take_profit", OrderOrigin.STOP_LOSS: "stop_loss"}


def decode_side(code: object) -> tuple[Side, bool]:
    """BitMart side code -> (position side, reduce_only)."""
    if isinstance(code, int) and code in _SIDE_BY_CODE:
        return _SIDE_BY_CODE[code]
    raise ValueError(f"unknown BitMart side {code!r}")


def encode_side(position_side: Side, reduce_only: bool) -> int:
    return _CODE_BY_SIDE[(position_side, reduce_only)]


def encode_mode(time_in_force: TimeInForce) -> int:
    return _MODE_BY_TIF[time_in_force]


def encode_price_type(source: PriceSource) -> int:
    return _PRICE_TYPE_BY_SOURCE[source]


def decode_price_type(code: object) -> PriceSource | None:
    return _SOURCE_BY_PRICE_TYPE.get(code) if isinstance(code, int) else None


def encode_open_type(mode: MarginMode) -> str:
    return "isolated" if mode is MarginMode.ISOLATED else "cross"


def decode_open_type(raw: object) -> MarginMode | None:
    """``"isolated"``/``"cross"`` (any case) or the position push's ``1``/``2``."""
    key = raw.lower() if isinstance(raw, str) else raw
    if isinstance(key, bool):
        return None
    return _MARGIN_BY_OPEN_TYPE.get(key)


def origin_of_order_type(order_type: object) -> OrderOrigin:
    if isinstance(order_type, str):
        return _ORIGIN_BY_ORDER_TYPE.get(order_type, OrderOrigin.CLIENT)
    return OrderOrigin.CLIENT


def decode_position_type(code: object) -> Side:
    """``position_type``: 1 long, 2 short."""
    if code == 1:
        return Side.LONG
    if code == 2:
        return Side.SHORT
    raise ValueError(f"unknown BitMart position_type {code!r}")
