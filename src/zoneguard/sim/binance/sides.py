"""Binance's side, positionSide and reduceOnly, as the engine's sides 1..4.

One-way mode (Binance's default, ``positionSide`` BOTH): BUY is side 1 and SELL side 4 (the
engine nets an opposite position first); with ``reduceOnly`` they are the closing sides 2
(buy back a short) and 3 (sell a long). Hedge mode (LONG/SHORT, mandatory there):
LONG+BUY 1, LONG+SELL 3, SHORT+SELL 4, SHORT+BUY 2, and ``reduceOnly`` is not accepted.
"""

from __future__ import annotations

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.model import CLOSE_LONG, CLOSE_SHORT, OPEN_LONG, OPEN_SHORT

POSITION_SIDES = ("BOTH", "LONG", "SHORT")


def engine_side(side: str, position_side: str, reduce_only: bool, *, hedge: bool) -> int:
    if position_side not in POSITION_SIDES:
        raise BinanceError(e.ILLEGAL_CHARS, "Illegal characters found in parameter 'positionSide'.")
    if hedge != (position_side != "BOTH"):
        raise BinanceError(
            e.POSITION_SIDE_NOT_MATCH, "Order's position side does not match user's setting."
        )
    buy = side == "BUY"
    if hedge:
        if reduce_only:
            raise BinanceError(
                e.PARAM_NOT_REQUIRED, "Parameter 'reduceOnly' sent when not required."
            )
        if position_side == "LONG":
            return OPEN_LONG if buy else CLOSE_LONG
        return CLOSE_SHORT if buy else OPEN_SHORT
    if reduce_only:
        return CLOSE_SHORT if buy else CLOSE_LONG
    return OPEN_LONG if buy else OPEN_SHORT
