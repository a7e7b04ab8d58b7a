"""Issue 9's pyramiding over real sockets, against the BitMart simulator: ``entry_zones``
places one post-only entry per zone as the price enters it, the position's entry is the
size-weighted average, the stop and target cover all that filled; the deadline cancels
a zone still working; a stop with a zone still working closes what it filled too; and the
worker SIGKILLed between two entries, and as the second entry reaches the exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from e2e_harness import (
    CLOSE_SIDES,
    ENTRY_SIDES,
    SEED_ORDER,
    Client,
    CrashStack,
    Stack,
    eventually,
    open_contracts,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
PYRAMID: dict[str, Any] = {
    **{k: v for k, v in SEED_ORDER.items() if k not in ("entry_zone_min", "entry_zone_max")},
    "entry_zones": [
        {"min": 65000, "max": 65500, "size_percent": 50},
        {"min": 64000, "max": 64500, "size_percent": 50},
    ],
    "stop_loss": 63000,
    "take_profit": 66000,
}
"""The seed's long, bought in two halves: 65000-65500, then 64000-64500 if the price dips."""


def entries(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)


def dealt(order: dict[str, Any]) -> Decimal:
    return Decimal(str(order["deal_size"]))


def of_status(stack: Stack | CrashStack, status: str) -> list[dict[str, Any]]:
    return [b for b in stack.receiver.of(ORDER_ID) if b["status"] == status]


async def first_zone_filled(stack: Stack | CrashStack, client: Client) -> dict[str, Any]:
    status, body = await client.post("/api/place-order", PYRAMID)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    assert (placed["entry_index"], placed["contracts"]) == (1, 5)
    await client.prices(SYMBOL, 65200, 65100)
    filled = await stack.receiver.wait_for(ORDER_ID, "filled")
    await client.wait_state(ORDER_ID, "open")
    assert (filled["entry_index"], filled["filled_contracts"]) == (1, 5)
    return filled


async def second_zone_filled(stack: Stack | CrashStack, client: Client) -> dict[str, Any]:
    await client.price(SYMBOL, 64300)

    async def placed_twice() -> bool:
        return len(of_status(stack, "placed")) == 2

    await eventually(placed_twice, 8, "zone 2's entry placed")
    await client.prices(SYMBOL, 64200, 64100)

    async def filled_twice() -> bool:
        return len(of_status(stack, "filled")) == 2

    await eventually(filled_twice, 8, "zone 2's entry filled")
    return of_status(stack, "filled")[1]


async def test_each_zone_places_its_own_entry_and_the_target_closes_them_all(
    stack: Stack,
) -> None:
    client = await stack.start()
    first = await first_zone_filled(stack, client)
    assert "placed" not in stack.receiver.statuses(ORDER_ID)[2:], "zone 2 waits for its price"
    second = await second_zone_filled(stack, client)
    placed = of_status(stack, "placed")[1]
    assert (placed["entry_index"], placed["contracts"]) == (2, 5)
    assert 64000 <= placed["entry_price"] <= 64300
    zone1, zone2 = Decimal(str(first["entry_price"])), Decimal(str(second["zone_entry_price"]))
    assert (second["entry_index"], second["zone_filled_contracts"]) == (2, 5)
    assert second["filled_contracts"] == 10, "the whole position's"
    assert Decimal(str(second["entry_price"])) == pytest.approx((zone1 + zone2) / 2)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 10
    assert [dealt(e) for e in entries(state)] == [5, 5]

    status, body = await client.get(f"/api/orders/{ORDER_ID}")
    assert status == 200, body
    assert body["order"]["filled_contracts"] == "10"
    progress = body["order"]["entry_progress"]
    assert [(z["index"], z["contracts"], z["state"], z["filled_contracts"]) for z in progress] == [
        (1, "5", "filled", "5"),
        (2, "5", "filled", "5"),
    ]
    assert progress[1]["exchange_order_id"] == str(entries(state)[1]["order_id"])

    await client.prices(SYMBOL, 65000, 66010)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("take_profit", 10)
    assert open_contracts(await client.sim_state(), SYMBOL) == 0
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "placed", "filled", "closed"]


async def test_the_deadline_cancels_a_zone_still_working_and_the_fill_stays_guarded(
    stack: Stack,
) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", {**PYRAMID, "timeout_seconds": 3})
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await client.prices(SYMBOL, 65200, 65100)
    await stack.receiver.wait_for(ORDER_ID, "filled")
    await client.price(SYMBOL, 64300)  # zone 2's entry rests: nothing trades through it

    async def placed_twice() -> bool:
        return len(of_status(stack, "placed")) == 2

    await eventually(placed_twice, 8, "zone 2's entry placed")

    async def zone2_cancelled() -> bool:
        second = entries(await client.sim_state())[1]
        return bool(second["state"] == 4 and dealt(second) == 0)

    await eventually(zone2_cancelled, 8, "zone 2's entry cancelled at the deadline")
    status, body = await client.get(f"/api/orders/{ORDER_ID}")
    assert [z["state"] for z in body["order"]["entry_progress"]] == ["filled", "dropped"]
    await client.prices(SYMBOL, 64000, 63900)  # through zone 2: no new entry after the deadline
    await asyncio.sleep(0.3)
    assert len(entries(await client.sim_state())) == 2
    assert open_contracts(await client.sim_state(), SYMBOL) == 5
    await client.price(SYMBOL, 62990)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("stop_loss", 5)
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "placed", "closed"]


async def test_a_stop_with_a_zone_working_closes_what_that_zone_filled_too(stack: Stack) -> None:
    client = await stack.start()
    await first_zone_filled(stack, client)
    await client.price(SYMBOL, 64300)

    async def placed_twice() -> bool:
        return len(of_status(stack, "placed")) == 2

    await eventually(placed_twice, 8, "zone 2's entry placed")
    await client.price(SYMBOL, 62990)  # zone 2 fills in the same move that crosses the stop
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert sum(dealt(e) for e in entries(state)) == 10
    entry = sum(dealt(e) * Decimal(str(e["deal_avg_price"])) for e in entries(state)) / 10
    assert Decimal(str(closed["entry_price"])) == pytest.approx(entry), "both zones' average"
    exit_price = Decimal(str(closed["close_price"]))
    pnl = (exit_price - entry) * Decimal("0.001") * int(closed["filled_contracts"])
    assert closed["realized_pnl"] == pytest.approx(float(pnl))
    assert sum(dealt(c) for c in sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)) == 10


async def test_a_zone_the_price_is_in_on_arrival_places_at_once(stack: Stack) -> None:
    client = await stack.start(sim={"prices": {SYMBOL: Decimal("64300")}})
    status, body = await client.post("/api/place-order", PYRAMID)
    assert status == 200, body
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")  # no price move needed
    assert (placed["entry_index"], placed["contracts"]) == (2, 5), "zone 2 is the first entered"


async def test_not_immediate_a_zone_waits_for_the_price_to_leave_it_first(stack: Stack) -> None:
    client = await stack.start(
        orders={"entry_zone": {"immediate_if_in_zone": False}},
        sim={"prices": {SYMBOL: Decimal("64300")}},
    )
    status, body = await client.post("/api/place-order", PYRAMID)
    assert status == 200, body
    await client.price(SYMBOL, 64200)  # still inside zone 2: not armed yet
    await stack.seen(SYMBOL, 64200)
    assert await client.order_state(ORDER_ID) == "waiting_zone"
    await client.price(SYMBOL, 65300)  # zone 1 was armed from the start (price outside it)
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    assert placed["entry_index"] == 1
    await client.prices(SYMBOL, 65200, 65100)
    await stack.receiver.wait_for(ORDER_ID, "filled")
    await client.price(SYMBOL, 64300)  # zone 2 left once (65300): now it may enter

    async def placed_twice() -> bool:
        return len(of_status(stack, "placed")) == 2

    await eventually(placed_twice, 8, "zone 2's entry placed")
    assert of_status(stack, "placed")[1]["entry_index"] == 2


# -- the worker killed between two entries --------------------------------------------------


@pytest.mark.slow
async def test_killed_between_two_entries_resumes_and_places_the_second(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    await first_zone_filled(crash, client)
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")
    await crash.restart()
    second = await second_zone_filled(crash, client)
    assert (second["entry_index"], second["filled_contracts"]) == (2, 10)
    await client.prices(SYMBOL, 65000, 66010)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert closed["filled_contracts"] == 10
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert [dealt(e) for e in entries(state)] == [5, 5]


@pytest.mark.slow
@pytest.mark.parametrize("lands", [True, False])
async def test_killed_as_the_second_entry_reaches_the_exchange_enters_it_once(
    crash: CrashStack, lands: bool
) -> None:
    """``lands``: zone 2's entry is accepted and the worker dies before it hears; else it
    dies after journaling it, before the exchange had it. Restarted, the entry is found by
    its client id (or the zone waits for its price again): 5 contracts for zone 2, never 10."""
    client = await crash.start()
    await first_zone_filled(crash, client)
    crash.kill_on_submit(lambda req: req.side in ENTRY_SIDES, execute=lands)
    await client.price(SYMBOL, 64300)
    await eventually(lambda: not crash.alive, 5, "the worker killed at zone 2's entry")
    assert len(entries(await client.sim_state())) == (2 if lands else 1)

    await crash.restart()

    async def ten_held() -> bool:
        # The price walks down through zone 2 again and again: an entry that never
        # landed goes again once its lookups have waited out the venue's lag.
        await client.prices(SYMBOL, 64350, 64300, 64200, 64100)
        return open_contracts(await client.sim_state(), SYMBOL) == 10

    await eventually(ten_held, 8, "zone 2 filled once")
    await client.prices(SYMBOL, 65000, 66010)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert closed["filled_contracts"] == 10
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    # An attempt refused as a taker while the price walked may show with nothing dealt.
    assert [dealt(e) for e in entries(state) if dealt(e)] == [5, 5]
