"""Regressions found by ``zoneguard chaos``: each test replays, deterministically, the
moment a seeded run hit, and holds the worker to the invariant that run broke."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from e2e_harness import (
    CLOSE_SIDES,
    ENTRY_SIDES,
    SEED_ORDER,
    CrashStack,
    distinct_callbacks,
    eventually,
    filled,
    open_contracts,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
IN_ZONE = 65400  # the long rests at 65400
TRADES_THROUGH = 65300  # fills whatever of the resting buy is left
BETWEEN_TP_AND_PRESET = 68050  # over the TP (68000), under the exchange preset (68136)
BETWEEN_SL_AND_PRESET = 63950  # under the SL (64000), over the exchange preset (63872)
OVER_PRESET_TP = 68200  # over the exchange preset TP (68136): the preset fires at once
UNDER_PRESET_SL = 63800  # under the exchange preset SL (63872): the preset fires at once
PART = 4

pytestmark = pytest.mark.slow


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)


def statuses(crash: CrashStack) -> list[str]:
    return [str(body["status"]) for body in distinct_callbacks(crash.receiver, ORDER_ID)]


def average(orders: list[dict[str, Any]]) -> Decimal:
    size = sum(Decimal(str(o["deal_size"])) for o in orders)
    value = sum(Decimal(str(o["deal_size"])) * Decimal(str(o["deal_avg_price"])) for o in orders)
    return value / size


@pytest.mark.parametrize("pushes_lost", [0, 1])
async def test_level_crossed_while_down_with_a_partial_entry_is_closed_by_one_close_task(
    crash: CrashStack, pushes_lost: int
) -> None:
    """Chaos seed 1008 (partial_fill:long): partly filled, killed; the rest fills and the
    take-profit is crossed while nobody runs. On restart the guard fires at once (closing),
    and resuming that order must not start a second close beside it: two close loops each
    closed "what was left", so one close found no position and reported the worker's own
    close as the exchange's (no price, no PnL), or reported closed while the other still
    had contracts to close. Which loop settles first is a race (about half the runs of
    each case failed before the fix); a lost close push shifts it the other way."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    placed = await crash.receiver.wait_for(ORDER_ID, "placed")
    assert await client.sim_fill(SYMBOL, placed["exchange_order_id"], PART) == 200
    await client.wait_state(ORDER_ID, "partially_filled")
    crash.kill()
    await client.price(SYMBOL, TRADES_THROUGH)  # the rest fills while nobody runs
    await client.price(SYMBOL, BETWEEN_TP_AND_PRESET)
    assert open_contracts(await client.sim_state(), SYMBOL) == 10
    await client.fault({"drop_order_pushes": pushes_lost})

    await crash.restart()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert len(sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)) == 1
    done = filled(closes(state))
    assert sum(Decimal(str(c["deal_size"])) for c in done) == 10
    assert len(closes(state)) == len(done), "every close sent was needed and filled"
    assert (closed["reason"], closed["closed_by"]) == ("take_profit", "worker")
    assert Decimal(str(closed["close_price"])) == average(done)
    assert closed["close_order_id"] in {str(c["order_id"]) for c in done}
    assert statuses(crash) == ["placed", "closed"]


async def test_a_retried_close_that_filled_unheard_is_reported_as_the_workers(
    crash: CrashStack,
) -> None:
    """Chaos seed 9075 (close_refused): the first close refused, the retry executed but its
    reply late, the worker killed before hearing it. After the restart the position is
    flat by the worker's own close: ``closed`` by the worker, with that close's id and
    price; not "closed by the exchange" with no price. (A stop: its close is at market, so a
    refusal is a ``close_failed`` and a retry; a refused take-profit IOC goes to market.)"""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, TRADES_THROUGH)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    await client.fault(
        {
            "reject_orders": {"count": 1, "reduce_only": True, "code": 40027},
            "order_response": {"count": 1, "mode": "delay", "delay_ms": 3000},
        }
    )
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    await crash.receiver.wait_for(ORDER_ID, "close_failed")
    for _ in range(200):
        if filled(closes(await client.sim_state())):
            break
        await asyncio.sleep(0.02)
    crash.kill()  # the retried close filled; its reply has not come yet
    (close,) = closes(await client.sim_state())
    assert open_contracts(await client.sim_state(), SYMBOL) == 0

    await crash.restart()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    assert closed["close_order_id"] == str(close["order_id"])
    assert Decimal(str(closed["close_price"])) == Decimal(str(close["deal_avg_price"]))
    assert statuses(crash) == ["placed", "filled", "close_failed", "closed"]


async def test_a_preset_that_closed_only_part_is_counted_in_the_report(
    crash: CrashStack,
) -> None:
    """Chaos seed 9044 (preset_first with a thin book): the price jumps past the exchange's
    preset take-profit; the preset's market close finds liquidity for 4 of 10 contracts and
    the rest is cancelled; the worker closes the other 6. ``closed`` must report the whole
    position (10 contracts, their average price and PnL), not the worker's 6 alone."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, TRADES_THROUGH)
    filled_body = await crash.receiver.wait_for(ORDER_ID, "filled")
    await client.fault({"thin_book": {"count": 1, "contracts": PART, "reduce_only": True}})
    await client.price(SYMBOL, OVER_PRESET_TP)

    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    done = filled(closes(state))
    by_preset = [c for c in done if c["origin"] == "take_profit"]
    assert [Decimal(str(c["deal_size"])) for c in by_preset] == [PART], done
    assert sum(Decimal(str(c["deal_size"])) for c in done) == 10
    assert open_contracts(state, SYMBOL) == 0
    assert closed["reason"] == "take_profit"
    assert closed["filled_contracts"] == 10
    assert Decimal(str(closed["close_price"])) == average(done)
    entry = Decimal(str(filled_body["entry_price"]))
    pnl = (average(done) - entry) * 10 * Decimal("0.001")
    assert Decimal(str(closed["realized_pnl"])) == pnl
    assert statuses(crash) == ["placed", "filled", "closed"]


async def test_accepted_entry_hidden_by_lagging_reads_at_restart_is_not_taken_for_unsent(
    crash: CrashStack,
) -> None:
    """Seed 80012: the entry was accepted (its exchange id journaled), filled and stopped
    out by the exchange's preset while the worker was down; at restart the exchange's reads
    lagged and did not show it yet. The worker took it for an order that never landed and
    waited for the zone again: the price never came back, and the lifecycle never ended.
    An accepted entry is asked for until the reads show it, then settled by what they say."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    crash.kill()
    await client.fault({"lookup_lag_ms": 600_000})  # every order read lags, for now
    await client.prices(SYMBOL, TRADES_THROUGH, UNDER_PRESET_SL)  # filled, then the preset
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0, "the preset closed the position"

    log = crash.tmp_path / "log" / "app.log"
    restarted = asyncio.ensure_future(crash.restart())
    missed = ("not shown by the exchange yet", "not found on the exchange after restart")

    def looked_and_missed() -> bool:
        return log.exists() and any(line in log.read_text() for line in missed)

    try:
        await eventually(looked_and_missed, 60, "the worker to miss the entry once")
        await client.fault({"lookup_lag_ms": 0})  # the reads catch up
        await restarted
    finally:
        restarted.cancel()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed", timeout=30)
    assert closed["reason"] == "stop_loss"
    assert closed["closed_by"] == "exchange"
    assert statuses(crash) == ["placed", "filled", "closed"]
    state = await client.sim_state()
    assert len(sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)) == 1
