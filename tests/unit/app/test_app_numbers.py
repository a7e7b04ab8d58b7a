"""Decimal places are read from the digits, so absurd exponents cost nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zoneguard.app.numbers import decimal_places, price_problem


@pytest.mark.parametrize(
    ("text", "places"),
    [("1.50", 1), ("1E+3", 0), ("0", 0), ("0E-30", 0), ("0.000000000000000001", 18), ("-2.25", 2)],
)
def test_decimal_places(text: str, places: int) -> None:
    assert decimal_places(Decimal(text)) == places


def test_absurd_numbers_are_named_at_once() -> None:
    assert "decimal places" in str(price_problem(Decimal("1e-9999999")))
    assert "< 1000000000000000" in str(price_problem(Decimal("1e9999999")))
    assert "finite" in str(price_problem(Decimal("NaN")))
    assert price_problem(Decimal("-999999999999999.999999999999999999")) is None
