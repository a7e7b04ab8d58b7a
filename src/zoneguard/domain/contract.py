"""Contract metadata (tick, contract size, volume limits) in venue-neutral terms."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
