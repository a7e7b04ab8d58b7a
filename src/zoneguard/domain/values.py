"""Small value types shared by every layer: symbols, sides, margin modes.

Prices and sizes are plain ``decimal.Decimal`` everywhere; these enums carry the
few words the whole system agrees on, so nothing venue-shaped leaks past an adapter.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

Symbol = str
"""An instrument as the trader writes it: base + quote, upper case, e.g. ``BTCUSDT``."""


class Side(StrEnum):
    """Direction of a position (not of a single order)."""

    LONG = "long"
    SHORT = "short"

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class PriceSource(StrEnum):
    """Which price an exchange-side trigger watches."""

    LAST = "last"
    MARK = "mark"


def decimal_text(value: Decimal) -> str:
    """Shortest plain text (no exponent) of ``value``: ``65000``, ``0.01``.

    Equal values give equal text, so journaled payloads compare by value.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
