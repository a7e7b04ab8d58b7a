"""Websocket topic names the simulator serves, parsed once at subscribe time."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Literal

from zoneguard.sim.candles import TIMEFRAME_SECONDS

TopicKind = Literal[
    "ticker_all",
    "ticker",
    "kline",
    "mark_kline",
    "depth",
    "depth_all",
    "depth_increase",
    "bookticker",
    "funding",
    "trade",
    "order",
    "position",
    "asset",
]

DEPTH_LEVELS = (5, 20, 50)
DEPTH_SPEEDS = ("", "@100ms", "@200ms")
"""The book channels take an optional speed, 100 or 200 ms (BitMart's docs); others refuse."""
DEPTH_CHANNELS: dict[str, TopicKind] = {
    "futures/depthAll": "depth_all",
    "futures/depthIncrease": "depth_increase",
    "futures/depth": "depth",
}
"""Longest prefix first: ``futures/depth`` is a prefix of the other two."""
KLINE_CHANNELS: dict[str, TopicKind] = {
    "futures/klineBin": "kline",
    "futures/markPriceKlineBin": "mark_kline",  # mark = last in the simulator: same bars
}
PRIVATE_KINDS = frozenset({"order", "position", "asset"})
ASSET_CURRENCIES = ("USDT", "BTC", "ETH")


TICKER_THROTTLE = "@100ms"
"""BitMart answers ``futures/ticker:SYMBOL`` with pushes grouped ``futures/ticker:SYMBOL@100ms``
(fixture ``ws_futures_ticker_symbol_push.json``, PROTOCOL §8.5)."""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str  # exactly as subscribed (throttle suffix included): acks echo it
    kind: TopicKind
    symbol: str = ""
    timeframe: str = ""
    levels: int = 0
    currency: str = ""

    @property
    def private(self) -> bool:
        return self.kind in PRIVATE_KINDS

    @property
    def group(self) -> str:
        """The ``group`` of this topic's pushes: the name, plus the throttle suffix BitMart
        adds to a per-symbol ticker subscribed without one."""
        if self.kind == "ticker" and strip_throttle(self.name) == self.name:
            return self.name + TICKER_THROTTLE
        return self.name


def strip_throttle(name: str) -> str:
    """``futures/ticker:BTCUSDT@100ms`` -> ``futures/ticker:BTCUSDT``."""
    at = name.rfind("@")
    if at != -1 and name.endswith("ms") and name[at + 1 : -2].isdigit():
        return name[:at]
    return name


def parse_topic(name: str, symbols: Container[str]) -> Topic | str:
    """The topic, or a short reason why it is not one the simulator serves."""
    base = strip_throttle(name)
    channel, _, argument = base.partition(":")
    if channel == "futures/order" and not argument:
        return Topic(name, "order")
    if channel == "futures/position" and not argument:
        return Topic(name, "position")
    if channel == "futures/asset":
        if argument not in ASSET_CURRENCIES:
            return f"unknown currency {argument!r}"
        return Topic(name, "asset", currency=argument)
    if channel == "futures/ticker" and not argument:
        return Topic(name, "ticker_all")
    if not argument:
        return f"unknown topic {name!r}"
    if argument not in symbols:
        return f"symbol {argument!r} not found"
    if channel == "futures/ticker":
        return Topic(name, "ticker", symbol=argument)
    if channel == "futures/trade":
        return Topic(name, "trade", symbol=argument)
    if channel == "futures/bookticker":
        return Topic(name, "bookticker", symbol=argument)
    if channel == "futures/fundingRate":
        return Topic(name, "funding", symbol=argument)
    for prefix, kind in KLINE_CHANNELS.items():
        if channel.startswith(prefix):
            timeframe = channel.removeprefix(prefix)
            if timeframe not in TIMEFRAME_SECONDS:
                return f"unknown kline interval {timeframe!r}"
            return Topic(name, kind, symbol=argument, timeframe=timeframe)
    for prefix, kind in DEPTH_CHANNELS.items():
        if channel.startswith(prefix):
            return _depth_topic(name, kind, channel.removeprefix(prefix), argument)
    return f"unknown topic {name!r}"


def _depth_topic(name: str, kind: TopicKind, levels: str, symbol: str) -> Topic | str:
    if not levels.isdigit() or int(levels) not in DEPTH_LEVELS:
        return f"unknown depth channel {name!r}"
    if name.removeprefix(strip_throttle(name)) not in DEPTH_SPEEDS:
        return f"unsupported speed in {name!r}: use @100ms or @200ms"
    return Topic(name, kind, symbol=symbol, levels=int(levels))
