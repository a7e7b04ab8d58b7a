"""Contract metadata (tick, contract size, volume limits) in venue-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
)
from typing import Literal

from zoneguard.domain.errors import ContractError
from zoneguard.domain.values import Symbol


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """What the exchange allows for one perpetual contract.

    ``contract_size`` is the base quantity of one contract (BTCUSDT: 0.001 BTC);
    sizes sent to the exchange are whole multiples of ``lot_size`` contracts.
    """

    symbol: Symbol
    base_currency: str
    quote_currency: str
    contract_size: Decimal
    tick_size: Decimal
    lot_size: Decimal
    min_volume: Decimal
    max_volume: Decimal
    market_max_volume: Decimal
    min_leverage: Decimal
    max_leverage: Decimal
    last_price: Decimal | None = None


# --- Rounding to the contract: the one place prices and sizes are fitted to the venue's grid ---

RoundingDirection = Literal["down", "up", "nearest"]

_EXACT = Context(prec=80, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999)
"""Wide enough that sums, products and integer quotients of realistic prices never round."""

_TO_INTEGER = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_UP}


def round_to_step(value: Decimal, step: Decimal, direction: RoundingDirection) -> Decimal:
    """``value`` moved onto the grid ``k * step``: ``down`` = floor, ``up`` = ceiling,
    ``nearest`` = closest with ties away from zero. The result carries ``step``'s decimals.
    """
    if not step.is_finite() or step <= 0:
        raise ValueError(f"step must be a positive finite number, got {step}")
    if not value.is_finite():
        raise ValueError(f"cannot round a non-finite value: {value}")
    rounding = _TO_INTEGER.get(direction)
    if rounding is None:
        raise ValueError(f"direction must be 'down', 'up' or 'nearest', got {direction!r}")
    steps = _EXACT.divide(value, step).to_integral_value(rounding=rounding, context=_EXACT)
    return _on_grid_exponent(_EXACT.multiply(steps, step), step)


def _on_grid_exponent(value: Decimal, step: Decimal) -> Decimal:
    """Same value written with ``step``'s decimals (``65250`` at tick 0.1 -> ``65250.0``), so
    a price's text is stable whatever path produced it."""
    exponent = min(step.as_tuple().exponent, 0)
    assert isinstance(exponent, int)  # finite step: checked by the caller
    return value.quantize(Decimal(1).scaleb(exponent), context=_EXACT)


def round_price(spec: ContractSpec, price: Decimal, direction: RoundingDirection) -> Decimal:
    """``price`` on the contract's tick grid (``price_precision`` on BitMart)."""
    return round_to_step(price, spec.tick_size, direction)


def contracts_for_quantity(
    spec: ContractSpec, quantity: Decimal, *, market: bool = False
) -> Decimal:
    """Whole contracts for a base-currency ``quantity`` (0.01 BTC at 0.001 BTC each = 10).

    Rounds DOWN to ``lot_size`` so we never trade more than asked; raises
    :class:`ContractError` (``field="quantity"``) when the result is outside the
    contract's limits (``market_max_volume`` when ``market``, else ``max_volume``).
    """
    base = spec.base_currency
    if not quantity.is_finite() or quantity <= 0:
        raise ContractError("quantity", f"must be a positive number, got {quantity}")
    contract_step = _EXACT.multiply(spec.contract_size, spec.lot_size)
    lots = _EXACT.divide_int(quantity, contract_step)
    contracts = _on_grid_exponent(_EXACT.multiply(lots, spec.lot_size), spec.lot_size)
    if contracts < spec.min_volume or contracts <= 0:
        if spec.min_volume <= spec.lot_size:
            limit = f"one contract of {spec.contract_size} {base}"
        else:
            minimum = quantity_for_contracts(spec, spec.min_volume)
            limit = f"the minimum of {spec.min_volume} contracts ({minimum} {base})"
        raise ContractError("quantity", f"{quantity} {base} is below {limit}")
    maximum_contracts = spec.market_max_volume if market else spec.max_volume
    if contracts > maximum_contracts:
        maximum = quantity_for_contracts(spec, maximum_contracts)
        kind = "market" if market else "limit"
        raise ContractError(
            "quantity",
            f"{quantity} {base} is above the {kind}-order maximum of "
            f"{maximum_contracts} contracts ({maximum} {base})",
        )
    return contracts


def quantity_for_contracts(spec: ContractSpec, contracts: Decimal) -> Decimal:
    """Base-currency quantity of ``contracts`` contracts (exact)."""
    return _EXACT.multiply(contracts, spec.contract_size)


def validate_leverage(spec: ContractSpec, leverage: int | Decimal) -> None:
    """Raise :class:`ContractError` (``field="leverage"``) outside the contract's range."""
    value = Decimal(leverage)
    if not value.is_finite() or not spec.min_leverage <= value <= spec.max_leverage:
        raise ContractError(
            "leverage",
            f"{leverage}x is outside {spec.symbol}'s range "
            f"{spec.min_leverage}x..{spec.max_leverage}x",
        )
