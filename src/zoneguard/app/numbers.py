"""Bounds on the prices the app takes in, the same as a signal's (``zoneguard.domain.plan``):
below 1e15 with at most 18 decimal places, which NUMERIC(38, 18) stores exactly. Checked on
the number's digits, never on its text: ``1e-9999999`` written out is ten megabytes."""

from __future__ import annotations

from decimal import Decimal

from zoneguard.domain.plan import MAX_DECIMAL_PLACES, MAX_NUMBER
from zoneguard.domain.values import decimal_text


def decimal_places(number: Decimal) -> int:
    """Digits after the point in the shortest plain form (``1.50`` -> 1, ``1E+3`` -> 0)."""
    _sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {number}")
    zeros = len(digits) - len(bytes(digits).rstrip(b"\0"))
    if zeros == len(digits):
        return 0  # zero
    return max(0, -(exponent + zeros))


def price_problem(number: Decimal) -> str | None:
    """Why ``number`` is no price we store, or None."""
    if not number.is_finite():
        return "must be a finite number"
    if number.copy_abs() >= MAX_NUMBER:  # abs() would overflow the context on 1e9999999
        return f"must be < {decimal_text(MAX_NUMBER)}"
    if decimal_places(number) > MAX_DECIMAL_PLACES:
        return f"must have at most {MAX_DECIMAL_PLACES} decimal places"
    return None


def bounded_price(number: Decimal) -> Decimal:
    """Pydantic's after-validator form of :func:`price_problem` (shortest form kept)."""
    problem = price_problem(number)
    if problem is not None:
        raise ValueError(problem)
    return Decimal(decimal_text(number))
