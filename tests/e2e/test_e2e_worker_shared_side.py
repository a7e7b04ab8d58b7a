"""Issue 9: several signals on one symbol and side, over real sockets against the BitMart
simulator. They share the venue's one position; each closes only its own contracts, the
exchange-side stop sits beyond the farthest stop of those holding, and hands the levels
back to the last one left; a restart keeps each one's part; the exchange's stop firing
while the worker is down closes (and reports) them all."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from e2e_harness import (
    CLOSE_SIDES,
    SEED_ORDER,
    Client,
    CrashStack,
    Stack,
    eventually,
    open_contracts,
    sim_orders,
)

SYMBOL = str(SEED_ORDER["symbol"])
FIRST: dict[str, Any] = {**SEED_ORDER, "id": "shared-a"}
"""The seed's long: 10 contracts, 65000-65500, SL 64000, TP 68000."""
SECOND: dict[str, Any] = {
    **SEED_ORDER,
    "id": "shared-b",
    "entry_zone_min": 64500,
    "entry_zone_max": 64800,
    "quantity": 0.005,
    "stop_loss": 63000,
    "take_profit": 66000,
}
"""A second long on the same symbol: 5 contracts, a wider stop, a nearer target."""


def exchange_levels(state: dict[str, Any], kind: str) -> list[Decimal]:
    return [
        Decimal(plan["trigger_price"])
        for plan in state["plan_orders"]
        if plan["symbol"] == SYMBOL and plan["type"] == kind and plan["state"] == 1
    ]


def closes(state: dict[str, Any]) -> list[Decimal]:
    return [Decimal(str(o["deal_size"])) for o in sim_orders(state, sides=CLOSE_SIDES)]


async def both_open(stack: Stack | CrashStack, client: Client) -> None:
    status, body = await client.post("/api/place-order", FIRST)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for("shared-a", "placed")
    await client.prices(SYMBOL, 65200, 65100)
    await stack.receiver.wait_for("shared-a", "filled")
    status, body = await client.post("/api/place-order", SECOND)
    assert status == 200, body  # no longer a 409: the side is shared
    await client.price(SYMBOL, 64700)
    await stack.receiver.wait_for("shared-b", "placed")
    await client.prices(SYMBOL, 64600, 64500)
    filled = await stack.receiver.wait_for("shared-b", "filled")
    assert filled["filled_contracts"] == 5
    await client.wait_state("shared-b", "open")
    assert open_contracts(await client.sim_state(), SYMBOL) == 15


async def test_each_signal_closes_only_its_own_contracts(stack: Stack) -> None:
    client = await stack.start()
    await both_open(stack, client)

    async def beyond_the_farthest() -> bool:
        state = await client.sim_state()
        stops, takes = exchange_levels(state, "stop_loss"), exchange_levels(state, "take_profit")
        # 0.2 % (the backstop offset) beyond B's stop 63000 and A's target 68000.
        return stops == [Decimal("62874")] and takes == [Decimal("68136")]

    await eventually(beyond_the_farthest, 8, "the exchange's levels beyond the farthest")

    await client.prices(SYMBOL, 65500, 66010)  # B's target, not A's
    closed_b = await stack.receiver.wait_for("shared-b", "closed")
    assert (closed_b["reason"], closed_b["filled_contracts"]) == ("take_profit", 5)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 10, "A's ten stay open"
    assert closes(state) == [5]
    assert "closed" not in stack.receiver.statuses("shared-a")

    async def handed_back() -> bool:
        state = await client.sim_state()
        stops, takes = exchange_levels(state, "stop_loss"), exchange_levels(state, "take_profit")
        return stops == [Decimal("63872")] and takes == [Decimal("68136")]

    await eventually(handed_back, 8, "A's own stop back on the exchange")

    await client.prices(SYMBOL, 65000, 63990)
    closed_a = await stack.receiver.wait_for("shared-a", "closed")
    assert (closed_a["reason"], closed_a["filled_contracts"]) == ("stop_loss", 10)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert sorted(closes(state)) == [5, 10]


async def test_the_tighter_stop_closes_its_own_part_and_the_other_stays_guarded(
    stack: Stack,
) -> None:
    client = await stack.start()
    await both_open(stack, client)
    await client.price(SYMBOL, 63990)  # A's stop (64000); B's is 63000
    closed_a = await stack.receiver.wait_for("shared-a", "closed")
    assert (closed_a["reason"], closed_a["filled_contracts"]) == ("stop_loss", 10)
    await asyncio.sleep(0.3)
    assert open_contracts(await client.sim_state(), SYMBOL) == 5
    assert "closed" not in stack.receiver.statuses("shared-b")
    await client.price(SYMBOL, 62990)
    closed_b = await stack.receiver.wait_for("shared-b", "closed")
    assert (closed_b["reason"], closed_b["filled_contracts"]) == ("stop_loss", 5)
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


@pytest.mark.slow
async def test_a_restart_keeps_each_signals_part(crash: CrashStack) -> None:
    client = await crash.start()
    await both_open(crash, client)
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")
    await crash.restart()
    await client.prices(SYMBOL, 65500, 66010)
    closed_b = await crash.receiver.wait_for("shared-b", "closed")
    assert closed_b["filled_contracts"] == 5
    await asyncio.sleep(0.3)
    assert open_contracts(await client.sim_state(), SYMBOL) == 10
    await client.prices(SYMBOL, 65000, 63990)
    closed_a = await crash.receiver.wait_for("shared-a", "closed")
    assert closed_a["filled_contracts"] == 10
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


@pytest.mark.slow
async def test_the_exchange_stop_closing_all_while_down_reports_every_signal(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    await both_open(crash, client)

    async def beyond_the_farthest() -> bool:
        stops = exchange_levels(await client.sim_state(), "stop_loss")
        return len(stops) == 1 and stops[0] < Decimal(63000)

    await eventually(beyond_the_farthest, 8, "the exchange's stop beyond the farthest stop")
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")
    await client.price(SYMBOL, 62000)  # past every stop: the exchange's fires

    async def flat() -> bool:
        return open_contracts(await client.sim_state(), SYMBOL) == 0

    await eventually(flat, 5, "the exchange's stop closed the position")
    await crash.restart()
    for order_id in ("shared-a", "shared-b"):
        closed = await crash.receiver.wait_for(order_id, "closed")
        assert closed["reason"] == "stop_loss", closed


async def test_a_ladder_beside_another_signal_closes_its_own_rungs_and_rest(stack: Stack) -> None:
    client = await stack.start()
    ladder = {
        **{k: v for k, v in FIRST.items() if k != "take_profit"},
        "take_profits": [
            {"price": 66000, "size_percent": 50},
            {"price": 67000, "size_percent": 50},
        ],
        "break_even": {"after_take_profit": 1},
    }
    status, body = await client.post("/api/place-order", ladder)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await client.prices(SYMBOL, 65200, 65100)
    await stack.receiver.wait_for("shared-a", "filled")
    status, body = await client.post("/api/place-order", {**SECOND, "take_profit": 68000})
    assert status == 200, body
    await client.price(SYMBOL, 64700)
    await client.prices(SYMBOL, 64600, 64500)
    await stack.receiver.wait_for("shared-b", "filled")
    await client.prices(SYMBOL, 65500, 66010)  # A's TP1: half of A's ten
    part = await stack.receiver.wait_for("shared-a", "partially_closed")
    assert (part["closed_quantity"], part["remaining_quantity"]) == (5, 5)
    moved = await stack.receiver.wait_for("shared-a", "stop_moved")
    level = Decimal(str(moved["stop_loss"]))
    assert open_contracts(await client.sim_state(), SYMBOL) == 10
    await client.price(SYMBOL, level - 1)  # A's break-even: A's last five only
    closed_a = await stack.receiver.wait_for("shared-a", "closed")
    assert (closed_a["reason"], closed_a["filled_contracts"]) == ("break_even", 5)
    await asyncio.sleep(0.3)
    assert open_contracts(await client.sim_state(), SYMBOL) == 5, "B's five stay"
    assert "closed" not in stack.receiver.statuses("shared-b")
    await client.price(SYMBOL, 62990)
    closed_b = await stack.receiver.wait_for("shared-b", "closed")
    assert closed_b["filled_contracts"] == 5
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


async def test_an_entry_sent_beside_another_signal_is_protected_once_alone(
    stack: Stack,
) -> None:
    """B's entry rests when A's is sent: A's goes without presets (a preset is the whole
    position's). B is cancelled unfilled: A, alone, still gets its stop on the exchange."""
    client = await stack.start()
    status, body = await client.post("/api/place-order", SECOND)
    assert status == 200, body
    await client.price(SYMBOL, 64700)
    await stack.receiver.wait_for("shared-b", "placed")  # resting, never traded through
    near = {**FIRST, "entry_zone_min": 64900, "entry_zone_max": 65000}
    status, body = await client.post("/api/place-order", near)
    assert status == 200, body
    await client.price(SYMBOL, 64950)
    await stack.receiver.wait_for("shared-a", "placed")
    await client.price(SYMBOL, 64900)
    await stack.receiver.wait_for("shared-a", "filled")
    status, body = await client.post("/api/orders/shared-b/cancel")
    assert status in (200, 202), body
    await stack.receiver.wait_for("shared-b", "cancelled")

    async def protected() -> bool:
        stops = exchange_levels(await client.sim_state(), "stop_loss")
        return stops == [Decimal("63872")]  # 0.2 % beyond A's own stop, 64000

    await eventually(protected, 8, "A's own stop on the exchange")
    assert open_contracts(await client.sim_state(), SYMBOL) == 10
