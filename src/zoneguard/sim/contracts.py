"""The simulator's contract table: tick, contract size, volume and leverage limits.

Values are plausible for BitMart's USDT-M perpetuals (BTCUSDT matches the published
details: contract size 0.001, tick 0.1). A symbol outside the table gets a generic contract
whose tick keeps about five significant digits of its initial price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class SimContract:
    symbol: str
    base_currency: str
    quote_currency: str
    contract_size: Decimal
    tick: Decimal
    min_volume: int = 1
    max_volume: int = 500_000
    market_max_volume: int = 100_000
    min_leverage: int = 1
    max_leverage: int = 100

    def is_tick_multiple(self, price: Decimal) -> bool:
        return price % self.tick == 0

    def to_ticks(self, price: Decimal) -> int:
        """Whole ticks of ``price``, rounded half up; at least one tick."""
        ticks = int((price / self.tick).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return max(ticks, 1)

    def from_ticks(self, ticks: int) -> Decimal:
        return ticks * self.tick

    def notional(self, contracts: int, price: Decimal) -> Decimal:
        """Quote value of ``contracts`` at ``price``."""
        return contracts * self.contract_size * price


KNOWN_CONTRACTS: dict[str, SimContract] = {
    "BTCUSDT": SimContract("BTCUSDT", "BTC", "USDT", Decimal("0.001"), Decimal("0.1")),
    "ETHUSDT": SimContract("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.01")),
    "SOLUSDT": SimContract(
        "SOLUSDT", "SOL", "USDT", Decimal("0.1"), Decimal("0.001"), max_leverage=50
    ),
}


def contract_for(symbol: str, initial_price: Decimal) -> SimContract:
    """The table's contract for ``symbol``, or a generic one sized from its price."""
    known = KNOWN_CONTRACTS.get(symbol)
    if known is not None:
        return known
    base = symbol[:-4] if symbol.endswith("USDT") else symbol
    magnitude = initial_price.adjusted()  # exponent of the leading digit
    tick = Decimal(1).scaleb(magnitude - 4)
    return SimContract(symbol, base, "USDT", Decimal(1), tick, max_leverage=50)
