"""What the engine asks its shell to do. Plain values: the worker journals one before it
acts on it, the backtester fills it from the bars."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class ExitReason(StrEnum):
    """Why contracts are closed (the ``reason`` of ``partially_closed`` and ``closed``)."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    BREAK_EVEN = "break_even"
    TRAILING_STOP = "trailing_stop"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Close:
    """Close ``quantity`` contracts (reduce-only) for ``reason``; ``take_profit_index`` is
    the ladder leg (1-based, as traders say TP1) for a take-profit, else None."""

    quantity: Decimal
    reason: ExitReason
    take_profit_index: int | None = None


@dataclass(frozen=True, slots=True)
class MoveStop:
    """The stop moves to ``level`` (always tighter); the exchange-side backstop follows."""

    level: Decimal
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class PlaceEntry:
    """Place the post-only entry of zone ``zone_index`` (1-based) for ``quantity`` contracts."""

    zone_index: int
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class CancelEntry:
    """Cancel what is left of zone ``zone_index``'s entry (its fills stay, guarded)."""

    zone_index: int


Intent = Close | MoveStop | PlaceEntry | CancelEntry
