"""Rounding prices and sizes to the contract, against BitMart's real BTCUSDT details."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.contract import (
    ContractSpec,
    contracts_for_quantity,
    quantity_for_contracts,
    round_price,
    round_to_step,
    validate_leverage,
)
from zoneguard.domain.errors import ContractError, DomainError

D = Decimal
FIXTURE = Path(__file__).parents[2] / "fixtures" / "bitmart" / "rest_contract_details_response.json"


def btcusdt() -> ContractSpec:
    """Built from the real wire sample (the adapter's own parser is not ours to test here)."""
    raw = json.loads(FIXTURE.read_text())["data"]["symbols"][0]
    return ContractSpec(
        symbol=raw["symbol"],
        base_currency=raw["base_currency"],
        quote_currency=raw["quote_currency"],
        contract_size=D(raw["contract_size"]),
        tick_size=D(raw["price_precision"]),
        lot_size=D(raw["vol_precision"]),
        min_volume=D(raw["min_volume"]),
        max_volume=D(raw["max_volume"]),
        market_max_volume=D(raw["max_volume"]) / 10,
        min_leverage=D(raw["min_leverage"]),
        max_leverage=D(raw["max_leverage"]),
    )


SPEC = btcusdt()


def test_fixture_is_the_one_we_think() -> None:
    assert (SPEC.contract_size, SPEC.tick_size, SPEC.lot_size) == (D("0.001"), D("0.1"), D(1))


@pytest.mark.parametrize(
    ("price", "direction", "expected"),
    [
        ("65250.05", "down", "65250.0"),
        ("65250.05", "up", "65250.1"),
        ("65250.05", "nearest", "65250.1"),  # ties away from zero
        ("65250.04", "nearest", "65250.0"),
        ("65250", "up", "65250.0"),
        ("65250.0", "down", "65250.0"),
        ("0.01", "down", "0.0"),
        ("0.01", "up", "0.1"),
    ],
)
def test_round_price(price: str, direction: str, expected: str) -> None:
    result = round_price(SPEC, D(price), direction)  # type: ignore[arg-type]
    assert result == D(expected)
    assert str(result) == expected  # written with the tick's decimals


def test_round_to_odd_steps() -> None:
    assert round_to_step(D("1.26"), D("0.25"), "down") == D("1.25")
    assert round_to_step(D("1.26"), D("0.25"), "up") == D("1.5")
    assert str(round_to_step(D("65254"), D("10"), "nearest")) == "65250"
    assert round_to_step(D("-1.05"), D("0.1"), "down") == D("-1.1")


@pytest.mark.parametrize(
    ("value", "step", "direction"),
    [("1", "0", "down"), ("1", "-0.1", "up"), ("NaN", "0.1", "down"), ("1", "0.1", "sideways")],
)
def test_round_to_step_refuses_nonsense(value: str, step: str, direction: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any of several messages
        round_to_step(D(value), D(step), direction)  # type: ignore[arg-type]


@given(
    price=st.decimals(min_value=D("0.0001"), max_value=D(10**7), places=6),
    tick=st.sampled_from([D("0.1"), D("0.01"), D("0.5"), D("0.0001"), D(1), D(5)]),
)
def test_rounding_lands_on_the_grid_on_the_right_side(price: Decimal, tick: Decimal) -> None:
    down = round_to_step(price, tick, "down")
    up = round_to_step(price, tick, "up")
    nearest = round_to_step(price, tick, "nearest")
    for value in (down, up, nearest):
        assert value % tick == 0
    assert down <= price <= up
    assert up - down in (0, tick)
    assert nearest in (down, up)
    assert abs(nearest - price) <= tick / 2


@pytest.mark.parametrize(
    ("quantity", "contracts"),
    [("0.01", "10"), ("0.001", "1"), ("0.0105", "10"), ("0.0019999", "1"), ("500", "500000")],
)
def test_contracts_for_quantity_rounds_down(quantity: str, contracts: str) -> None:
    result = contracts_for_quantity(SPEC, D(quantity))
    assert result == D(contracts)
    assert str(result) == contracts


def test_below_one_contract_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ContractError) as caught:
        contracts_for_quantity(SPEC, D("0.0005"))
    assert caught.value.field == "quantity"
    assert "0.0005 BTC is below one contract of 0.001 BTC" in str(caught.value)
    assert isinstance(caught.value, DomainError)


def test_below_a_larger_minimum_names_the_minimum() -> None:
    spec = replace(SPEC, min_volume=D(5))
    with pytest.raises(ContractError, match="minimum of 5 contracts"):
        contracts_for_quantity(spec, D("0.004"))
    assert contracts_for_quantity(spec, D("0.005")) == 5


def test_above_the_maximum_is_refused() -> None:
    with pytest.raises(ContractError, match="maximum of 500000 contracts") as caught:
        contracts_for_quantity(SPEC, D("500.001"))
    assert caught.value.field == "quantity"
    assert contracts_for_quantity(SPEC, D("50")) == 50_000
    with pytest.raises(ContractError, match="market-order maximum"):
        contracts_for_quantity(SPEC, D("50.001"), market=True)


@pytest.mark.parametrize("quantity", ["0", "-0.01", "NaN", "Infinity"])
def test_non_positive_quantity_is_refused(quantity: str) -> None:
    with pytest.raises(ContractError, match="positive"):
        contracts_for_quantity(SPEC, D(quantity))


def test_fractional_lot_sizes() -> None:
    spec = replace(SPEC, contract_size=D(1), lot_size=D("0.1"), min_volume=D("0.1"))
    assert contracts_for_quantity(spec, D("1.27")) == D("1.2")
    assert str(contracts_for_quantity(spec, D("3"))) == "3.0"


@given(
    contracts=st.integers(1, 500_000),
    extra=st.decimals(min_value=0, max_value=D("0.000999"), places=6),
)
def test_quantity_and_contracts_round_trip(contracts: int, extra: Decimal) -> None:
    quantity = quantity_for_contracts(SPEC, D(contracts))
    assert contracts_for_quantity(SPEC, quantity) == contracts
    assert contracts_for_quantity(SPEC, quantity + extra) == contracts  # never rounds up


def test_quantity_for_contracts_is_exact() -> None:
    assert quantity_for_contracts(SPEC, D(10)) == D("0.010")
    assert quantity_for_contracts(SPEC, D(3)) == D("0.003")


@pytest.mark.parametrize(("leverage", "ok"), [(1, True), (100, True), (0, False), (101, False)])
def test_validate_leverage(leverage: int, ok: bool) -> None:
    if ok:
        validate_leverage(SPEC, leverage)
        validate_leverage(SPEC, D(leverage))
    else:
        with pytest.raises(ContractError, match="outside") as caught:
            validate_leverage(SPEC, leverage)
        assert caught.value.field == "leverage"
