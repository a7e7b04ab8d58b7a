"""The control API's additions beyond the seed, over real sockets: cancel, manual close,
and guarding a position opened elsewhere (the target of MonitorPositionMessage)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from e2e_harness import SEED_ORDER, Stack, sim_exchange_settings

from zoneguard.domain.market import OrderType
from zoneguard.domain.values import Side
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.port import OrderRequest

ORDER_ID = SEED_ORDER["id"]


def open_positions(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in state["positions"] if p["current_amount"] not in ("0", 0)]


async def test_cancel_a_waiting_order(stack: Stack) -> None:
    client = await stack.start()
    status, _body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    status, body = await client.post(f"/api/orders/{ORDER_ID}/cancel")
    assert (status, body["status"]) == (200, "cancelled"), body
    await stack.receiver.wait_for(ORDER_ID, "cancelled")
    await client.price("BTCUSDT", 65300)
    await stack.seen("BTCUSDT", 65300)
    assert (await client.sim_state())["orders"] == []
    status, _body = await client.post(f"/api/orders/{ORDER_ID}/cancel")
    assert status == 409


async def test_cancel_a_placed_order_cancels_it_on_the_exchange(stack: Stack) -> None:
    client = await stack.start()
    status, _body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    await client.price("BTCUSDT", 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    status, body = await client.post(f"/api/orders/{ORDER_ID}/cancel")
    assert (status, body["status"]) == (202, "cancelling"), body
    await stack.receiver.wait_for(ORDER_ID, "cancelled")
    state = await client.sim_state()
    assert state["open_order_ids"] == []
    await client.price("BTCUSDT", 65000)  # would have filled the resting buy
    assert open_positions(await client.sim_state()) == []
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "cancelled"]


async def test_manual_close_of_a_guarded_position(stack: Stack) -> None:
    client = await stack.start()
    status, _body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    await client.price("BTCUSDT", 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.prices("BTCUSDT", 65200, 65100)
    await client.wait_state(ORDER_ID, "open")
    status, body = await client.post(f"/api/orders/{ORDER_ID}/close")
    assert (status, body["status"]) == (202, "closing"), body
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "manual"
    state = await client.sim_state()
    assert open_positions(state) == []
    assert not [p for p in state["plan_orders"] if p["state"] == 1], "presets left behind"
    # The stop is no longer guarded: a later fall sends nothing.
    await client.price("BTCUSDT", 63000)
    await stack.seen("BTCUSDT", 63000)
    assert len([o for o in (await client.sim_state())["orders"] if o["side"] == 3]) == 1


async def open_outside_the_worker(stack: Stack, contracts: int) -> None:
    """A position opened by someone else on the same account (another client)."""
    assert stack.sim is not None
    outsider = BitMartExchange(sim_exchange_settings(stack.sim))
    await outsider.start()
    try:
        await outsider.place_order(
            OrderRequest(
                symbol="BTCUSDT",
                position_side=Side.LONG,
                reduce_only=False,
                order_type=OrderType.MARKET,
                contracts=Decimal(contracts),
                leverage=Decimal(5),
                client_order_id="outsider1",
            )
        )
    finally:
        await outsider.close()


async def test_monitor_a_position_opened_elsewhere(stack: Stack) -> None:
    client = await stack.start()
    await open_outside_the_worker(stack, 7)
    body = {
        "id": "adopted-1",
        "symbol": "BTCUSDT",
        "side": "long",
        "stop_loss": 65000,
        "take_profit": 67000,
    }
    status, answer = await client.post("/api/monitor-position", body)
    assert (status, answer["status"]) == (200, "open"), answer
    _status, status_body = await client.get("/api/orders/status")
    assert [p["id"] for p in status_body["monitored_positions"]] == ["adopted-1"]
    assert status_body["monitored_positions"][0]["filled_contracts"] == "7"
    status, again = await client.post("/api/monitor-position", body)
    assert status == 200 and again["duplicate"] is True, again
    await client.price("BTCUSDT", 64990)
    closed = await stack.receiver.wait_for("adopted-1", "closed")
    assert closed["reason"] == "stop_loss"
    state = await client.sim_state()
    assert open_positions(state) == []
    assert [o["size"] for o in state["orders"] if o["side"] == 3] == ["7"]


async def test_monitor_refuses_a_side_without_a_position(stack: Stack) -> None:
    client = await stack.start()
    status, answer = await client.post(
        "/api/monitor-position",
        {"id": "nothing", "symbol": "BTCUSDT", "side": "long", "stop_loss": 60000},
    )
    assert status == 422, answer
    assert answer["fields"][0]["field"] == "side"
    status, _answer = await client.get("/api/orders/nothing")
    assert status == 404
