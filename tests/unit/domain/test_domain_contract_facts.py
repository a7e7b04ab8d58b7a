"""A contract's facts as JSON and back: exact, with the smallest order in both units."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.contract_facts import contract_facts, smallest_order, spec_from_facts

D = Decimal
SPEC = ContractSpec(
    symbol="BTCUSDT",
    base_currency="BTC",
    quote_currency="USDT",
    contract_size=D("0.001"),
    tick_size=D("0.1"),
    lot_size=D(1),
    min_volume=D(1),
    max_volume=D(500000),
    market_max_volume=D(50000),
    min_leverage=D(1),
    max_leverage=D(125),
)


def test_the_facts_round_trip_exactly() -> None:
    facts = contract_facts(SPEC)
    assert facts["min_quantity"] == "0.001"
    assert facts["max_quantity"] == "500"
    assert facts["max_leverage"] == "125"
    assert spec_from_facts(facts) == SPEC


def test_the_smallest_order_is_on_the_lot_grid() -> None:
    odd = replace(SPEC, lot_size=D(5), min_volume=D(7), contract_size=D("0.01"))
    assert smallest_order(odd) == 10
    assert contract_facts(odd)["min_quantity"] == "0.1"
    assert smallest_order(replace(SPEC, min_volume=D("0.5"))) == 1


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"symbol": None}, "symbol"),
        ({"contract_size": "0"}, "contract_size"),
        ({"tick_size": "abc"}, "tick_size"),
        ({"max_leverage": 125}, "max_leverage"),  # a number, not a decimal string
        ({"lot_size": "NaN"}, "lot_size"),
    ],
)
def test_a_bad_answer_names_its_key(change: dict[str, object], key: str) -> None:
    facts: dict[str, object] = {**contract_facts(SPEC), **change}
    with pytest.raises(ValueError, match=f"^{key}: "):
        spec_from_facts(facts)
