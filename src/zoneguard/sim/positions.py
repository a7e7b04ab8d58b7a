"""What one fill does to a position: size, average entry, margin and realised PnL.

Pure arithmetic on :class:`~zoneguard.sim.model.Position`, kept apart from the engine so
hedge mode (each side its own position) and one-way mode (a fill may first reduce the
opposite position, then open with the rest) share one definition of a fill's effect.
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.contracts import SimContract
from zoneguard.sim.model import LONG, Position


def reopen(position: Position, leverage: Decimal, open_type: str, now: int) -> None:
    """Start a flat position afresh: the new order's leverage, nothing carried over."""
    position.leverage = leverage
    position.open_type = open_type
    position.entry_price = Decimal(0)
    position.margin = Decimal(0)
    position.realised_pnl = Decimal(0)
    position.fees = Decimal(0)
    position.close_volume = 0
    position.close_value = Decimal(0)
    position.open_time = now


def increase(position: Position, contract: SimContract, qty: int, price: Decimal) -> None:
    """Add ``qty`` contracts bought (long) or sold (short) at ``price``; margin at the
    position's leverage. The caller reopens a flat position first (:func:`reopen`)."""
    held = position.hold + qty
    position.entry_price = (position.entry_price * position.hold + price * qty) / held
    position.hold = held
    position.margin += contract.notional(qty, price) / position.leverage


def reduce(position: Position, contract: SimContract, qty: int, price: Decimal) -> Decimal:
    """Close ``qty`` (<= hold) contracts at ``price``; returns the realised PnL."""
    direction = 1 if position.position_type == LONG else -1
    realised = (price - position.entry_price) * qty * contract.contract_size * direction
    position.margin -= position.margin * qty / position.hold
    position.hold -= qty
    position.close_volume += qty
    position.close_value += price * qty
    position.realised_pnl += realised
    return realised
