"""Issue 4, restart: the worker SIGKILLed while it holds or closes a position, then started
again on its journal. The position ends closed exactly once at the exchange (by the
worker or by the exchange's preset), and ``closed`` is reported once."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import (
    CLOSE_SIDES,
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
IN_ZONE = 65400
TRADES_THROUGH = 65300
BETWEEN_SL_AND_PRESET = 63950  # under the SL (64000), above the exchange preset (63872)
UNDER_PRESET_SL = 63800
OVER_PRESET_TP = 68200  # over the TP (68000) and its exchange preset (68136)
REFUSE_CLOSES = {"reject_orders": {"count": 1000, "reduce_only": True, "code": 40027}}


pytestmark = pytest.mark.slow


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)


def statuses(crash: CrashStack) -> list[str]:
    return [str(body["status"]) for body in distinct_callbacks(crash.receiver, ORDER_ID)]


async def open_position(crash: CrashStack) -> Client:
    """The seed's long, placed and filled: a guarded position of 10 contracts."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, TRADES_THROUGH)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    await client.wait_state(ORDER_ID, "open")
    return client


async def assert_closed_once(
    crash: CrashStack, client: Client, *, by: str, reason: str
) -> dict[str, Any]:
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["closed_by"], closed["reason"]) == (by, reason)
    state = await client.sim_state()
    assert len(filled(closes(state))) == 1, closes(state)
    assert open_contracts(state, SYMBOL) == 0
    assert len(sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)) == 1
    _status, body = await client.get("/api/orders/status")
    assert body["monitored_positions"] == []
    found = statuses(crash)
    assert found.count("closed") == 1 and found[-1] == "closed", found
    return state


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ((UNDER_PRESET_SL, 65000), "stop_loss"),  # fired, then the price came back
        ((OVER_PRESET_TP, 66000), "take_profit"),
    ],
)
async def test_preset_fired_while_down_is_reported_once(
    crash: CrashStack, path: tuple[int, ...], reason: str
) -> None:
    client = await open_position(crash)
    crash.kill()
    await client.prices(SYMBOL, *path)
    (preset_close,) = closes(await client.sim_state())
    assert preset_close["origin"] == reason

    await crash.restart()
    state = await assert_closed_once(crash, client, by="exchange", reason=reason)
    assert [o["order_id"] for o in closes(state)] == [preset_close["order_id"]]
    assert statuses(crash) == ["placed", "filled", "closed"]


async def test_stop_crossed_while_down_is_closed_at_once_on_restart(crash: CrashStack) -> None:
    """Under the worker's stop, above the exchange's: nobody closed it; the restarted worker
    must, before it takes new work."""
    client = await open_position(crash)
    crash.kill()
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    assert open_contracts(await client.sim_state(), SYMBOL) == 10

    await crash.restart()
    await assert_closed_once(crash, client, by="worker", reason="stop_loss")
    assert statuses(crash) == ["placed", "filled", "closed"]


async def test_stop_crossed_right_after_restart_is_closed_by_the_worker(
    crash: CrashStack,
) -> None:
    client = await open_position(crash)
    crash.kill()
    await crash.restart()
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    await assert_closed_once(crash, client, by="worker", reason="stop_loss")
    assert statuses(crash) == ["placed", "filled", "closed"]


@pytest.mark.parametrize("while_down", ["refusals_end", "preset_fires"])
async def test_close_failed_then_killed_closes_exactly_once(
    crash: CrashStack, while_down: str
) -> None:
    client = await open_position(crash)
    await client.fault(REFUSE_CLOSES)
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    await crash.receiver.wait_for(ORDER_ID, "close_failed")
    crash.kill()
    assert journal_state(crash.tmp_path, ORDER_ID) in ("closing", "close_failed")
    assert closes(await client.sim_state()) == [], "a refused close leaves no order"
    if while_down == "refusals_end":
        await client.fault({"clear": True})
    else:  # the refusals go on; the exchange's own stop does the job meanwhile
        await client.price(SYMBOL, UNDER_PRESET_SL)

    await crash.restart()
    by = "worker" if while_down == "refusals_end" else "exchange"
    state = await assert_closed_once(crash, client, by=by, reason="stop_loss")
    assert len(closes(state)) == 1
    found = statuses(crash)
    assert found[:3] == ["placed", "filled", "close_failed"], found


@pytest.mark.parametrize("lands", [True, False])
async def test_killed_while_closing_closes_exactly_once(crash: CrashStack, lands: bool) -> None:
    """Killed the moment the exchange receives the close: it either executed it (the worker
    never heard) or not (the worker died after journaling ``closing``)."""
    client = await open_position(crash)
    crash.kill_on_submit(lambda req: req.side in CLOSE_SIDES, execute=lands)
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    await eventually(lambda: not crash.alive, 5, "the worker killed at its close")
    assert sending_recorded(crash.tmp_path, ORDER_ID, "close")
    assert len(closes(await client.sim_state())) == (1 if lands else 0)

    await crash.restart()
    state = await assert_closed_once(crash, client, by="worker", reason="stop_loss")
    assert len(closes(state)) == 1
    assert statuses(crash) == ["placed", "filled", "closed"]
