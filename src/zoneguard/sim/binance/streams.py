"""Binance USDⓈ-M stream names: what a name means and which route serves it.

Since the 2026-03 split (Binance's "Important WebSocket Change Notice") book data lives on
``/public`` (``<s>@bookTicker``, ``<s>@depth<n>``), regular market data on ``/market``
(``<s>@aggTrade``, ``<s>@markPrice[@1s]``, ``<s>@kline_<i>``) and user data on
``/private``. Symbols in stream names are lowercase (documented); the part after ``@`` is
matched without regard to case, because clients send both ``aggTrade`` and ``aggtrade``
(the documented spelling is camelCase; accepting the lowercase one is inferred). A push
names the stream exactly as the client subscribed it.

A name the simulator does not know (another stream type, an unknown symbol, a kline
interval the engine keeps no live bar for, or ccxt's connection tag ``/market/ws/0``) is
accepted and never pushes: ccxt has always connected to ``/ws/<n>`` on Binance, so Binance
evidently ignores names it does not serve (inferred from that practice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

RouteName = Literal["public", "market", "private"]
Kind = Literal["bookTicker", "depth", "trade", "aggTrade", "markPrice", "kline"]

ROUTE_OF: dict[Kind, RouteName] = {
    "bookTicker": "public",
    "depth": "public",
    "trade": "public",  # ccxt 4.5.90 routes <s>@trade to /public; not in our notes: inferred
    "aggTrade": "market",
    "markPrice": "market",
    "kline": "market",
}
KLINE_TIMEFRAMES = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1H",
    "2h": "2H",
    "4h": "4H",
    "1d": "1D",
    "1w": "1W",
}
"""Binance kline intervals the engine keeps a live bar for, and the engine's name of it
(no 3m, 6h, 8h, 12h, 3d or 1M: those streams are accepted and stay silent)."""
DEPTH_LEVELS = (5, 10, 20)
DEPTH_SPEEDS = ("", "@100ms", "@250ms", "@500ms")
SIMPLE_KINDS: dict[str, Kind] = {
    "bookticker": "bookTicker",
    "aggtrade": "aggTrade",
    "trade": "trade",
    "markprice": "markPrice",
}


@dataclass(frozen=True, slots=True)
class Stream:
    name: str
    """As the client sent it (pushes carry it back)."""
    kind: Kind
    symbol: str
    """The engine's symbol (``BTCUSDT``)."""
    levels: int = 0
    """``depth<n>``: how many levels."""
    interval: str = ""
    """``kline_<i>``: Binance's interval (``1m``, ``1h``)."""
    timeframe: str = ""
    """``kline_<i>``: the engine's candle timeframe (``1m``, ``1H``)."""
    every_s: int = 3
    """``markPrice``: 3 (the default stream) or 1 (``@markPrice@1s``)."""

    @property
    def route(self) -> RouteName:
        return ROUTE_OF[self.kind]


def parse_stream(name: str, symbols: Iterable[str]) -> Stream | None:
    """The stream ``name`` names, or None for a name the simulator does not serve."""
    lowered_symbol, at, rest = name.partition("@")
    if not at or lowered_symbol != lowered_symbol.lower():
        return None
    symbol = lowered_symbol.upper()
    if symbol not in symbols:
        return None
    rest = rest.lower()
    simple = SIMPLE_KINDS.get(rest)
    if simple is not None:
        return Stream(name, simple, symbol)
    if rest == "markprice@1s":
        return Stream(name, "markPrice", symbol, every_s=1)
    if rest.startswith("kline_"):
        interval = rest.removeprefix("kline_")
        timeframe = KLINE_TIMEFRAMES.get(interval)
        if timeframe is None:
            return None
        return Stream(name, "kline", symbol, interval=interval, timeframe=timeframe)
    if rest.startswith("depth"):
        body = rest.removeprefix("depth")
        for levels in DEPTH_LEVELS:
            for speed in DEPTH_SPEEDS:
                if body == f"{levels}{speed}":
                    return Stream(name, "depth", symbol, levels=levels)
    return None
