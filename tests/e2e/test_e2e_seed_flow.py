"""The seed's "Test Manuel du Flux Complet", step by step, over real sockets against the sim."""

from __future__ import annotations

from typing import Any

from e2e_harness import SEED_ORDER, Stack


def reduce_only_orders(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in state["orders"] if o["side"] in (2, 3)]


async def test_seed_manual_flow_ends_in_take_profit(stack: Stack) -> None:
    client = await stack.start()
    # 2. subscribe BTCUSDT 1m klines
    status, body = await client.post("/klines/subscribe", {"symbol": "BTCUSDT", "tfs": ["1m"]})
    assert status == 200, body
    # 3. subscribe positions
    status, body = await client.post("/positions/subscribe")
    assert (status, body["position_subscribed"]) == (200, True)
    # 4. place the seed's test order (price 66000: above the zone)
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    assert body["status"] == "waiting_zone"
    # 5. status
    status, body = await client.get("/api/orders/status")
    assert [o["id"] for o in body["waiting_orders"]] == ["test-order-123"]
    status, body = await client.get("/status")
    assert "BTCUSDT:1m" in body["kline_channels"]
    assert body["position_subscribed"] is True

    await client.prices("BTCUSDT", 65800, 65400)  # enters the zone
    placed = await stack.receiver.wait_for("test-order-123", "placed")
    assert placed["exchange_order_id"]
    assert placed["quantity"] == 0.01
    assert 65000 <= placed["entry_price"] <= 65500
    await client.prices("BTCUSDT", 65300, 65250)  # trades through the resting buy
    await client.wait_state("test-order-123", "open")
    _status, body = await client.get("/api/orders/status")
    assert [p["id"] for p in body["monitored_positions"]] == ["test-order-123"]

    await client.prices("BTCUSDT", 66500, 67500, 68010)  # take-profit crossed
    closed = await stack.receiver.wait_for("test-order-123", "closed")
    assert closed["reason"] == "take_profit"
    assert closed["position_id"] == "test-order-123"
    assert closed["close_order_id"]
    assert closed["close_price"] >= 68000 * 0.999
    assert stack.receiver.statuses("test-order-123") == ["placed", "filled", "closed"]
    state = await client.sim_state()
    assert len(reduce_only_orders(state)) == 1, "exactly one close reached the exchange"
    assert all(p["current_amount"] in ("0", 0) for p in state["positions"])


async def test_stop_loss_on_a_short(stack: Stack) -> None:
    client = await stack.start()
    order = dict(
        SEED_ORDER,
        id="short-1",
        side="short",
        entry_zone_min=66500,
        entry_zone_max=67000,
        stop_loss=68000,
        take_profit=64000,
    )
    status, body = await client.post("/api/place-order", order)
    assert status == 200, body
    await client.prices("BTCUSDT", 66600)
    await stack.receiver.wait_for("short-1", "placed")
    await client.prices("BTCUSDT", 66700, 66800)
    await client.wait_state("short-1", "open")
    await client.prices("BTCUSDT", 67500, 68050)
    closed = await stack.receiver.wait_for("short-1", "closed")
    assert closed["reason"] == "stop_loss"
    assert closed["side"] == "short"
