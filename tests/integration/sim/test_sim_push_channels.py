"""The book ticker, both-side and incremental depth, mark-price kline and funding-rate
channels on the wire, each against BitMart's documented sample."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
from sim_wire import Wire, drain, recv, recv_until, subscribe
from test_sim_push_shapes import assert_shape, public_push

from zoneguard.sim import SimServer

Book = dict[Decimal, int]


def prices(levels: list[dict[str, str]]) -> list[Decimal]:
    return [Decimal(level["price"]) for level in levels]


async def test_bookticker_push_shape(wire: Wire) -> None:
    push = await public_push(wire, "futures/bookticker:BTCUSDT")
    assert_shape(push, "ws_futures_bookticker_push.json")
    data = push["data"]
    assert (data["best_bid_price"], data["best_ask_price"]) == ("65123.3", "65123.5")
    assert int(data["best_bid_vol"]) > 0 and int(data["best_ask_vol"]) > 0


async def test_depth_all_push_shape(wire: Wire) -> None:
    push = await public_push(wire, "futures/depthAll20:BTCUSDT@200ms")
    assert_shape(push, "ws_futures_depthAll20_push.json")
    bids, asks = prices(push["data"]["bids"]), prices(push["data"]["asks"])
    assert (len(bids), len(asks)) == (20, 20)
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert (bids[0], asks[0]) == (Decimal("65123.3"), Decimal("65123.5"))


async def test_mark_price_kline_push_is_shaped_like_a_kline(wire: Wire) -> None:
    push = await public_push(wire, "futures/markPriceKlineBin1m:BTCUSDT")
    assert_shape(push, "ws_futures_klineBin1D_push.json", same_group=False)
    assert push["data"]["items"][0]["c"] == "65123.4"


def apply(book: Book, levels: list[dict[str, str]]) -> None:
    for level in levels:
        price, volume = Decimal(level["price"]), int(level["vol"])
        if volume:
            book[price] = volume
        else:
            book.pop(price, None)


async def depth_all(wire: Wire) -> tuple[Book, Book]:
    async with await wire.ws() as ws:
        await subscribe(ws, "futures/depthAll20:BTCUSDT")
        data = (await recv(ws))["data"]
    bids: Book = {}
    asks: Book = {}
    apply(bids, data["bids"])
    apply(asks, data["asks"])
    return bids, asks


async def test_depth_increase_snapshot_then_versioned_updates_rebuild_the_book(
    wire: Wire,
) -> None:
    topic = "futures/depthIncrease20:BTCUSDT@200ms"
    async with await wire.ws() as ws:
        await subscribe(ws, topic)
        snapshot = await recv_until(ws, lambda f: f.get("group") == topic)
        assert_shape(snapshot, "ws_futures_depthIncrease20_snapshot_push.json")
        assert snapshot["data"]["type"] == "snapshot"
        assert len(snapshot["data"]["bids"]) == len(snapshot["data"]["asks"]) == 20
        version = snapshot["data"]["version"]
        bids: Book = {}
        asks: Book = {}
        apply(bids, snapshot["data"]["bids"])
        apply(asks, snapshot["data"]["asks"])

        await wire.order(side=1, price="64999", size=7)  # our own resting volume shows up
        for price in ("65003.2", "65010", "65000"):
            await wire.price("BTCUSDT", price)
            update = await recv_until(ws, lambda f: f.get("group") == topic)
            assert_shape(update, "ws_futures_depthIncrease20_update_push.json")
            assert update["data"]["type"] == "update"
            assert update["data"]["version"] == version + 1
            version += 1
            apply(bids, update["data"]["bids"])
            apply(asks, update["data"]["asks"])
        assert any(level["vol"] == "0" for level in update["data"]["asks"])  # a level left

        await ws.send_json({"action": "request", "args": [topic]})
        requested = await recv(ws)
        assert (requested["group"], requested["data"]["type"]) == (topic, "snapshot")
        assert requested["data"]["version"] == version

    expected_bids, expected_asks = await depth_all(wire)
    assert (bids, asks) == (expected_bids, expected_asks)
    assert bids[Decimal("64999")] == 100 * 10 + 7  # the 10th level below 65000, plus our 7


async def test_a_late_subscriber_gets_the_current_version(wire: Wire) -> None:
    topic = "futures/depthIncrease5:BTCUSDT"
    async with await wire.ws() as first:
        await subscribe(first, topic)
        first_version = (await recv(first))["data"]["version"]
        await wire.price("BTCUSDT", "65100")
        await drain(first)
        async with await wire.ws() as second:
            await subscribe(second, topic)
            late = await recv(second)
            assert (late["data"]["type"], late["data"]["version"]) == (
                "snapshot",
                first_version + 1,
            )
            await wire.price("BTCUSDT", "65200")
            pushes = [await recv(ws) for ws in (first, second)]
    assert [p["data"]["version"] for p in pushes] == [first_version + 2] * 2


async def test_book_channels_take_only_documented_depths_and_speeds(wire: Wire) -> None:
    async with await wire.ws() as ws:
        bad = [
            "futures/depthIncrease30:BTCUSDT@100ms",
            "futures/depthIncrease50:BTCUSDT@50ms",
            "futures/depthAll20:NOPEUSDT",
            "futures/markPriceKlineBin7m:BTCUSDT",
        ]
        await ws.send_json({"action": "subscribe", "args": bad})
        acks = [await recv(ws) for _ in bad]
        assert [(a["group"], a["success"]) for a in acks] == [(t, False) for t in bad]
        await ws.send_json({"action": "request", "args": ["futures/ticker:BTCUSDT"]})
        refused = await recv(ws)
        assert (refused["action"], refused["success"]) == ("request", False)


async def test_funding_rate_on_subscribe_on_request_and_on_its_timer(start_sim: Any) -> None:
    server: SimServer = await start_sim(funding_push_interval_s=0.2)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        topic = "futures/fundingRate:BTCUSDT"
        rest = (await wire.get("/contract/public/funding-rate", {"symbol": "BTCUSDT"})).data
        async with await wire.ws() as ws:
            await subscribe(ws, topic)
            first = await recv(ws)
            assert_shape(first, "ws_futures_fundingRate_push.json")
            data = first["data"]
            assert (data["fundingRate"], data["fundingTime"]) == (
                rest["rate_value"],
                rest["funding_time"],
            )
            assert data["nextFundingTime"] - data["fundingTime"] == 8 * 3_600_000
            timed = await recv(ws, 1.0)
            assert (timed["group"], timed["data"]["symbol"]) == (topic, "BTCUSDT")
        async with await wire.ws() as other:
            await other.send_json({"action": "request", "args": [topic]})
            requested = await recv(other)
            assert requested["group"] == topic
            await wire.price("BTCUSDT", "65100")  # prices do not move the funding channel
            assert await drain(other) == []
