"""Callbacks while the trading app is unreachable: kept, retried, delivered in order."""

from __future__ import annotations

import pytest
from e2e_harness import SEED_ORDER, Client, Stack, eventually

LONG = SEED_ORDER
SHORT = {
    **SEED_ORDER,
    "id": "short-cb",
    "side": "short",
    "entry_zone_min": 66500,
    "entry_zone_max": 67000,
    "stop_loss": 68000,
    "take_profit": 64000,
}


async def run_both_orders(stack: Stack, client: Client) -> None:
    """The long goes placed -> filled -> closed (take-profit), the short placed -> filled."""
    for order in (LONG, SHORT):
        status, body = await client.post("/api/place-order", order)
        assert status == 200, body
    await client.price("BTCUSDT", 65300)
    await client.wait_state(LONG["id"], "placed")
    await client.prices("BTCUSDT", 65200, 65100)
    await client.wait_state(LONG["id"], "open")
    await client.price("BTCUSDT", 66600)
    await client.wait_state(SHORT["id"], "placed")
    await client.prices("BTCUSDT", 66700, 66800)
    await client.wait_state(SHORT["id"], "open")
    await client.price("BTCUSDT", 68010)  # the long's take-profit and the short's stop
    await client.wait_state(LONG["id"], "closed")
    await client.wait_state(SHORT["id"], "closed")


@pytest.mark.parametrize("outage", ["refused", "503"])
async def test_receiver_down_then_every_callback_arrives_in_order(
    stack: Stack, outage: str
) -> None:
    client = await stack.start(callback_alert_age_s=0.3)
    receiver = stack.receiver
    if outage == "refused":
        await receiver.stop()
    else:
        receiver.status = 503
    await run_both_orders(stack, client)
    _status, worker = await client.get("/status")
    assert worker["callbacks_pending"] >= 6
    assert receiver.bodies == []
    # The operator is told that callbacks are getting old.
    await eventually(
        lambda: "ALERT callback_stale" in stack.app_log.read_text(), 5, "the stale alert"
    )

    if outage == "refused":
        await receiver.start()
    else:
        receiver.status = 200
    await eventually(lambda: len(receiver.bodies) >= 6, 9, "every callback")
    assert receiver.statuses(LONG["id"]) == ["placed", "filled", "closed"]
    assert receiver.statuses(SHORT["id"]) == ["placed", "filled", "closed"]
    event_ids = [body["event_id"] for body in receiver.bodies]
    assert len(event_ids) == len(set(event_ids)) == 6
    for order_id in (LONG["id"], SHORT["id"]):
        stamps = [body["timestamp"] for body in receiver.of(order_id)]
        assert stamps == sorted(stamps), "each order's callbacks in the order they happened"
    _status, worker = await client.get("/status")
    assert worker["callbacks_pending"] == 0
