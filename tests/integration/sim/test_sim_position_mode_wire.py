"""Position mode on the wire: the switch, and one-way mode as BitMart reports it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sim_wire import Reply, Wire, drain, fixture, subscribe
from test_sim_rest_wire import assert_envelope, assert_same_shape

MODE_PATH = "/contract/private/set-position-mode"


@pytest.fixture
async def wire(start_sim: Any) -> AsyncIterator[Wire]:
    """Rate limits off: set-position-mode allows 2 calls per 2 s."""
    server = await start_sim(rate_limits=False)
    async with aiohttp.ClientSession() as session:
        yield Wire(session, server)


async def set_mode(wire: Wire, mode: str) -> Reply:
    return await wire.signed(MODE_PATH, {"position_mode": mode})


async def test_switch_while_flat_is_echoed_and_get_position_mode_follows(wire: Wire) -> None:
    reply = await set_mode(wire, "one_way_mode")
    assert_envelope(reply, 1000, 200)
    assert reply.data == fixture("rest_set_position_mode_response.json")["data"]
    got = await wire.keyed("/contract/private/get-position-mode")
    assert_same_shape(got.data, fixture("rest_get_position_mode_response.json")["data"])
    assert got.data == {"position_mode": "one_way_mode"}
    assert (await set_mode(wire, "hedge_mode")).data == {"position_mode": "hedge_mode"}
    assert (await set_mode(wire, "sideways")).code == 40011


async def test_switch_is_40059_while_a_position_or_an_order_exists(wire: Wire) -> None:
    await wire.order(side=1, type="market", size=2)
    refused = await set_mode(wire, "one_way_mode")
    assert_envelope(refused, 40059, 400)
    await wire.order(side=3, type="market", size=2)
    await wire.order(side=4, price="70000", size=1)
    assert (await set_mode(wire, "one_way_mode")).code == 40059
    await wire.signed("/contract/private/cancel-orders", {"symbol": "BTCUSDT"})
    assert (await set_mode(wire, "one_way_mode")).code == 1000
    mode = await wire.keyed("/contract/private/get-position-mode")
    assert mode.data == {"position_mode": "one_way_mode"}


async def test_one_way_positions_orders_and_pushes(wire: Wire) -> None:
    await set_mode(wire, "one_way_mode")
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order", "futures/position")
        await wire.order(side=1, type="market", size=3)  # buy
        sold = await wire.order(side=4, type="market", size=5)  # sell: closes 3, opens 2 short
        pushes = await drain(ws)

    rows = (await wire.keyed("/contract/private/position-v2", symbol="BTCUSDT")).data
    (row,) = rows  # one-way: one row per symbol
    assert_same_shape(row, fixture("rest_position_v2_response.json")["data"][0])
    assert (row["position_side"], row["position_amount"], row["current_amount"]) == (
        "both",
        "-2",
        "2",
    )
    (old_style,) = (await wire.keyed("/contract/private/position", symbol="BTCUSDT")).data
    assert (old_style["position_mode"], old_style["position_type"]) == ("one_way_mode", 2)

    detail = await wire.keyed(
        "/contract/private/order", symbol="BTCUSDT", order_id=str(sold.data["order_id"])
    )
    assert (detail.data["position_mode"], detail.data["deal_size"]) == ("one_way_mode", "5")
    orders = [p["data"][0]["order"] for p in pushes if p["group"] == "futures/order"]
    assert {o["position_mode"] for o in orders} == {"one_way_mode"}
    positions = [row for p in pushes if p["group"] == "futures/position" for row in p["data"]]
    assert positions and {p["position_mode"] for p in positions} == {"one_way_mode"}
    assert (positions[-1]["position_type"], positions[-1]["hold_volume"]) == (2, "2")

    flat = await wire.keyed("/contract/private/position-v2", symbol="ETHUSDT")
    (empty,) = flat.data
    assert (empty["position_side"], empty["position_amount"]) == ("both", "0")
    assert_envelope(await wire.order(side=3, type="market", size=1), 40021, 400)  # no long
