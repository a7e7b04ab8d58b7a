"""Decimal parsing and BitMart-style decimal strings (plain digits, no exponent)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MONEY_QUANTUM = Decimal("0.00000001")
"""Balances, PnL and fees are reported to 8 decimals, like BitMart's USDT amounts."""


def fmt(value: Decimal) -> str:
    """``Decimal`` -> the shortest plain string: ``65000``, ``0.0002``, never ``6.5E+4``."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_money(value: Decimal) -> str:
    """An amount of USDT, rounded to 8 decimals."""
    return fmt(value.quantize(MONEY_QUANTUM))


def to_decimal(raw: object) -> Decimal | None:
    """A finite Decimal from a JSON string or number, else None (bools are not numbers)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        raw = repr(raw)
    if not isinstance(raw, str):
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
