"""What the worker knows of each market: last price, best bid/ask, when it last heard,
which streams are subscribed (the seed's KlineWorker and PositionWorker), contract specs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import KlineBar, PriceTick
from zoneguard.domain.values import Symbol
from zoneguard.exchange.port import ExchangePort


@dataclass(slots=True)
class Quote:
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    at_monotonic: float


class Markets:
    """Quotes per symbol and the subscriptions behind them."""

    def __init__(self, exchange: ExchangePort) -> None:
        self.exchange = exchange
        self.quotes: dict[Symbol, Quote] = {}
        self.kline_channels: dict[Symbol, set[str]] = {}
        self.price_symbols: set[Symbol] = set()
        self.position_subscribed = False
        self._specs: dict[Symbol, ContractSpec] = {}
        self._lock = asyncio.Lock()

    def update_from_tick(self, tick: PriceTick) -> Quote:
        quote = self.quotes.get(tick.symbol)
        now = time.monotonic()
        if quote is None:
            quote = self.quotes[tick.symbol] = Quote(tick.last, tick.bid, tick.ask, now)
        else:
            # A side of the book this update does not carry (a kline carries neither) is kept
            # only while the price stands still: after a move it belongs to the old price,
            # and a post-only entry priced from it could sit across the market and cross.
            moved = tick.last != quote.last
            quote.last = tick.last
            if tick.bid is not None or moved:
                quote.bid = tick.bid
            if tick.ask is not None or moved:
                quote.ask = tick.ask
            quote.at_monotonic = now
        return quote

    def update_from_kline(self, bar: KlineBar) -> Quote:
        return self.update_from_tick(PriceTick(bar.symbol, bar.close, received_ns=bar.received_ns))

    def quote(self, symbol: Symbol) -> Quote | None:
        return self.quotes.get(symbol)

    def silence_s(self, symbol: Symbol) -> float:
        quote = self.quotes.get(symbol)
        return float("inf") if quote is None else time.monotonic() - quote.at_monotonic

    async def spec(self, symbol: Symbol) -> ContractSpec:
        spec = self._specs.get(symbol)
        if spec is None:
            spec = self._specs[symbol] = await self.exchange.contract(symbol)
        return spec

    def cached_spec(self, symbol: Symbol) -> ContractSpec | None:
        return self._specs.get(symbol)

    async def ensure_prices(self, symbol: Symbol) -> None:
        """Subscribe the ticker of ``symbol`` once: placing an order needs no prior call."""
        if symbol in self.price_symbols:
            return
        async with self._lock:
            if symbol not in self.price_symbols:
                await self.exchange.subscribe_prices(symbol)
                self.price_symbols.add(symbol)

    async def subscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> list[str]:
        wanted = [tf for tf in timeframes if tf not in self.kline_channels.get(symbol, set())]
        if wanted:
            await self.exchange.subscribe_klines(symbol, wanted)
            self.kline_channels.setdefault(symbol, set()).update(wanted)
        return sorted(self.kline_channels.get(symbol, set()))

    async def ensure_account(self) -> None:
        """Subscribe the private order/position/balance streams once (the PositionWorker)."""
        if self.position_subscribed:
            return
        async with self._lock:
            if not self.position_subscribed:
                await self.exchange.subscribe_account()
                self.position_subscribed = True

    def channels(self) -> list[str]:
        """``kline_channels`` as the seed's status shows them: ``SYMBOL:tf``."""
        return [
            f"{symbol}:{tf}"
            for symbol, frames in sorted(self.kline_channels.items())
            for tf in sorted(frames)
        ]
