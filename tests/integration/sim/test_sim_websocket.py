"""The simulator's websockets on the wire: keepalive, login, subscriptions, pushes, timers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sim_wire import KEY, WAIT_S, Wire, drain, hmac_hex, now_ms, recv, recv_until, subscribe

from zoneguard.sim import SimServer


async def test_json_ping_gets_the_system_pong(wire: Wire) -> None:
    async with await wire.ws() as ws:
        await ws.send_json({"action": "ping"})
        assert await recv(ws) == {"group": "System", "data": "pong"}


async def test_websocket_ping_frame_gets_a_pong_frame(wire: Wire) -> None:
    async with await wire.ws() as ws:
        await ws.ping(b"hi")
        msg = await ws.receive(timeout=WAIT_S)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"hi")


async def test_subscribe_acks_one_per_topic_like_the_fixture(wire: Wire) -> None:
    async with await wire.ws() as ws:
        acks = await subscribe(ws, "futures/klineBin1m:BTCUSDT", "futures/depth5:BTCUSDT")
        assert acks[0] == {
            "action": "subscribe",
            "group": "futures/klineBin1m:BTCUSDT",
            "success": True,
            "request": {"action": "subscribe", "args": ["futures/klineBin1m:BTCUSDT"]},
        }
        assert acks[1]["group"] == "futures/depth5:BTCUSDT"
        await drain(ws)
        await ws.send_json({"action": "unsubscribe", "args": ["futures/depth5:BTCUSDT"]})
        ack = await recv(ws)
        assert (ack["action"], ack["group"], ack["success"]) == (
            "unsubscribe",
            "futures/depth5:BTCUSDT",
            True,
        )
        await wire.price("BTCUSDT", "65100")
        groups = {frame["group"] for frame in await drain(ws)}
        assert groups == {"futures/klineBin1m:BTCUSDT"}


async def test_bad_topics_fail_with_an_error(wire: Wire) -> None:
    async with await wire.ws() as ws:
        await ws.send_json(
            {
                "action": "subscribe",
                "args": ["futures/ticker:NOPEUSDT", "futures/klineBin7m:BTCUSDT", "futures/order"],
            }
        )
        for _ in range(3):
            ack = await recv(ws)
            assert ack["success"] is False
            assert isinstance(ack["error"], str)
            assert ack["error"]


async def test_login_success_then_private_topics(wire: Wire) -> None:
    async with await wire.ws(private=True) as ws:
        await ws.send_json({"action": "subscribe", "args": ["futures/order"]})
        refused = await recv(ws)
        assert (refused["group"], refused["success"]) == ("futures/order", False)
        assert await wire.login(ws) == {"action": "access", "success": True}
        (ack,) = await subscribe(ws, "futures/order")
        assert ack["success"] is True


async def test_login_failure_is_answered_then_closed(wire: Wire) -> None:
    async with await wire.ws(private=True) as ws:
        ts = now_ms()
        bad_sign = hmac_hex("wrong-secret", f"{ts}#memo#bitmart.WebSocket")
        await ws.send_json({"action": "access", "args": [KEY, ts, bad_sign, "web"]})
        reply = await recv(ws)
        assert reply["action"] == "access"
        assert reply["success"] is False
        assert reply["error"].startswith("access failed: ")
        closing = await ws.receive(timeout=WAIT_S)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_price_move_pushes_public_data_before_the_fill(wire: Wire) -> None:
    async with await wire.ws() as public, await wire.ws(private=True) as private:
        await wire.login(private)
        await subscribe(private, "futures/order", "futures/position", "futures/asset:USDT")
        await subscribe(
            public,
            "futures/ticker:BTCUSDT",
            "futures/klineBin1m:BTCUSDT",
            "futures/depth5:BTCUSDT",
            "futures/trade:BTCUSDT",
        )
        await drain(public)
        placed = await wire.order(side=1, price="64900", size=3)
        order_id = str(placed.data["order_id"])
        submitted = await recv_until(private, lambda f: f.get("group") == "futures/order")
        assert submitted["data"][0]["action"] == 2
        await drain(private)

        body = await wire.price("BTCUSDT", "64900")
        assert body == {"symbol": "BTCUSDT", "price": "64900", "filled": [order_id]}
        pushes = await drain(public)
        by_group: dict[str, list[Any]] = {}
        for frame in pushes:
            by_group.setdefault(frame["group"], []).append(frame["data"])
        assert by_group["futures/ticker:BTCUSDT@100ms"][0]["last_price"] == "64900"
        assert by_group["futures/klineBin1m:BTCUSDT"][0]["items"][0]["c"] == "64900"
        assert [d["way"] for d in by_group["futures/depth5:BTCUSDT"]] == [1, 2]
        assert by_group["futures/trade:BTCUSDT"][0][0]["deal_price"] == "64900"

        account = await drain(private)
        groups = [frame["group"] for frame in account]
        assert groups[0] == "futures/order"
        fill = account[0]["data"][0]
        assert (fill["action"], fill["order"]["state"], fill["order"]["deal_size"]) == (1, 4, "3")
        assert fill["order"]["last_trade"]["fillPrice"] == "64900"
        assert "futures/position" in groups
        assert "futures/asset:USDT" in groups


async def test_all_symbols_ticker_and_throttled_topic(wire: Wire) -> None:
    async with await wire.ws() as ws:
        await subscribe(ws, "futures/ticker")
        snapshot = await drain(ws)  # the current ticker of every symbol
        assert {f["data"]["symbol"] for f in snapshot if f["group"] == "futures/ticker"} == {
            "BTCUSDT",
            "ETHUSDT",
        }
        await subscribe(ws, "futures/ticker:ETHUSDT@100ms")
        await drain(ws)
        await wire.price("ETHUSDT", "3010.55")
        frames = await drain(ws)
        assert sorted(f["group"] for f in frames) == [
            "futures/ticker",
            "futures/ticker:ETHUSDT@100ms",
        ]
        assert all(f["data"]["last_price"] == "3010.55" for f in frames)


async def test_idle_connection_is_dropped(start_sim: Any) -> None:
    """Dropped ``ws_idle_timeout_s`` after the last thing it heard: a ping sent a quarter of
    the timeout after the subscription postpones the drop to a whole timeout after the
    ping. Only a lower bound on time, taken before the ping left: the simulator hears it
    later on a busy machine, never sooner. (Sleeps of 0.15 and 0.2 s against a 0.3 s
    timeout, and "dropped within 1 s", raced the load.)"""
    idle_s = 2.0
    server: SimServer = await start_sim(ws_idle_timeout_s=idle_s, ws_lifeless_timeout_s=30)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        async with await wire.ws() as ws:
            loop = asyncio.get_running_loop()
            await subscribe(ws, "futures/ticker:BTCUSDT")
            await asyncio.sleep(idle_s / 4)
            pinged_at = loop.time()
            await ws.send_json({"action": "ping"})  # activity postpones the drop
            assert (await recv_until(ws, lambda f: f.get("data") == "pong"))["group"] == "System"
            while (await ws.receive(timeout=WAIT_S)).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            ):
                pass
            dropped_at = loop.time()
    # Without the ping, the drop would come a timeout after the subscription, a quarter of
    # a timeout before this.
    assert dropped_at - pinged_at >= idle_s * 0.95


async def test_lifeless_connection_is_dropped_but_a_subscribed_one_stays(start_sim: Any) -> None:
    """A 2 s lifeless timeout: the subscribing socket has that long to subscribe, which a
    busy machine does not eat (0.3 s did, and dropped the socket that was meant to stay)."""
    server: SimServer = await start_sim(ws_idle_timeout_s=30, ws_lifeless_timeout_s=2.0)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        async with await wire.ws() as lifeless, await wire.ws() as alive:
            await subscribe(alive, "futures/trade:BTCUSDT")
            await lifeless.send_json({"action": "ping"})  # a ping is not a subscription
            assert (await recv(lifeless))["data"] == "pong"
            msg = await lifeless.receive(timeout=WAIT_S)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await alive.send_json({"action": "ping"})
            assert (await recv(alive))["data"] == "pong"


async def test_position_push_on_a_timer(start_sim: Any) -> None:
    server: SimServer = await start_sim(position_push_interval_s=0.1)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        await wire.order(side=1, type="market", size=2)
        async with await wire.ws(private=True) as ws:
            await wire.login(ws)
            await subscribe(ws, "futures/position")
            first = await recv_until(ws, lambda f: f.get("group") == "futures/position")
            second = await recv_until(ws, lambda f: f.get("group") == "futures/position")
    assert first["data"][0]["hold_volume"] == second["data"][0]["hold_volume"] == "2"


async def test_ticker_refresh_without_trades(start_sim: Any) -> None:
    server: SimServer = await start_sim(ticker_refresh_s=0.05)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        async with await wire.ws() as ws:
            await subscribe(ws, "futures/ticker:BTCUSDT")
            frames = [await recv(ws) for _ in range(3)]
    assert all(f["data"]["last_price"] == "65000" for f in frames)
    assert {f["group"] for f in frames} == {"futures/ticker:BTCUSDT@100ms"}
