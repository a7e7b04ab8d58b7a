"""Reading Binance request parameters (query and form body merged; all strings).

A missing mandatory parameter is -1102; a malformed number is -1102 too (Binance's
message says "was not sent, was empty/null, or malformed"); an enum outside its values is
the enum's own code (-1115 time in force, -1116 order type, -1117 side).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance.errors import BinanceError

Params = Mapping[str, str]


def text(params: Params, name: str, default: str = "") -> str:
    return params.get(name, "") or default


def required(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise e.missing(name)
    return value


def decimal(params: Params, name: str) -> Decimal | None:
    raw = params.get(name, "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise e.missing(name) from None
    if not value.is_finite():
        raise e.missing(name)
    return value


def required_decimal(params: Params, name: str) -> Decimal:
    value = decimal(params, name)
    if value is None:
        raise e.missing(name)
    return value


def integer(params: Params, name: str) -> int | None:
    raw = params.get(name, "")
    if not raw:
        return None
    digits = raw.removeprefix("-")
    if not digits.isascii() or not digits.isdigit():
        raise e.missing(name)
    return int(raw)


def boolean(params: Params, name: str) -> bool:
    """``"true"``/``"false"`` (any case); absent is false."""
    raw = params.get(name, "").lower()
    if raw in ("", "false"):
        return False
    if raw == "true":
        return True
    raise BinanceError(e.ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'.")


def side(params: Params) -> str:
    value = required(params, "side")
    if value not in ("BUY", "SELL"):
        raise BinanceError(e.INVALID_SIDE, "Invalid side.")
    return value
