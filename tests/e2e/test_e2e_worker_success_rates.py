"""The product's two success rates (placement and callback) are in ``GET /status`` and in
``GET /metrics`` as gauges, not only as raw counters (definitions: ``worker/metrics.py``)."""

from __future__ import annotations

import math
from decimal import Decimal

from e2e_harness import SEED_ORDER, Client, Stack, eventually

SHORT = {**SEED_ORDER, "id": "short-1", "side": "short", "stop_loss": 67000, "take_profit": 60000}


async def rates(client: Client) -> dict[str, dict[str, float | int | None]]:
    status, body = await client.get("/status")
    assert status == 200, body
    found: dict[str, dict[str, float | int | None]] = body["success_rates"]
    return found


async def gauge(client: Client, name: str) -> float:
    async with client.session.get(client.worker_url + "/metrics") as reply:
        text = await reply.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_placement_and_callback_success_rates(stack: Stack) -> None:
    client = await stack.start(sim={"prices": {"BTCUSDT": Decimal("66000")}})
    empty = {"rate": None, "succeeded": 0, "attempts": 0}
    assert await rates(client) == {"placement": empty, "callback": empty}
    assert math.isnan(await gauge(client, "zoneguard_placement_success_ratio"))

    # One entry accepted, its callback delivered at the first attempt.
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    await stack.receiver.wait_for("test-order-123", "placed")
    await eventually(lambda: stack.receiver.bodies, what="the placed callback")

    # One entry refused for good by the exchange; its callback refused by the receiver first.
    stack.receiver.status = 503
    await client.fault({"reject_orders": {"count": 1, "reduce_only": False}})
    status, body = await client.post("/api/place-order", SHORT)  # in its zone: placed at once
    assert status == 200, body
    assert stack.worker is not None
    sender = stack.worker.service.sender
    await eventually(lambda: sender.failed_attempts >= 1, 10, "a refused callback attempt")
    stack.receiver.status = 200
    await stack.receiver.wait_for("short-1", "failed", timeout=15)

    found = await rates(client)
    assert found["placement"] == {"rate": 0.5, "succeeded": 1, "attempts": 2}
    attempts = 2 + sender.failed_attempts
    assert found["callback"] == {
        "rate": round(2 / attempts, 6),
        "succeeded": 2,
        "attempts": attempts,
    }
    assert await gauge(client, "zoneguard_placement_success_ratio") == 0.5
    assert await gauge(client, "zoneguard_callback_success_ratio") == 2 / attempts
    assert await gauge(client, "zoneguard_callback_attempts_total") == attempts
