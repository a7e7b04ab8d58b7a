"""The simulated market: every symbol's book and price history, and what a price move does
to them.

A price move rounds to the tick, prints one public trade and extends the candles; it fills
nothing by itself (the engine matches afterwards, so a client sees the price before the
fills it causes). Every other part of the engine looks symbols up here, so an unknown
symbol is refused with the same 40034 wherever it appears.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from zoneguard.sim import errors as e
from zoneguard.sim.book import Book
from zoneguard.sim.candles import CandleSeries
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.errors import SimError
from zoneguard.sim.ids import IdSource
from zoneguard.sim.model import MarketTrade, PriceUpdate


class Market:
    def __init__(
        self,
        contracts: Mapping[str, SimContract],
        prices: Mapping[str, Decimal],
        clock: Callable[[], int],
        ids: IdSource,
    ) -> None:
        self._clock = clock
        self._ids = ids
        self.books: dict[str, Book] = {}
        self.series: dict[str, CandleSeries] = {}
        for symbol, price in prices.items():
            contract = contracts[symbol]
            self.books[symbol] = Book(contract, contract.to_ticks(price))
            series = CandleSeries()
            series.record(contract.from_ticks(contract.to_ticks(price)), 0, clock())
            self.series[symbol] = series

    @property
    def symbols(self) -> list[str]:
        return list(self.books)

    def book(self, symbol: str) -> Book:
        book = self.books.get(symbol)
        if book is None:
            raise SimError(e.SYMBOL_NOT_FOUND, f"Contract {symbol or '(empty)'} not found")
        return book

    def contract(self, symbol: str) -> SimContract:
        return self.book(symbol).contract

    def candles(self, symbol: str) -> CandleSeries:
        self.book(symbol)
        return self.series[symbol]

    def last_price(self, symbol: str) -> Decimal:
        book = self.book(symbol)
        return book.contract.from_ticks(book.last_ticks)

    def set_price(self, symbol: str, price: Decimal) -> PriceUpdate:
        """Move the last price (rounded to the tick) and print one trade; fills nothing."""
        book = self.book(symbol)
        contract = book.contract
        ticks = contract.to_ticks(price)
        previous = book.last_ticks
        book.last_ticks = ticks
        now = self._clock()
        rounded = contract.from_ticks(ticks)
        trade = MarketTrade(self._ids.trade_id(), symbol, rounded, 1, ticks < previous, now)
        book.recent_trades.append(trade)
        self.series[symbol].record(rounded, trade.qty, now)
        return PriceUpdate(symbol, rounded, ticks, now, trade)
