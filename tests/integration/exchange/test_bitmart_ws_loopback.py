"""The websocket client over real sockets against a scripted BitMart double on 127.0.0.1.

Covers what the simulator cannot script: a socket that stays open but goes silent,
DEFLATE binary frames, refused topics, batching, and the adapter's push routing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType, web

from zoneguard.domain.market import (
    Balance,
    KlineBar,
    OrderEventKind,
    OrderUpdate,
    PositionInfo,
    PriceTick,
)
from zoneguard.domain.values import Side
from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings
from zoneguard.exchange.bitmart.ws import BitMartWebSocket
from zoneguard.exchange.errors import AuthenticationFailed, InvalidRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"
KEY, SECRET, MEMO = "ws-key", "ws-secret", "ws-memo"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class FakeBitMartWs:
    """Answers pings, acks subscriptions, checks logins; the test drives pushes and faults."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.frames: list[dict[str, Any]] = []
        self.connections = 0
        self.muted: set[int] = set()  # ids of sockets that no longer answer (still open)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        self.sockets.append(ws)
        logged_in = False
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                frame = orjson.loads(message.data)
                self.frames.append(frame)
                if id(ws) in self.muted:
                    continue
                action = frame.get("action")
                if action == "ping":
                    await ws.send_str('{"group":"System","data":"pong"}')
                elif action == "access":
                    logged_in = self._login_ok(frame["args"])
                    if logged_in:
                        await ws.send_str('{"action":"access","success":true}')
                    else:
                        await ws.send_str(
                            '{"action":"access","success":false,"error":"access failed: sign"}'
                        )
                        await ws.close()
                elif action in ("subscribe", "unsubscribe"):
                    for topic in frame["args"]:
                        refused = topic.startswith("bad") or (
                            request.path == "/user" and not logged_in
                        )
                        reply: dict[str, Any] = {
                            "action": action,
                            "group": topic,
                            "success": not refused,
                            "request": {"action": action, "args": [topic]},
                        }
                        if refused:
                            reply["error"] = "topic refused"
                        await ws.send_str(orjson.dumps(reply).decode())
        finally:
            self.sockets.remove(ws)
        return ws

    @staticmethod
    def _login_ok(args: list[str]) -> bool:
        key, ts, sign, device = args
        expected = hmac.new(
            SECRET.encode(), f"{ts}#{MEMO}#bitmart.WebSocket".encode(), hashlib.sha256
        ).hexdigest()
        return key == KEY and sign == expected and device == "web"

    def mute_current(self) -> None:
        self.muted.update(id(ws) for ws in self.sockets)

    def subscribes(self) -> list[list[str]]:
        return [f["args"] for f in self.frames if f.get("action") == "subscribe"]

    async def push(self, payload: dict[str, Any], *, binary: bool = False) -> None:
        raw = orjson.dumps(payload)
        for ws in list(self.sockets):
            if binary:
                deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
                await ws.send_bytes(deflater.compress(raw) + deflater.flush())
            else:
                await ws.send_str(raw.decode())

    async def drop_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close()


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeBitMartWs, str]]:
    double = FakeBitMartWs()
    app = web.Application()
    app.router.add_get("/api", double.handle)
    app.router.add_get("/user", double.handle)

    async def system_time(request: web.Request) -> web.Response:
        return web.json_response({"code": 1000, "data": {"server_time": int(time.time() * 1000)}})

    app.router.add_get("/system/time", system_time)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield double, f"127.0.0.1:{port}"
    await double.drop_all()
    await runner.cleanup()


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until ``check()`` holds; ``timeout_s`` only bounds a hang (a busy machine can
    take seconds over what takes milliseconds alone)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def make_socket(
    address: str, received: list[tuple[str, Any]], states: list[tuple[str, bool]], **kw: Any
) -> BitMartWebSocket:
    return BitMartWebSocket(
        f"ws://{address}/api?protocol=1.1",
        name="public",
        on_message=lambda group, data, ns: received.append((group, data)),
        on_state=lambda name, up: states.append((name, up)),
        **kw,
    )


async def test_subscribe_ack_push_suffix_and_deflate(fake: tuple[FakeBitMartWs, str]) -> None:
    double, address = fake
    received: list[tuple[str, Any]] = []
    states: list[tuple[str, bool]] = []
    socket = make_socket(address, received, states)
    socket.start()
    try:
        await socket.subscribe(["futures/ticker:AXONUSDT"])
        assert socket.confirmed_topics == {"futures/ticker:AXONUSDT"}
        assert states == [("public", True)]
        push = fixture("ws_futures_ticker_symbol_push.json")
        await double.push(push)
        await double.push(push, binary=True)
        await eventually(lambda: len(received) == 2)
        assert received == [("futures/ticker:AXONUSDT", push["data"])] * 2
        assert socket.last_data_ns is not None
    finally:
        await socket.close()
    assert states[-1] == ("public", False)


async def test_subscriptions_are_batched_by_twenty(fake: tuple[FakeBitMartWs, str]) -> None:
    double, address = fake
    socket = make_socket(address, [], [])
    socket.start()
    topics = [f"futures/ticker:S{i}USDT" for i in range(45)]
    try:
        await socket.subscribe(topics)
        assert [len(args) for args in double.subscribes()] == [20, 20, 5]
        assert socket.confirmed_topics == set(topics)
    finally:
        await socket.close()


async def test_refused_topic_raises_and_is_forgotten(fake: tuple[FakeBitMartWs, str]) -> None:
    _, address = fake
    socket = make_socket(address, [], [])
    socket.start()
    try:
        with pytest.raises(InvalidRequest, match="badtopic"):
            await socket.subscribe(["futures/ticker:BTCUSDT", "badtopic"])
        assert socket.topics == {"futures/ticker:BTCUSDT"}
    finally:
        await socket.close()


async def test_json_ping_is_sent_periodically(fake: tuple[FakeBitMartWs, str]) -> None:
    double, address = fake
    socket = make_socket(address, [], [], ping_interval_s=0.05)
    socket.start()
    try:
        await eventually(lambda: sum(f == {"action": "ping"} for f in double.frames) >= 3)
    finally:
        await socket.close()


async def test_dropped_socket_reconnects_and_resubscribes(
    fake: tuple[FakeBitMartWs, str], caplog: pytest.LogCaptureFixture
) -> None:
    double, address = fake
    received: list[tuple[str, Any]] = []
    states: list[tuple[str, bool]] = []
    socket = make_socket(address, received, states)
    caplog.set_level(logging.INFO, logger="zoneguard.exchange.bitmart.ws")
    socket.start()
    try:
        await socket.subscribe(["futures/ticker:BTCUSDT", "futures/klineBin1m:BTCUSDT"])
        await double.drop_all()
        await eventually(lambda: double.connections == 2 and len(socket.confirmed_topics) == 2)
        # The first retry is fast: the delay the socket chose, not the wall time (which a
        # busy machine stretches), is at most the initial backoff.
        delays = [r.args[1] for r in caplog.records if r.msg == "%s: reconnecting in %.2fs"]
        assert len(delays) == 1 and delays[0] <= 0.1, delays
        assert states == [("public", True), ("public", False), ("public", True)]
        assert sorted(double.subscribes()[-1]) == [
            "futures/klineBin1m:BTCUSDT",
            "futures/ticker:BTCUSDT",
        ]
        assert socket.reconnects == 1
        await double.push(fixture("ws_futures_ticker_push.json"))
        await eventually(lambda: len(received) == 1)
    finally:
        await socket.close()


async def test_open_but_silent_socket_is_replaced(fake: tuple[FakeBitMartWs, str]) -> None:
    double, address = fake
    states: list[tuple[str, bool]] = []
    socket = make_socket(address, [], states, ping_interval_s=0.1, silence_timeout_s=0.4)
    socket.start()
    try:
        await socket.subscribe(["futures/ticker:BTCUSDT"])
        double.mute_current()  # TCP stays open; nothing comes back, not even pongs
        await eventually(lambda: double.connections == 2, timeout_s=3)
        await eventually(lambda: socket.confirmed_topics == {"futures/ticker:BTCUSDT"})
        assert ("public", False) in states
        assert double.subscribes()[-1] == ["futures/ticker:BTCUSDT"]
    finally:
        await socket.close()


async def test_pongs_keep_a_quiet_feed_alive(fake: tuple[FakeBitMartWs, str]) -> None:
    """Nothing but pongs for two and a half silence timeouts: the socket stays. The waiting
    is the scenario; a pong every 0.05 s against a 1 s timeout leaves a busy machine room
    (a 0.4 s timeout was replaced whenever the process was not scheduled for 0.4 s)."""
    double, address = fake
    socket = make_socket(address, [], [], ping_interval_s=0.05, silence_timeout_s=1.0)
    socket.start()
    try:
        await socket.subscribe(["futures/ticker:BTCUSDT"])
        await asyncio.sleep(2.5)
        assert sum(f == {"action": "ping"} for f in double.frames) >= 5  # pongs did flow
        assert double.connections == 1
    finally:
        await socket.close()


async def test_private_login_then_subscribe(fake: tuple[FakeBitMartWs, str]) -> None:
    double, address = fake
    from zoneguard.exchange.bitmart.signing import ws_login_args

    socket = BitMartWebSocket(
        f"ws://{address}/user?protocol=1.1",
        name="private",
        on_message=lambda group, data, ns: None,
        login_args=lambda: ws_login_args(KEY, SECRET, MEMO, int(time.time() * 1000)),
    )
    socket.start()
    try:
        assert await socket.wait_ready(10.0)
        assert socket.logged_in
        await socket.subscribe(["futures/order"])
        assert double.frames[0]["action"] == "access"
        assert socket.confirmed_topics == {"futures/order"}
    finally:
        await socket.close()


async def test_refused_login_raises_authentication_failed(fake: tuple[FakeBitMartWs, str]) -> None:
    _, address = fake
    from zoneguard.exchange.bitmart.signing import ws_login_args

    socket = BitMartWebSocket(
        f"ws://{address}/user?protocol=1.1",
        name="private",
        on_message=lambda group, data, ns: None,
        login_args=lambda: ws_login_args(KEY, "wrong", MEMO, int(time.time() * 1000)),
    )
    socket.start()
    try:
        with pytest.raises(AuthenticationFailed, match="access failed"):
            await socket.wait_ready(10.0)
        assert not socket.logged_in
    finally:
        await socket.close()


async def test_adapter_routes_every_push_kind(fake: tuple[FakeBitMartWs, str]) -> None:
    double, address = fake
    settings = BitMartSettings(
        api_key=KEY,
        api_secret=SECRET,
        api_memo=MEMO,
        rest_url=f"http://{address}",
        ws_public_url=f"ws://{address}/api?protocol=1.1",
        ws_private_url=f"ws://{address}/user?protocol=1.1",
    )
    exchange = BitMartExchange(settings)
    ticks: list[PriceTick] = []
    bars: list[KlineBar] = []
    orders: list[OrderUpdate] = []
    positions: list[PositionInfo] = []
    balances: list[Balance] = []
    connections: list[tuple[str, bool]] = []

    def broken_handler(tick: PriceTick) -> None:
        raise RuntimeError("a buggy consumer must not break the feed")

    exchange.on_price(broken_handler)
    exchange.on_price(ticks.append)
    exchange.on_kline(bars.append)
    exchange.on_order(orders.append)
    exchange.on_position(positions.append)
    exchange.on_balance(balances.append)
    exchange.on_connection(lambda name, up: connections.append((name, up)))
    await exchange.start()
    try:
        await exchange.subscribe_prices("AXONUSDT")
        await exchange.subscribe_klines("ETHUSDT", ["1h", "1d"])
        await exchange.subscribe_account()
        health = exchange.health()
        assert (health.public_connected, health.private_connected, health.private_logged_in) == (
            True,
            True,
            True,
        )
        subscribed = {topic for args in double.subscribes() for topic in args}
        assert subscribed == {
            "futures/ticker:AXONUSDT",
            "futures/klineBin1H:ETHUSDT",
            "futures/klineBin1D:ETHUSDT",
            "futures/order",
            "futures/position",
            "futures/asset:USDT",
        }
        for name in (
            "ws_futures_ticker_symbol_push.json",
            "ws_futures_klineBin1H_push.json",
            "ws_futures_order_push_v2.json",
            "ws_futures_position_push.json",
            "ws_futures_asset_push.json",
        ):
            await double.push(fixture(name))
        await eventually(lambda: len(balances) == 2)  # sent on both sockets by the double
        assert ticks[0].symbol == "AXONUSDT"
        assert ticks[0].last == Decimal("566.92")
        assert ticks[0].received_ns > 0
        assert bars[0].timeframe == "1h"
        assert bars[0].close == Decimal("3352.2")
        assert orders[0].kind is OrderEventKind.CANCELLED
        assert orders[0].order.order_id == "220906179895578"
        assert positions[0].side is Side.LONG
        assert positions[0].contracts == Decimal("2000")
        assert balances[0].currency == "BTC"
        age = exchange.health().last_public_message_age_s
        assert age is not None
        assert age < 5
        assert ("public", True) in connections
        assert ("private", True) in connections
    finally:
        await exchange.close()
