"""Leverage is set when an order is accepted; an exchange refusal is the trader's input problem."""

from __future__ import annotations

from e2e_harness import SEED_ORDER, Stack


async def test_a_leverage_the_exchange_refuses_is_a_422_on_leverage(stack: Stack) -> None:
    client = await stack.start()
    # A long opens at 10x (66000 -> zone -> fill).
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.prices("BTCUSDT", 65400, 65300, 65250)
    await client.wait_state(SEED_ORDER["id"], "open")
    orders_before = len((await client.sim_state())["orders"])

    # A short on the same symbol at 20x: BitMart refuses to change leverage under an open position.
    short = dict(
        SEED_ORDER,
        id="short-20x",
        side="short",
        leverage=20,
        entry_zone_min=66000,
        entry_zone_max=66500,
        stop_loss=67500,
        take_profit=64500,
    )
    status, body = await client.post("/api/place-order", short)
    assert status == 422, body
    assert [f["field"] for f in body["fields"]] == ["leverage"]
    assert "40040" in body["error"]
    status, _ = await client.get("/api/orders/short-20x")
    assert status == 404  # nothing journaled
    assert len((await client.sim_state())["orders"]) == orders_before
