"""Issue 10: a venue whose entries carry no stop-loss or take-profit (Binance). The worker
sends the entry bare and places the exchange-side protection itself the moment the fill is
seen, moves it after a break-even, and cancels it once the position is closed. Run on the
BitMart simulator with the real adapter declaring Binance's capability, so the worker's
path is exercised over real sockets today."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from e2e_harness import ENTRY_SIDES, SEED_ORDER, Stack, eventually, open_contracts, sim_orders

from zoneguard.exchange.bitmart.adapter import CAPABILITIES

NO_PRESETS = replace(CAPABILITIES, preset_stops=False)
SYMBOL = str(SEED_ORDER["symbol"])


def exchange_levels(state: dict[str, Any], kind: str) -> list[Decimal]:
    return sorted(
        Decimal(plan["trigger_price"])
        for plan in state["plan_orders"]
        if plan["symbol"] == SYMBOL and plan["type"] == kind and plan["state"] == 1
    )


async def test_the_protection_is_placed_on_the_fill_and_cancelled_after_the_close(
    stack: Stack,
) -> None:
    client = await stack.start(capabilities=NO_PRESETS)
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for(SEED_ORDER["id"], "placed")
    [entry] = sim_orders(await client.sim_state(), sides=ENTRY_SIDES)
    assert entry["preset_stop_loss_price"] == "" and entry["preset_take_profit_price"] == ""
    await client.prices(SYMBOL, 65200, 65100)
    await stack.receiver.wait_for(SEED_ORDER["id"], "filled")

    async def protected() -> bool:
        state = await client.sim_state()
        # 0.2 % (the backstop offset) beyond the signal's stop 64000 and target 68000.
        stops, takes = exchange_levels(state, "stop_loss"), exchange_levels(state, "take_profit")
        return stops == [Decimal(63872)] and takes == [Decimal(68136)]

    await eventually(protected, 8, "the exchange-side stop and target after the fill")

    await client.prices(SYMBOL, 67000, 68010)
    closed = await stack.receiver.wait_for(SEED_ORDER["id"], "closed")
    assert closed["reason"] == "take_profit"

    async def cleared() -> bool:
        state = await client.sim_state()
        flat = open_contracts(state, SYMBOL) == 0
        return flat and not exchange_levels(state, "stop_loss") + exchange_levels(
            state, "take_profit"
        )

    await eventually(cleared, 8, "no protection left on a flat position")


async def test_a_break_even_moves_the_protection_it_placed(stack: Stack) -> None:
    client = await stack.start(capabilities=NO_PRESETS)
    order = {
        **SEED_ORDER,
        "id": "bare-ladder",
        "take_profit": None,
        "take_profits": [
            {"price": 66500, "size_percent": 50},
            {"price": 68000, "size_percent": 50},
        ],
        "break_even": {"after_take_profit": 1},
    }
    status, body = await client.post("/api/place-order", order)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await client.prices(SYMBOL, 65200, 65100)
    filled = await stack.receiver.wait_for("bare-ladder", "filled")
    entry_price = Decimal(str(filled["entry_price"]))

    async def stop_at(level: Decimal) -> bool:
        return exchange_levels(await client.sim_state(), "stop_loss") == [level]

    await eventually(lambda: stop_at(Decimal(63872)), 8, "the stop placed after the fill")
    await client.prices(SYMBOL, 66000, 66510)
    moved = await stack.receiver.wait_for("bare-ladder", "stop_moved")
    assert moved["reason"] == "break_even" and Decimal(str(moved["stop_loss"])) == entry_price

    async def followed() -> bool:
        levels = exchange_levels(await client.sim_state(), "stop_loss")
        return len(levels) == 1 and levels[0] < entry_price and levels[0] > Decimal(63872)

    await eventually(followed, 8, "the exchange-side stop following the break-even")
    assert open_contracts(await client.sim_state(), SYMBOL) == 5
