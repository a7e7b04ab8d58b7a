"""The Binance dialect's connection rules with short settings: listenKey expiry and
keep-alive, server pings, the silent-client drop, the 24-hour limit, the message rate."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from binance_clients import binance_config, raw
from ws_helpers import event, listen_key, next_frame, nothing_comes, signed_call, ws_url

from zoneguard.sim.server import SimServer

CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


@pytest.fixture
async def short_sim() -> AsyncIterator[SimServer]:
    """A listenKey of 1 s, pings every 0.2 s, a silence limit of 0.8 s (lifetime: 60 s)."""
    config = dataclasses.replace(
        binance_config(),
        binance_listen_key_validity_s=1.0,
        binance_ws_ping_interval_s=0.2,
        binance_ws_pong_timeout_s=0.8,
        binance_ws_max_lifetime_s=60.0,
        binance_ws_max_messages_per_s=10,
    )
    async with SimServer(config) as server:
        yield server


@pytest.fixture
async def short_lived_sim() -> AsyncIterator[SimServer]:
    config = dataclasses.replace(binance_config(), binance_ws_max_lifetime_s=0.5)
    async with SimServer(config) as server:
        yield server


async def test_listen_key_not_kept_alive_expires_then_the_stream_closes(
    short_sim: SimServer, session: aiohttp.ClientSession
) -> None:
    key = await listen_key(session, short_sim)
    async with session.ws_connect(ws_url(short_sim, f"/private/ws?listenKey={key}")) as ws:
        expired = await next_frame(ws, timeout=3.0)
        assert expired["e"] == "listenKeyExpired"
        assert expired["listenKey"] == key
        assert isinstance(expired["E"], int)
        assert (await ws.receive(timeout=3.0)).type in CLOSED
    status, body, _ = await raw(session, short_sim, "PUT", "/fapi/v1/listenKey")
    assert (status, body["code"]) == (400, -1125)


async def test_put_keeps_the_listen_key_alive(
    short_sim: SimServer, session: aiohttp.ClientSession
) -> None:
    key = await listen_key(session, short_sim)
    async with session.ws_connect(ws_url(short_sim, f"/private/ws?listenKey={key}")) as ws:
        for _ in range(6):  # 6 x 0.3 s: well past the 1 s validity
            await nothing_comes(ws, within=0.3)
            status, body, _ = await raw(session, short_sim, "PUT", "/fapi/v1/listenKey")
            assert (status, body["listenKey"]) == (200, key)
        await signed_call(
            session,
            short_sim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price="60000",
        )
        frame = await next_frame(ws, timeout=1.0)
        assert event("ORDER_TRADE_UPDATE", x="NEW")(frame)


async def test_server_pings_and_a_client_that_answers_stays(
    short_sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(
        ws_url(short_sim, "/market/ws/btcusdt@aggTrade"), autoping=False
    ) as ws:
        msg = await ws.receive(timeout=2.0)
        assert msg.type is aiohttp.WSMsgType.PING
        await ws.pong(msg.data)
    async with session.ws_connect(ws_url(short_sim, "/market/ws/btcusdt@aggTrade")) as ws:
        await nothing_comes(ws, within=1.2)  # longer than the pong timeout: answered pings


async def test_a_silent_client_is_dropped(
    short_sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(
        ws_url(short_sim, "/market/ws/btcusdt@aggTrade"), autoping=False
    ) as ws:
        loop_kinds = []
        for _ in range(20):
            msg = await ws.receive(timeout=3.0)
            loop_kinds.append(msg.type)
            if msg.type is not aiohttp.WSMsgType.PING:
                break
        assert loop_kinds[0] is aiohttp.WSMsgType.PING
        assert loop_kinds[-1] in (*CLOSED, aiohttp.WSMsgType.ERROR)


async def test_a_connection_is_closed_at_its_lifetime(
    short_lived_sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(ws_url(short_lived_sim, "/public/ws/btcusdt@bookTicker")) as ws:
        msg = await ws.receive(timeout=5.0)
        assert msg.type in CLOSED


async def test_more_than_ten_messages_a_second_disconnects(
    short_sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(ws_url(short_sim, "/market/stream")) as ws:
        for n in range(12):
            await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}).decode())
        kinds = []
        for _ in range(13):
            msg = await ws.receive(timeout=3.0)
            kinds.append(msg.type)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
        assert kinds.count(aiohttp.WSMsgType.TEXT) == 10
        assert kinds[-1] in CLOSED
