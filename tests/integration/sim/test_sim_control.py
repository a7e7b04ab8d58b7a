"""``/_sim/*``: price control, state, fault injection, reset, health; and replay."""

from __future__ import annotations

import asyncio
import gzip
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sim_wire import WAIT_S, Wire, drain, recv, subscribe

from zoneguard.sim import SimServer


async def test_price_control_validates_and_rounds(wire: Wire) -> None:
    assert await wire.price("BTCUSDT", "65100.56") == {
        "symbol": "BTCUSDT",
        "price": "65100.6",
        "filled": [],
    }
    status, body = await wire.control("/_sim/price", {"symbol": "BTCUSDT", "price": 65200})
    assert (status, body["price"]) == (200, "65200")
    for bad, field in (
        ({"symbol": "NOPE", "price": "1"}, "symbol"),
        ({"symbol": "BTCUSDT", "price": "abc"}, "price"),
        ({"symbol": "BTCUSDT", "price": "-1"}, "price"),
        ({"symbol": "BTCUSDT"}, "price"),
    ):
        status, body = await wire.control("/_sim/price", bad)
        assert status == 400
        assert body["error"].startswith(field)


async def test_server_set_price_matches_the_control_endpoint(sim: SimServer, wire: Wire) -> None:
    placed = await wire.order(side=4, price="65500", size=1)
    filled = await sim.set_price("BTCUSDT", Decimal("65600"))
    assert filled == [placed.data["order_id"]]
    assert sim.engine.last_price("BTCUSDT") == Decimal("65600")


async def test_state_reports_orders_positions_plans_and_counters(wire: Wire) -> None:
    await wire.order(
        side=1, price="64000", size=5, client_order_id="s1", preset_take_profit_price="66000"
    )
    await wire.order(side=1, price="60000", size=1)
    await wire.price("BTCUSDT", "64000")
    await wire.keyed("/contract/private/position-v2")
    state = await wire.state()
    assert state["counters"]["requests"] == {
        "/contract/private/submit-order": 2,
        "/contract/private/position-v2": 1,
    }
    assert [o["client_order_id"] for o in state["orders"]] == ["s1", ""]
    assert len(state["open_order_ids"]) == 1
    (position,) = state["positions"]
    assert (position["position_side"], position["current_amount"]) == ("long", "5")
    (plan,) = state["plan_orders"]
    assert (plan["type"], plan["trigger_price"]) == ("take_profit", "66000")
    assert state["last_prices"]["BTCUSDT"] == "64000"
    assert state["balances"]["USDT"]["position_deposit"] == "32"
    assert (state["balances"]["USDT"]["spot"], state["trail_orders"]) == ("100000", [])
    assert len(state["fills"]) == 1
    assert state["replay"] is None


async def test_fill_control_partly_fills_a_resting_order(wire: Wire) -> None:
    placed = await wire.order(side=1, price="64000", size=5)
    order_id = str(placed.data["order_id"])
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order")
        status, body = await wire.control(
            "/_sim/fill", {"symbol": "BTCUSDT", "order_id": order_id, "contracts": 2}
        )
        assert (status, body) == (
            200,
            {"order_id": order_id, "deal_size": "2", "size": "5", "state": 2},
        )
        push = (await recv(ws))["data"][0]
    assert (push["action"], push["order"]["state"], push["order"]["deal_size"]) == (1, 2, "2")
    detail = await wire.keyed("/contract/private/order", symbol="BTCUSDT", order_id=order_id)
    assert (detail.data["state"], detail.data["deal_size"]) == (2, "2")
    status, body = await wire.control(
        "/_sim/fill", {"symbol": "BTCUSDT", "order_id": "1", "contracts": 1}
    )
    assert status == 404
    status, body = await wire.control(
        "/_sim/fill", {"symbol": "BTCUSDT", "order_id": order_id, "contracts": "x"}
    )
    assert (status, body["error"].split(":")[0]) == (400, "contracts")


async def test_reject_orders_fault_only_for_the_chosen_kind(wire: Wire) -> None:
    status, _ = await wire.control(
        "/_sim/faults",
        {"reject_orders": {"count": 1, "code": 40027, "message": "no", "reduce_only": True}},
    )
    assert status == 200
    opened = await wire.order(side=1, type="market", size=2)  # opening: not affected
    assert opened.code == 1000
    refused = await wire.order(side=3, type="market", size=1)
    assert (refused.status, refused.code, refused.body["message"]) == (400, 40027, "no")
    assert (await wire.order(side=3, type="market", size=1)).code == 1000  # count used up
    assert len((await wire.state())["orders"]) == 2


async def test_order_response_503_executes_the_order(wire: Wire) -> None:
    await wire.control("/_sim/faults", {"order_response": {"count": 1, "mode": "503"}})
    reply = await wire.order(side=1, price="60000", size=1, client_order_id="u503")
    assert (reply.status, reply.code) == (503, 30014)
    history = await wire.keyed(
        "/contract/private/order-history", symbol="BTCUSDT", client_order_id="u503"
    )
    assert len(history.data) == 1


async def test_order_response_drop_closes_without_reply_but_executes(wire: Wire) -> None:
    await wire.control("/_sim/faults", {"order_response": {"count": 1, "mode": "drop"}})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await wire.order(side=1, price="60000", size=1, client_order_id="udrop")
    assert (await wire.order(side=1, price="60000", size=1, client_order_id="udrop")).code == 40050


async def test_order_response_delay_and_rest_delay(wire: Wire) -> None:
    loop = asyncio.get_running_loop()
    await wire.control(
        "/_sim/faults", {"order_response": {"count": 1, "mode": "delay", "delay_ms": 200}}
    )
    started = loop.time()
    assert (await wire.order(side=1, price="60000", size=1)).code == 1000
    assert loop.time() - started >= 0.19
    await wire.control("/_sim/faults", {"rest_delay_ms": 150})
    started = loop.time()
    assert (await wire.get("/system/time")).code == 1000
    assert loop.time() - started >= 0.14
    await wire.control("/_sim/faults", {"clear": True})
    # Cleared: read from the simulator's state ("a reply within 0.1 s" raced a busy machine).
    faults = (await wire.state())["faults"]
    assert (faults["rest_delay_ms"], faults["order_response"]) == (0, None)
    assert (await wire.get("/system/time")).code == 1000


async def test_thin_book_fills_part_of_a_taking_order_and_cancels_the_rest(wire: Wire) -> None:
    await wire.order(side=1, type="market", size=10)
    status, _ = await wire.control(
        "/_sim/faults", {"thin_book": {"count": 1, "contracts": 3, "reduce_only": True}}
    )
    assert status == 200
    close = await wire.order(side=3, type="market", size=10, client_order_id="thin1")
    detail = await wire.keyed(
        "/contract/private/order", symbol="BTCUSDT", order_id=str(close.data["order_id"])
    )
    assert (detail.data["state"], detail.data["deal_size"], detail.data["size"]) == (4, "3", "10")
    (position,) = [p for p in (await wire.state())["positions"] if p["symbol"] == "BTCUSDT"]
    assert position["current_amount"] == "7"
    again = await wire.order(side=3, type="market", size=7)  # used up: the book is deep again
    assert again.code == 1000
    assert (await wire.state())["positions"][0]["current_amount"] == "0"


async def test_lookup_lag_hides_young_orders_from_every_order_read(wire: Wire) -> None:
    await wire.control("/_sim/faults", {"lookup_lag_ms": 60_000})
    placed = await wire.order(side=1, price="60000", size=1, client_order_id="young1")
    assert placed.code == 1000
    detail = await wire.keyed(
        "/contract/private/order", symbol="BTCUSDT", order_id=str(placed.data["order_id"])
    )
    assert detail.code == 40035
    history = await wire.keyed(
        "/contract/private/order-history", symbol="BTCUSDT", client_order_id="young1"
    )
    opened = await wire.keyed("/contract/private/get-open-orders", symbol="BTCUSDT")
    assert (history.data, opened.data) == ([], [])
    again = await wire.order(side=1, price="60000", size=1, client_order_id="young1")
    assert again.code == 40050, "the write side knows it"
    await wire.control("/_sim/faults", {"lookup_lag_ms": 0})
    history = await wire.keyed(
        "/contract/private/order-history", symbol="BTCUSDT", client_order_id="young1"
    )
    assert len(history.data) == 1


async def test_dropped_order_pushes_and_refused_cancels(wire: Wire) -> None:
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order")
        await wire.control("/_sim/faults", {"drop_order_pushes": 1})
        first = await wire.order(side=1, price="60000", size=1)
        assert await drain(ws) == []
        await wire.order(side=1, price="60001", size=1)
        (push,) = await drain(ws)
        assert push["group"] == "futures/order"
    await wire.control("/_sim/faults", {"reject_cancels": {"count": 1, "code": 30014}})
    body = {"symbol": "BTCUSDT", "order_id": str(first.data["order_id"])}
    refused = await wire.signed("/contract/private/cancel-order", body)
    assert (refused.status, refused.code) == (503, 30014)
    assert len((await wire.state())["open_order_ids"]) == 2
    done = await wire.signed("/contract/private/cancel-order", body)
    assert done.code == 1000


async def test_bad_fault_specs_are_400(wire: Wire) -> None:
    for bad in (
        {"order_response": {"mode": "explode"}},
        {"reject_orders": {"count": -1}},
        {"drop_ws": "some"},
        {"stall_feed": "yes"},
        {"thin_book": {"count": 1}},
        {"lookup_lag_ms": -5},
        {"drop_order_pushes": "all"},
        {"reject_cancels": []},
    ):
        status, body = await wire.control("/_sim/faults", bad)
        assert status == 400, bad
        assert body["error"]


async def test_stall_feed_stops_public_pushes_while_prices_move(wire: Wire) -> None:
    async with await wire.ws() as ws:
        await subscribe(ws, "futures/ticker:BTCUSDT")
        await drain(ws)
        await wire.control("/_sim/faults", {"stall_feed": True})
        await wire.price("BTCUSDT", "65500")
        assert await drain(ws) == []
        assert (await wire.state())["last_prices"]["BTCUSDT"] == "65500"
        await wire.control("/_sim/faults", {"stall_feed": False})
        await wire.price("BTCUSDT", "65600")
        (push,) = await drain(ws)
        assert push["data"]["last_price"] == "65600"


async def test_drop_ws_closes_the_chosen_sockets(wire: Wire) -> None:
    async with await wire.ws() as public, await wire.ws(private=True) as private:
        await wire.login(private)
        await subscribe(public, "futures/trade:BTCUSDT")
        status, body = await wire.control("/_sim/faults", {"drop_ws": "private"})
        assert (status, body["dropped"]) == (200, 1)
        msg = await private.receive(timeout=WAIT_S)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await public.send_json({"action": "ping"})
        assert (await recv(public))["data"] == "pong"
        _, health = await wire.control("/_sim/health")
        assert health == {"status": "ok", "connections": {"public": 1, "private": 0}}


async def test_reset_starts_a_fresh_account(wire: Wire) -> None:
    first = await wire.order(side=1, type="market", size=1)
    await wire.price("BTCUSDT", "70000")
    status, _ = await wire.control("/_sim/reset", {})
    assert status == 200
    state = await wire.state()
    assert (state["orders"], state["positions"]) == ([], [])
    assert state["last_prices"]["BTCUSDT"] == "65000"
    assert state["balances"]["USDT"]["wallet"] == "100000"
    second = await wire.order(side=1, type="market", size=1)
    assert second.data["order_id"] > first.data["order_id"]  # ids never repeat


async def test_replay_drives_the_price_and_reports_progress(start_sim: Any, tmp_path: Path) -> None:
    csv = "open_time,open,high,low,close,volume\n" + "".join(
        f"{1722470400000 + 60000 * i},{3000 + i},{3005 + i},{2995 + i},{3001 + i},1\n"
        for i in range(3)
    )
    replay = tmp_path / "eth.csv.gz"
    replay.write_bytes(gzip.compress(csv.encode()))
    server: SimServer = await start_sim(
        replay_file=replay, replay_symbol="ETHUSDT", replay_speed=60 * 120
    )
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        for _ in range(200):
            progress = (await wire.state())["replay"]
            if progress["finished"]:
                break
            await asyncio.sleep(0.02)
        now_s = int(time.time())
        klines = await wire.get(
            "/contract/public/kline",
            {"symbol": "ETHUSDT", "start_time": str(now_s - 300), "end_time": str(now_s)},
        )
    lows = [Decimal(bar["low_price"]) for bar in klines.data]
    highs = [Decimal(bar["high_price"]) for bar in klines.data]
    assert (min(lows), max(highs)) == (Decimal(2995), Decimal(3007))  # every point was played
    assert progress["finished"] is True
    assert (progress["rows_total"], progress["rows_done"], progress["symbol"]) == (3, 3, "ETHUSDT")
    assert server.engine.last_price("ETHUSDT") == Decimal("3003")
