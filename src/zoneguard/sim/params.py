"""Reading request fields (JSON body or query string) with BitMart's error codes.

Missing required field -> 40011; a value of the wrong kind -> 40007; a size that is a
number but not whole -> 40043. Booleans are never numbers.

A JSON body wrapped in :class:`StrictBody` must carry BitMart's JSON types (PROTOCOL §1):
decimals (prices, ``leverage``, amounts) as strings, enums and ``size`` as integers; any
other JSON type is 40007, since BitMart documents no other code for a malformed parameter.
Query strings, and bodies of a simulator started with lenient types, accept numeric
strings for numbers and numbers for decimals. Order ids are JSON integers or strings either
way: BitMart's own samples use both.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from zoneguard.sim import errors as e
from zoneguard.sim.decimals import to_decimal
from zoneguard.sim.errors import SimError

Params = Mapping[str, object]


class StrictBody(dict[str, object]):
    """A decoded JSON body whose fields must have BitMart's JSON types."""


def _strict(params: Params) -> bool:
    return isinstance(params, StrictBody)


def _wrong_type(name: str, kind: str) -> SimError:
    return SimError(e.PARSE_ERROR, f"{name} must be a JSON {kind}")


def present(params: Params, name: str) -> bool:
    value = params.get(name)
    return value is not None and value != ""


def required(params: Params, name: str) -> object:
    if not present(params, name):
        raise SimError(e.INVALID_REQUEST, f"{name} is required")
    return params[name]


def text(params: Params, name: str, default: str = "") -> str:
    if not present(params, name):
        return default
    value = params[name]
    if not isinstance(value, str):
        raise SimError(e.PARSE_ERROR, f"{name} must be a string")
    return value


def required_text(params: Params, name: str) -> str:
    required(params, name)
    return text(params, name)


def integer(params: Params, name: str, default: int | None = None) -> int | None:
    if not present(params, name):
        return default
    value = params[name]
    if _strict(params) and (isinstance(value, bool) or not isinstance(value, int)):
        raise _wrong_type(name, "integer")
    if isinstance(value, bool):
        raise SimError(e.PARSE_ERROR, f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise SimError(e.PARSE_ERROR, f"{name} must be an integer")


def required_integer(params: Params, name: str) -> int:
    required(params, name)
    value = integer(params, name)
    assert value is not None
    return value


def size(params: Params, name: str = "size") -> int:
    """Contracts: whole numbers only (1.5 -> 40043, "abc" -> 40007; strictly, anything but
    a JSON integer -> 40007)."""
    raw = required(params, name)
    if _strict(params) and (isinstance(raw, bool) or not isinstance(raw, int)):
        raise _wrong_type(name, "integer")
    number = to_decimal(raw)
    if number is None:
        raise SimError(e.PARSE_ERROR, f"{name} must be an integer")
    if number != number.to_integral_value():
        raise SimError(e.PRECISION_INVALID, f"{name} must be a whole number of contracts")
    return int(number)


def optional_size(params: Params, name: str = "size") -> int | None:
    return size(params, name) if present(params, name) else None


def decimal(params: Params, name: str) -> Decimal | None:
    if not present(params, name):
        return None
    raw = params[name]
    if _strict(params) and not isinstance(raw, str):
        raise _wrong_type(name, "string")
    value = to_decimal(raw)
    if value is None:
        raise SimError(e.PARSE_ERROR, f"{name} must be a decimal number")
    return value


def required_decimal(params: Params, name: str) -> Decimal:
    required(params, name)
    value = decimal(params, name)
    assert value is not None
    return value


def order_id(params: Params, name: str = "order_id") -> int | None:
    """BitMart takes ids as JSON ints or strings; anything else cannot name an order."""
    if not present(params, name):
        return None
    value = params[name]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise SimError(e.PARSE_ERROR, f"{name} must be an integer id")
