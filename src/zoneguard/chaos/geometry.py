"""Where a lifecycle's prices sit: the zone, the levels, and the prices that cross them.

Percentages are of the base price and signed by the side: positive is in the position's
favour (up for a long, down for a short), so one script serves both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

SYMBOL = "BTCUSDT"
BASE_PRICE = Decimal(65000)
TICK = Decimal("0.1")
QUANTITY = Decimal("0.01")
"""0.01 BTC: 10 contracts of 0.001."""
CONTRACTS = 10
COMPANION_QUANTITY = Decimal("0.003")
COMPANION_CONTRACTS = 3
"""The ``shared`` scenario's other signal on the same side."""
LEVERAGE = 10
TRAILING_ACTIVATION_PERCENT = Decimal(1)
TRAILING_CALLBACK_PERCENT = Decimal("0.5")
BACKSTOP_OFFSET_PERCENT = Decimal("0.2")
"""The worker's default ``exchange_backstop.offset_percent``: where the exchange's presets
sit beyond the signal's levels."""


@dataclass(frozen=True, slots=True)
class Levels:
    side: str
    base: Decimal = BASE_PRICE

    @property
    def sign(self) -> int:
        return 1 if self.side == "long" else -1

    def at(self, percent: str) -> Decimal:
        """The price ``percent`` from the base, in the position's favour when positive."""
        raw = self.base * (1 + self.sign * Decimal(percent) / 100)
        return (raw / TICK).quantize(Decimal(1), rounding=ROUND_HALF_UP) * TICK

    @property
    def zone(self) -> tuple[Decimal, Decimal]:
        low, high = sorted((self.at("-1.0"), self.at("-0.5")))
        return low, high

    @property
    def zones(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """The ``pyramid`` scenario's two zones (50 % each): :attr:`zone`, then a deeper one."""
        low, high = sorted((self.at("-1.6"), self.at("-1.3")))
        return self.zone, (low, high)

    @property
    def second_entry(self) -> Decimal:
        """Inside the deeper zone of :attr:`zones`."""
        return self.at("-1.45")

    @property
    def companion_zone(self) -> tuple[Decimal, Decimal]:
        """The ``shared`` scenario's other signal: a zone around the base price."""
        low, high = sorted((self.at("-0.3"), self.at("0.3")))
        return low, high

    def companion(self, order_id: str) -> dict[str, object]:
        """The ``shared`` scenario's other signal on the same side: 3 contracts, its stop
        and target far beyond anything the script reaches, so it stays open until the end."""
        low, high = self.companion_zone
        return {
            "id": order_id,
            "symbol": SYMBOL,
            "side": self.side,
            "entry_zone_min": str(low),
            "entry_zone_max": str(high),
            "quantity": str(COMPANION_QUANTITY),
            "leverage": LEVERAGE,
            "stop_loss": str(self.at("-8")),
            "take_profit": str(self.at("8")),
            "timeout_seconds": 600,
        }

    @property
    def entry(self) -> Decimal:
        """Inside the zone: the worker places its post-only entry here."""
        return self.at("-0.75")

    @property
    def stop_loss(self) -> Decimal:
        return self.at("-2.0")

    @property
    def take_profit(self) -> Decimal:
        return self.at("1.0")

    @property
    def past_stop(self) -> Decimal:
        """Beyond the stop, short of the exchange's preset: only the worker closes here."""
        return self.at("-2.1")

    @property
    def past_preset_stop(self) -> Decimal:
        """Beyond the exchange's preset stop (0.2 % past the stop): it fires at once."""
        return self.at("-2.5")

    @property
    def past_take(self) -> Decimal:
        return self.at("1.1")

    @property
    def rungs(self) -> tuple[Decimal, Decimal]:
        """A ladder's two take-profits (50 % each), for the ``ladder`` scenario."""
        return self.at("1.0"), self.at("1.5")

    @property
    def past_last_rung(self) -> Decimal:
        """Past TP2, short of the exchange's preset take-profit beyond it."""
        return self.at("1.6")

    @property
    def trail_path(self) -> tuple[Decimal, Decimal]:
        """A trailing stop's scenario: past its activation (1 %), then a new best."""
        return self.at("1.2"), self.at("1.4")

    @property
    def trailed_stop(self) -> Decimal:
        """Where the trailing stop stands after :attr:`trail_path` (0.5 % behind the best,
        on the tick away from the price)."""
        best = self.trail_path[1]
        raw = best * (1 - self.sign * TRAILING_CALLBACK_PERCENT / 100)
        rounding = ROUND_FLOOR if self.side == "long" else ROUND_CEILING
        return (raw / TICK).quantize(Decimal(1), rounding=rounding) * TICK

    @property
    def past_trailed_stop(self) -> Decimal:
        """Through the trailed stop, short of the exchange's stop that follows it."""
        return self.at("0.8")

    @property
    def past_break_even(self) -> Decimal:
        """Below break-even (the entry), above the exchange's stop that follows it."""
        return self.at("-0.85")

    @property
    def past_preset_take(self) -> Decimal:
        return self.at("1.5")

    def through(self, limit: Decimal) -> Decimal:
        """A price that trades through a resting entry at ``limit`` (one tick is enough;
        a few make it plain in the logs)."""
        return limit - self.sign * 5 * TICK

    def signal(
        self,
        order_id: str,
        timeout_seconds: int,
        *,
        ladder: bool = False,
        trailing: bool = False,
        pyramid: bool = False,
    ) -> dict[str, object]:
        """The seed's place-order payload for this lifecycle; ``ladder``: TP1 and TP2 of
        50 % each instead of the take-profit, and break-even after TP1; ``trailing``: a
        trailing stop instead of the take-profit; ``pyramid``: :attr:`zones` instead of
        the one zone."""
        low, high = self.zone
        body: dict[str, object] = {
            "id": order_id,
            "symbol": SYMBOL,
            "side": self.side,
            "entry_zone_min": str(low),
            "entry_zone_max": str(high),
            "quantity": str(QUANTITY),
            "leverage": LEVERAGE,
            "stop_loss": str(self.stop_loss),
            "take_profit": str(self.take_profit),
            "timeout_seconds": timeout_seconds,
            "metadata": {"strategy": "chaos"},
        }
        if ladder:
            del body["take_profit"]
            body["take_profits"] = [
                {"price": str(price), "size_percent": "50"} for price in self.rungs
            ]
            body["break_even"] = {"after_take_profit": 1}
        if pyramid:
            del body["entry_zone_min"], body["entry_zone_max"]
            body["entry_zones"] = [
                {"min": str(zone_low), "max": str(zone_high), "size_percent": "50"}
                for zone_low, zone_high in self.zones
            ]
        if trailing:
            del body["take_profit"]
            body["trailing_stop"] = {
                "activation_percent": str(TRAILING_ACTIVATION_PERCENT),
                "callback_percent": str(TRAILING_CALLBACK_PERCENT),
            }
        return body
