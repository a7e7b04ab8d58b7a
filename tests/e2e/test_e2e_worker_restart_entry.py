"""Issue 4, restart: the worker SIGKILLed before or while it places an entry, then started
again on its journal. Whatever the moment, the exchange ends with exactly one entry order,
the order is placed (and guarded once filled), and each callback is one event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from e2e_harness import (
    ENTRY_SIDES,
    SEED_ORDER,
    Client,
    CrashStack,
    distinct_callbacks,
    eventually,
    filled,
    journal_state,
    open_contracts,
    sending_recorded,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
IN_ZONE = 65400  # inside [65000, 65500]; the long rests at 65400
TRADES_THROUGH = 65300  # fills the resting buy
BETWEEN_SL_AND_PRESET = 63950  # under the SL (64000), above the exchange preset (63872)
UNDER_PRESET_SL = 63800

pytestmark = pytest.mark.slow


def entries(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)


def statuses(crash: CrashStack) -> list[str]:
    return [str(body["status"]) for body in distinct_callbacks(crash.receiver, ORDER_ID)]


async def place_seed_order(client: Client) -> None:
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert (status, body["status"]) == (200, "waiting_zone"), body


async def fill_and_check_single_entry(crash: CrashStack, client: Client) -> dict[str, Any]:
    """Trade through the resting entry and wait for ``filled``: every price pushed before
    has been seen by then (one ordered socket), so a second placement would show."""
    await client.price(SYMBOL, TRADES_THROUGH)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    state = await client.sim_state()
    assert len(entries(state)) == 1, entries(state)
    return state


async def test_zone_entered_while_down_is_placed_once_after_restart(crash: CrashStack) -> None:
    client = await crash.start()
    await place_seed_order(client)
    crash.kill()
    await client.price(SYMBOL, IN_ZONE)
    assert journal_state(crash.tmp_path, ORDER_ID) == "waiting_zone"

    await crash.restart()
    placed = await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.prices(SYMBOL, 65450, 65420)  # still in the zone: must not place again
    state = await fill_and_check_single_entry(crash, client)
    (entry,) = entries(state)
    assert placed["exchange_order_id"] == entry["order_id"]
    assert placed["client_order_id"] == entry["client_order_id"]
    assert statuses(crash) == ["placed", "filled"]


async def test_entry_accepted_but_unheard_is_adopted_not_sent_again(crash: CrashStack) -> None:
    client = await crash.start()
    await place_seed_order(client)
    crash.kill_on_submit(lambda req: req.side in ENTRY_SIDES, execute=True)
    await client.price(SYMBOL, IN_ZONE)
    await eventually(lambda: not crash.alive, 5, "the worker killed at submit")
    (landed,) = entries(await client.sim_state())
    assert sending_recorded(crash.tmp_path, ORDER_ID, "entry")
    assert crash.receiver.of(ORDER_ID) == []

    await crash.restart()
    placed = await crash.receiver.wait_for(ORDER_ID, "placed")
    assert placed["exchange_order_id"] == landed["order_id"]
    assert placed["client_order_id"] == landed["client_order_id"]
    await fill_and_check_single_entry(crash, client)
    assert statuses(crash) == ["placed", "filled"]


async def test_entry_that_never_reached_the_exchange_is_placed_after_restart(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    await place_seed_order(client)
    crash.kill_on_submit(lambda req: req.side in ENTRY_SIDES, execute=False)
    await client.price(SYMBOL, IN_ZONE)
    await eventually(lambda: not crash.alive, 5, "the worker killed at submit")
    assert entries(await client.sim_state()) == []
    assert sending_recorded(crash.tmp_path, ORDER_ID, "entry")

    await crash.restart()
    placed = await crash.receiver.wait_for(ORDER_ID, "placed")
    state = await fill_and_check_single_entry(crash, client)
    (entry,) = entries(state)
    assert placed["client_order_id"] == entry["client_order_id"]
    assert statuses(crash) == ["placed", "filled"]


async def test_entry_filled_while_down_is_guarded_before_new_work(crash: CrashStack) -> None:
    client = await crash.start()
    await place_seed_order(client)
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    crash.kill()
    await client.price(SYMBOL, TRADES_THROUGH)
    assert open_contracts(await client.sim_state(), SYMBOL) > 0
    assert journal_state(crash.tmp_path, ORDER_ID) == "placed"

    await crash.restart()
    # Ready means resumed: the position is guarded before the API took any request.
    _status, body = await client.get("/api/orders/status")
    assert [p["id"] for p in body["monitored_positions"]] == [ORDER_ID]
    filled_body = await crash.receiver.wait_for(ORDER_ID, "filled")
    assert filled_body["filled_contracts"] == 10

    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    state = await client.sim_state()
    assert len(entries(state)) == 1
    assert len(sim_orders(state, sides=(3,), symbol=SYMBOL)) == 1
    assert open_contracts(state, SYMBOL) == 0
    assert statuses(crash) == ["placed", "filled", "closed"]


async def test_entry_filled_and_preset_stop_fired_while_down(crash: CrashStack) -> None:
    """Opened and closed by the exchange's preset stop while the worker was dead, the price
    back between the levels since: the worker must not guard a position that is gone."""
    client = await crash.start()
    await place_seed_order(client)
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    crash.kill()
    await client.prices(SYMBOL, TRADES_THROUGH, UNDER_PRESET_SL, 65000)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    (preset_close,) = sim_orders(state, sides=(3,), symbol=SYMBOL)
    assert preset_close["origin"] == "stop_loss"

    await crash.restart()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert closed["closed_by"] == "exchange"
    assert closed["reason"] == "stop_loss"
    _status, body = await client.get("/api/orders/status")
    assert body["monitored_positions"] == []
    state = await client.sim_state()
    assert len(sim_orders(state, sides=(3,), symbol=SYMBOL)) == 1, "the worker closed nothing"
    assert statuses(crash) == ["placed", "filled", "closed"]


@pytest.mark.parametrize(
    ("reply", "kill_after_s"),
    [
        ({"mode": "drop"}, 0.0),
        ({"mode": "drop"}, 0.003),
        ({"mode": "delay", "delay_ms": 3000}, 0.02),
    ],
)
async def test_kill_at_any_moment_of_an_unanswered_entry(
    crash: CrashStack, reply: dict[str, Any], kill_after_s: float
) -> None:
    """The exchange executes the entry and drops the connection or answers late; the worker
    dies a moment later (before, while or after it asks by client_order_id, or hears the
    order push). Exactly one entry, always."""
    client = await crash.start()
    await place_seed_order(client)
    await client.fault({"order_response": {"count": 1, **reply}})
    await client.price(SYMBOL, IN_ZONE)
    await asyncio.sleep(kill_after_s)
    crash.kill()
    await crash.restart()
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await fill_and_check_single_entry(crash, client)
    assert statuses(crash) == ["placed", "filled"]


async def test_order_waiting_for_the_price_to_leave_stays_unarmed_after_restart(
    crash: CrashStack,
) -> None:
    """immediate_if_in_zone: false. An order that arrived with the price in its zone waits
    for the price to leave and come back; a restart must not turn that into "place now"."""
    client = await crash.start(
        orders={"entry_zone": {"immediate_if_in_zone": False, "tolerance_percent": 0}},
        sim={"prices": {SYMBOL: IN_ZONE}},
    )
    status, body = await client.post("/klines/subscribe", {"symbol": SYMBOL, "tfs": ["1m"]})
    assert status == 200, body

    async def price_seen() -> bool:
        _status, body = await client.get("/status")
        return body["connections"]["last_public_message_age_s"] is not None

    await eventually(price_seen, 20, "the worker to hear a price")  # an error if it never does
    await place_seed_order(client)
    crash.kill()
    await crash.restart()

    # A short whose zone the next price enters: once it is placed, the worker has seen that
    # price, which is inside the long's zone too (and the long must still be unarmed).
    barrier = dict(
        SEED_ORDER,
        id="barrier",
        side="short",
        entry_zone_min=65380,
        entry_zone_max=65390,
        stop_loss=66000,
        take_profit=64000,
    )
    status, body = await client.post("/api/place-order", barrier)
    assert status == 200, body
    await client.price(SYMBOL, 65385)
    await crash.receiver.wait_for("barrier", "placed")
    assert crash.receiver.of(ORDER_ID) == []
    assert sim_orders(await client.sim_state(), sides=(1,)) == []

    await client.prices(SYMBOL, 65600, 65450)  # leaves the zone, comes back: now it places
    await crash.receiver.wait_for(ORDER_ID, "placed")
    assert len(sim_orders(await client.sim_state(), sides=(1,))) == 1


async def test_entry_past_its_deadline_after_restart_is_cancelled_and_reported(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    status, body = await client.post("/api/place-order", dict(SEED_ORDER, timeout_seconds=1))
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    crash.kill()
    await asyncio.sleep(1.0)  # the deadline passes while nobody runs; the entry still rests
    (resting,) = entries(await client.sim_state())
    assert resting["order_id"] in (await client.sim_state())["open_order_ids"]

    await crash.restart()
    await crash.receiver.wait_for(ORDER_ID, "timeout")
    state = await client.sim_state()
    assert state["open_order_ids"] == []
    assert filled(entries(state)) == []
    assert statuses(crash) == ["placed", "timeout"]
