"""The Binance dialect's websockets driven by plain aiohttp clients: routes, modes,
live subscriptions, market pushes from price moves, and the user-data stream."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from binance_clients import move_price, raw
from ws_helpers import (
    event,
    listen_key,
    next_frame,
    nothing_comes,
    request,
    signed_call,
    until,
    ws_url,
)

from zoneguard.sim.server import SimServer


def stream_of(name: str) -> Any:
    return lambda f: isinstance(f, dict) and f.get("stream") == name


def kind_of(kind: str) -> Any:
    return lambda f: isinstance(f, dict) and f.get("e") == kind


async def test_raw_and_combined_modes_on_public_and_market(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with (
        session.ws_connect(ws_url(sim, "/public/ws/btcusdt@bookTicker")) as public_raw,
        session.ws_connect(
            ws_url(sim, "/public/stream?streams=btcusdt@bookTicker/btcusdt@depth5")
        ) as public_combined,
        session.ws_connect(
            ws_url(sim, "/market/ws/btcusdt@aggTrade/btcusdt@kline_1m")
        ) as market_raw,
        session.ws_connect(
            ws_url(
                sim, "/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice/btcusdt@kline_1m"
            )
        ) as market_combined,
    ):
        await move_price(session, sim, "BTCUSDT", "65100")

        ticker = await until(public_raw, kind_of("bookTicker"))
        assert (ticker["s"], ticker["b"], ticker["a"]) == ("BTCUSDT", "65099.9", "65100.1")
        assert {"u", "B", "A", "T", "E"} <= ticker.keys()

        wrapped = await until(public_combined, stream_of("btcusdt@bookTicker"))
        assert wrapped["data"]["b"] == "65099.9"
        depth = await until(public_combined, stream_of("btcusdt@depth5"))
        assert depth["data"]["e"] == "depthUpdate"
        assert len(depth["data"]["b"]) == len(depth["data"]["a"]) == 5
        assert depth["data"]["b"][0][0] == "65099.9"

        trade = await until(market_raw, kind_of("aggTrade"))
        assert (trade["s"], trade["p"]) == ("BTCUSDT", "65100")
        assert {"a", "q", "f", "l", "T", "m", "E"} <= trade.keys()
        bar = await until(market_raw, kind_of("kline"))
        k = bar["k"]
        assert (k["s"], k["i"], k["c"], k["x"]) == ("BTCUSDT", "1m", "65100", False)
        assert k["h"] >= "65100" and k["T"] == k["t"] + 60_000 - 1

        by_stream = {}
        while len(by_stream) < 3:
            frame = await next_frame(market_combined)
            by_stream[frame["stream"]] = frame["data"]
        assert by_stream["btcusdt@aggTrade"]["p"] == "65100"
        mark = by_stream["btcusdt@markPrice"]
        assert (mark["e"], mark["p"], mark["i"]) == ("markPriceUpdate", "65100", "65100")
        assert by_stream["btcusdt@kline_1m"]["k"]["c"] == "65100"


async def test_subscribe_list_and_unsubscribe_on_a_combined_connection(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(ws_url(sim, "/market/stream")) as ws:
        assert await request(ws, "SUBSCRIBE", "btcusdt@aggTrade", "ethusdt@kline_5m", id=1) == {
            "result": None,
            "id": 1,
        }
        listed = await request(ws, "LIST_SUBSCRIPTIONS", id=2)
        assert listed == {"result": ["btcusdt@aggTrade", "ethusdt@kline_5m"], "id": 2}

        await move_price(session, sim, "ETHUSDT", "3010")
        push = await next_frame(ws)
        assert push["stream"] == "ethusdt@kline_5m"
        assert push["data"]["k"]["i"] == "5m"

        assert await request(ws, "UNSUBSCRIBE", "ethusdt@kline_5m", id=3) == {
            "result": None,
            "id": 3,
        }
        assert (await request(ws, "LIST_SUBSCRIPTIONS", id=4))["result"] == ["btcusdt@aggTrade"]
        await move_price(session, sim, "ETHUSDT", "3020")
        await nothing_comes(ws)
        await move_price(session, sim, "BTCUSDT", "65010")
        assert (await next_frame(ws))["stream"] == "btcusdt@aggTrade"


async def test_raw_connection_subscribes_live_and_gets_bare_payloads(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(ws_url(sim, "/public/ws")) as ws:
        assert (await request(ws, "SUBSCRIBE", "btcusdt@bookTicker", id=7))["result"] is None
        await move_price(session, sim, "BTCUSDT", "64000")
        push = await next_frame(ws)
        assert push["e"] == "bookTicker" and push["a"] == "64000.1"
        assert await request(ws, "GET_PROPERTY", "combined", id=8) == {"result": False, "id": 8}


async def test_a_stream_of_another_route_is_refused(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(ws_url(sim, "/market/stream")) as ws:
        answer = await request(ws, "SUBSCRIBE", "btcusdt@aggTrade", "btcusdt@bookTicker", id=5)
        assert answer["id"] == 5
        assert answer["error"]["code"] == 2
        assert "/public" in answer["error"]["msg"]
        assert (await request(ws, "LIST_SUBSCRIPTIONS", id=6))["result"] == []
        unknown = await request(ws, "PING", id=9)
        assert unknown["error"]["code"] == 2
    async with session.ws_connect(ws_url(sim, "/public/stream")) as ws:
        answer = await request(ws, "SUBSCRIBE", "btcusdt@kline_1m", id=1)
        assert answer["error"]["code"] == 2
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(ws_url(sim, "/market/ws/btcusdt@bookTicker"))
    assert refused.value.status == 400


async def test_unknown_listen_key_is_refused(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    for path in ("/private/ws?listenKey=nope", "/private/ws/nope", "/ws/nope"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(ws_url(sim, path))
        assert refused.value.status == 400
    key = await listen_key(session, sim)
    async with session.ws_connect(ws_url(sim, "/private/stream")) as ws:
        assert (await request(ws, "SUBSCRIBE", "nope", id=1))["error"]["code"] == 2
        assert (await request(ws, "SUBSCRIBE", "btcusdt@aggTrade", id=2))["error"]["code"] == 2
        assert (await request(ws, "SUBSCRIBE", key, id=3))["result"] is None


async def test_resting_gtx_entry_then_filled_by_a_price_move(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    key = await listen_key(session, sim)
    async with session.ws_connect(ws_url(sim, f"/private/ws?listenKey={key}")) as ws:
        placed = await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTX",
            quantity="0.002",
            price="64900",
            newClientOrderId="entry-1",
        )
        new = await until(ws, event("ORDER_TRADE_UPDATE"))
        o = new["o"]
        assert (o["x"], o["X"], o["c"], o["f"], o["i"]) == (
            "NEW",
            "NEW",
            "entry-1",
            "GTX",
            placed["orderId"],
        )
        assert (o["q"], o["p"], o["z"], o["l"], o["S"], o["o"], o["ps"]) == (
            "0.002",
            "64900",
            "0",
            "0",
            "BUY",
            "LIMIT",
            "BOTH",
        )
        await nothing_comes(ws)  # resting: no ACCOUNT_UPDATE for an unfilled order

        await move_price(session, sim, "BTCUSDT", "64900")
        trade = await next_frame(ws)
        assert trade["e"] == "ORDER_TRADE_UPDATE"
        o = trade["o"]
        assert (o["x"], o["X"], o["l"], o["L"], o["z"], o["ap"], o["m"]) == (
            "TRADE",
            "FILLED",
            "0.002",
            "64900",
            "0.002",
            "64900",
            True,
        )
        assert o["t"] > 0 and o["N"] == "USDT" and float(o["n"]) > 0
        account = await next_frame(ws)
        assert account["e"] == "ACCOUNT_UPDATE"
        assert account["a"]["m"] == "ORDER"
        assert account["a"]["B"][0]["a"] == "USDT"
        (row,) = account["a"]["P"]
        assert (row["s"], row["pa"], row["ep"], row["ps"]) == ("BTCUSDT", "0.002", "64900", "BOTH")
        assert {"bep", "cr", "up", "mt", "iw"} <= row.keys()


async def test_cancel_gives_canceled(sim: SimServer, session: aiohttp.ClientSession) -> None:
    key = await listen_key(session, sim)
    async with session.ws_connect(ws_url(sim, f"/private/stream?listenKey={key}")) as ws:
        placed = await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.003",
            price="66000",
        )
        new = await next_frame(ws)
        assert new["stream"] == key
        assert new["data"]["o"]["x"] == "NEW"
        await signed_call(
            session, sim, "DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=placed["orderId"]
        )
        cancelled = (await next_frame(ws))["data"]
        assert cancelled["e"] == "ORDER_TRADE_UPDATE"
        assert (cancelled["o"]["x"], cancelled["o"]["X"], cancelled["o"]["z"]) == (
            "CANCELED",
            "CANCELED",
            "0",
        )
        await nothing_comes(ws)


async def _open_long(session: aiohttp.ClientSession, sim: SimServer, ws: Any) -> None:
    await signed_call(
        session,
        sim,
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity="0.002",
    )
    await until(ws, lambda f: f.get("e") == "ACCOUNT_UPDATE")


async def test_algo_stop_market_fires_through_its_statuses_and_leaves_the_position_flat(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    key = await listen_key(session, sim)
    async with session.ws_connect(ws_url(sim, f"/private/ws/{key}")) as ws:
        await _open_long(session, sim, ws)
        algo = await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/algoOrder",
            algoType="CONDITIONAL",
            symbol="BTCUSDT",
            side="SELL",
            type="STOP_MARKET",
            triggerPrice="64000",
            closePosition="true",
            clientAlgoId="sl-1",
        )
        new = await next_frame(ws)
        assert new["e"] == "ALGO_UPDATE"
        o = new["o"]
        assert (o["X"], o["aid"], o["caid"], o["at"], o["o"], o["tp"], o["cp"], o["ai"]) == (
            "NEW",
            algo["algoId"],
            "sl-1",
            "CONDITIONAL",
            "STOP_MARKET",
            "64000",
            True,
            "",
        )

        await move_price(session, sim, "BTCUSDT", "63990")
        seen: list[tuple[str, str]] = []
        child_id = ""
        while not seen or seen[-1] != ("ALGO_UPDATE", "FINISHED"):
            frame = await next_frame(ws)
            if frame["e"] == "ALGO_UPDATE":
                seen.append(("ALGO_UPDATE", frame["o"]["X"]))
                if frame["o"]["X"] in ("TRIGGERED", "FINISHED"):
                    child_id = frame["o"]["ai"]
                    assert child_id
            elif frame["e"] == "ORDER_TRADE_UPDATE":
                seen.append(("ORDER_TRADE_UPDATE", frame["o"]["x"]))
                assert str(frame["o"]["i"]) == child_id
            else:
                seen.append((frame["e"], frame["a"]["P"][0]["pa"]))
        assert seen == [
            ("ALGO_UPDATE", "TRIGGERING"),
            ("ALGO_UPDATE", "TRIGGERED"),
            ("ORDER_TRADE_UPDATE", "NEW"),
            ("ORDER_TRADE_UPDATE", "TRADE"),
            ("ACCOUNT_UPDATE", "0"),
            ("ALGO_UPDATE", "FINISHED"),
        ]
        risk = await signed_call(session, sim, "GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
        assert risk == []


async def test_algo_cancelled_and_algo_expired_with_its_position(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    key = await listen_key(session, sim)
    async with session.ws_connect(ws_url(sim, f"/private/ws?listenKey={key}")) as ws:
        await _open_long(session, sim, ws)
        common = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL"}
        stop = await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/algoOrder",
            **common,
            type="STOP_MARKET",
            triggerPrice="60000",
            closePosition="true",
        )
        target = await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/algoOrder",
            **common,
            type="TAKE_PROFIT_MARKET",
            triggerPrice="70000",
            closePosition="true",
        )
        await until(ws, event("ALGO_UPDATE", aid=target["algoId"], X="NEW"))
        await signed_call(
            session, sim, "DELETE", "/fapi/v1/algoOrder", algoId=stop["algoId"], symbol="BTCUSDT"
        )
        await until(ws, event("ALGO_UPDATE", aid=stop["algoId"], X="CANCELED"))
        await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="SELL",
            type="MARKET",
            quantity="0.002",
            reduceOnly="true",
        )
        await until(ws, event("ALGO_UPDATE", aid=target["algoId"], X="EXPIRED"))


async def test_delete_listen_key_closes_its_stream(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    key = await listen_key(session, sim)
    async with session.ws_connect(ws_url(sim, f"/private/ws?listenKey={key}")) as ws:
        status, _, _ = await raw(session, sim, "DELETE", "/fapi/v1/listenKey")
        assert status == 200
        msg = await ws.receive(timeout=5.0)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
