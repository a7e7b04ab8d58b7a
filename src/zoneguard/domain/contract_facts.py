"""A contract's facts as JSON: what the worker answers at ``GET /api/market/{symbol}/contract``
and what the app reads back, so both judge a signal's size and leverage by the same rules
(:func:`~zoneguard.domain.contract.contracts_for_quantity`, ``validate_leverage``).

Decimals travel as strings (exact); sizes in contracts and base currency both, so a reader
needs no arithmetic to show the minimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from zoneguard.domain.contract import ContractSpec, quantity_for_contracts, round_to_step
from zoneguard.domain.values import Symbol, decimal_text

_DECIMALS = {
    # JSON key -> ContractSpec field
    "contract_size": "contract_size",
    "lot_size": "lot_size",
    "tick_size": "tick_size",
    "min_contracts": "min_volume",
    "max_contracts": "max_volume",
    "market_max_contracts": "market_max_volume",
    "min_leverage": "min_leverage",
    "max_leverage": "max_leverage",
}


def smallest_order(spec: ContractSpec) -> Decimal:
    """The fewest contracts an order may have: ``min_volume``, on the lot grid, at least a lot."""
    return max(round_to_step(spec.min_volume, spec.lot_size, "up"), spec.lot_size)


def contract_facts(spec: ContractSpec) -> dict[str, str]:
    """``spec`` as the JSON object of the contract route."""
    facts = {"symbol": spec.symbol, "base_currency": spec.base_currency}
    facts["quote_currency"] = spec.quote_currency
    for key, field in _DECIMALS.items():
        facts[key] = decimal_text(getattr(spec, field))
    facts["min_quantity"] = decimal_text(quantity_for_contracts(spec, smallest_order(spec)))
    facts["max_quantity"] = decimal_text(quantity_for_contracts(spec, spec.max_volume))
    return facts


def spec_from_facts(facts: Mapping[str, object]) -> ContractSpec:
    """The :class:`ContractSpec` behind a contract route's answer; ``ValueError`` naming the
    first key that is missing or not a positive decimal string."""
    texts: dict[str, str] = {}
    for key in ("symbol", "base_currency", "quote_currency"):
        value = facts.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key}: missing")
        texts[key] = value
    numbers: dict[str, Decimal] = {}
    for key, field in _DECIMALS.items():
        value = facts.get(key)
        try:
            number = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number <= 0:
            raise ValueError(f"{key}: not a positive decimal string")
        numbers[field] = number
    return ContractSpec(
        symbol=Symbol(texts["symbol"]),
        base_currency=texts["base_currency"],
        quote_currency=texts["quote_currency"],
        **numbers,
    )
