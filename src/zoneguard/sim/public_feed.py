"""Public push bodies for one price change, or for a subscriber's first snapshot.

Each body is built at most once per change and the same bytes go to every subscriber of
the topic. Channels (PROTOCOL §8.6): ticker, kline and mark-price kline (mark = last here),
one-side depth, both-side depth (``depthAll``), incremental depth (``depthIncrease``, see
:mod:`zoneguard.sim.depth_stream`), book ticker, trades; the funding rate is not moved by
prices: it is sent on subscribe, on ``request`` and by the server's once-a-minute timer.
"""

from __future__ import annotations

from typing import Any

import orjson

from zoneguard.sim import wire
from zoneguard.sim.book import Book
from zoneguard.sim.depth_stream import DepthStream
from zoneguard.sim.engine import Engine
from zoneguard.sim.model import PriceUpdate
from zoneguard.sim.topics import Topic


def frame(group: str, data: object) -> bytes:
    return orjson.dumps({"group": group, "data": data})


class DepthStreams:
    """Every symbol's incremental depth streams, one per depth, made on first use."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, int], DepthStream] = {}

    def get(self, book: Book, levels: int) -> DepthStream:
        key = (book.contract.symbol, levels)
        stream = self._streams.get(key)
        if stream is None:
            bids, asks = book.depth(levels)
            stream = self._streams[key] = DepthStream(bids, asks)
        return stream


class PublicFrames:
    """The frames of one symbol's public topics, for ``update`` (a price change) or, with
    None, for the state now (snapshots, timers). Incremental depth advances once per
    change and depth, however many topics (speeds) share it."""

    def __init__(
        self, engine: Engine, symbol: str, update: PriceUpdate | None, streams: DepthStreams
    ) -> None:
        self._engine = engine
        self._symbol = symbol
        self._update = update
        self._streams = streams
        self._book = engine.book(symbol)
        self._now = update.time if update is not None else engine.now_ms()
        self._bodies: dict[tuple[str, int], Any] = {}

    def frames(self, topic: Topic) -> list[bytes]:
        kind = topic.kind
        if kind in ("ticker", "ticker_all"):
            return [frame(topic.group, self._body("ticker", 0))]
        if kind in ("kline", "mark_kline"):
            bar = self._engine.candles(self._symbol).live_bar(topic.timeframe)
            return [] if bar is None else [frame(topic.group, wire.kline_push(self._symbol, bar))]
        if kind == "depth":
            bids, asks = self._body("depth", topic.levels)
            return [frame(topic.group, bids), frame(topic.group, asks)]
        if kind in ("depth_all", "depth_increase", "bookticker"):
            return [frame(topic.group, self._body(kind, topic.levels))]
        if kind == "trade" and self._update is not None:
            return [frame(topic.group, wire.trade_push(self._update.trade))]
        if kind == "funding" and self._update is None:
            return [frame(topic.group, wire.funding_push(self._symbol, self._now))]
        return []

    def _body(self, kind: str, levels: int) -> Any:
        key = (kind, levels)
        if key not in self._bodies:
            self._bodies[key] = self._build(kind, levels)
        return self._bodies[key]

    def _build(self, kind: str, levels: int) -> Any:
        book, contract, now = self._book, self._book.contract, self._now
        if kind == "ticker":
            return wire.ticker_push(book, self._engine)
        if kind == "bookticker":
            return wire.bookticker_push(book, now)
        if kind == "depth_increase":
            stream = self._streams.get(book, levels)
            if self._update is None:
                return wire.depth_increase_push(contract, stream.snapshot(), "snapshot", now)
            bids, asks = book.depth(levels)
            return wire.depth_increase_push(contract, stream.advance(bids, asks), "update", now)
        bids, asks = book.depth(levels)
        if kind == "depth_all":
            return wire.depth_all_push(contract, bids, asks, now)
        return wire.depth_push(contract, 1, bids, now), wire.depth_push(contract, 2, asks, now)
