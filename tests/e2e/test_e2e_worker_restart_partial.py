"""Issue 4, restart: the worker SIGKILLed while its entry is partly filled, then started
again on its journal. The filled part is guarded from the first moment, the unfilled rest
is cancelled at the deadline (whether it passes after the restart or while nobody runs),
a rest that filled while the worker was down is guarded in full; one entry order, one close
of exactly what is held, each callback one event."""

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
    distinct_callbacks,
    journal_state,
    open_contracts,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
IN_ZONE = 65400  # the long rests at 65400
TRADES_THROUGH = 65300  # fills whatever of the resting buy is left
BETWEEN_SL_AND_PRESET = 63950  # under the SL (64000), above the exchange preset (63872)
CONTRACT_SIZE = Decimal("0.001")  # BTCUSDT: 10 contracts = the seed's 0.01 BTC
PART = 4
"""Contracts of the 10-contract entry filled before the kill."""

pytestmark = pytest.mark.slow


def statuses(crash: CrashStack) -> list[str]:
    return [str(body["status"]) for body in distinct_callbacks(crash.receiver, ORDER_ID)]


def the_entry(state: dict[str, Any]) -> dict[str, Any]:
    """The one entry order on the exchange (two would be a duplicate entry)."""
    entries = sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)
    assert len(entries) == 1, entries
    return entries[0]


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)


async def partly_filled_then_killed(crash: CrashStack, timeout_seconds: int) -> Client:
    """The seed's long resting on the exchange, ``PART`` of its 10 contracts filled, the
    worker SIGKILLed with ``partially_filled`` in its journal."""
    client = await crash.start()
    order = dict(SEED_ORDER, timeout_seconds=timeout_seconds)
    status, body = await client.post("/api/place-order", order)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    placed = await crash.receiver.wait_for(ORDER_ID, "placed")
    assert await client.sim_fill(SYMBOL, placed["exchange_order_id"], PART) == 200
    await client.wait_state(ORDER_ID, "partially_filled")
    crash.kill()
    assert journal_state(crash.tmp_path, ORDER_ID) == "partially_filled"
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == PART
    assert the_entry(state)["order_id"] in state["open_order_ids"], "the rest still rests"
    return client


async def assert_guarded(client: Client) -> None:
    _status, body = await client.get("/api/orders/status")
    assert [p["id"] for p in body["monitored_positions"]] == [ORDER_ID]


async def assert_no_more_fills(client: Client) -> None:
    """The price trades through the old entry price again: a forgotten rest would fill."""
    await client.prices(SYMBOL, TRADES_THROUGH, 65000)
    state = await client.sim_state()
    assert state["open_order_ids"] == []
    assert Decimal(str(the_entry(state)["deal_size"])) == PART
    assert open_contracts(state, SYMBOL) == PART


PARTLY_FILLED_TIMEOUT = (
    f"Entry order placed at {IN_ZONE} filled {PART} of 10 contracts at {IN_ZONE} within "
    "timeout; the rest was cancelled, the filled contracts stay guarded"
)


async def assert_stop_closes_exactly(
    crash: CrashStack, client: Client, held: int, *, timed_out: bool = False
) -> None:
    """The stop crossed: one close order, of exactly the ``held`` contracts, by the worker;
    ``timed_out``: the deadline cut the entry short, which the ``filled`` callback says (the
    lifecycle still ends in its one final callback, ``closed``)."""
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    state = await client.sim_state()
    (close,) = closes(state)
    assert Decimal(str(close["size"])) == Decimal(str(close["deal_size"])) == held
    assert closed["close_order_id"] == str(close["order_id"])
    assert open_contracts(state, SYMBOL) == 0
    assert state["open_order_ids"] == []
    assert Decimal(str(the_entry(state)["deal_size"])) == held, "one entry, all of it closed"
    _status, body = await client.get("/api/orders/status")
    assert body["monitored_positions"] == []
    assert statuses(crash) == ["placed", "filled", "closed"]
    filled = await crash.receiver.wait_for(ORDER_ID, "filled")
    assert filled.get("reason") == (PARTLY_FILLED_TIMEOUT if timed_out else None)


async def test_partial_fill_is_guarded_after_restart_and_its_rest_cancelled_at_timeout(
    crash: CrashStack,
) -> None:
    client = await partly_filled_then_killed(crash, timeout_seconds=4)

    await crash.restart()
    await assert_guarded(client)  # ready means resumed: guarded before any new work
    # The deadline (normally still ahead here) cancels the rest; the part stays guarded.
    filled = await crash.receiver.wait_for(ORDER_ID, "filled", timeout=8)
    assert filled["filled_contracts"] == PART
    await client.wait_state(ORDER_ID, "open")
    await assert_guarded(client)
    await assert_no_more_fills(client)
    await assert_stop_closes_exactly(crash, client, held=PART, timed_out=True)


async def test_partial_fill_past_its_deadline_while_down_is_cut_to_the_part_on_restart(
    crash: CrashStack,
) -> None:
    client = await partly_filled_then_killed(crash, timeout_seconds=1)
    await asyncio.sleep(1.0)  # the deadline passes while nobody runs; the rest still rests
    assert (await client.sim_state())["open_order_ids"]

    await crash.restart()
    filled = await crash.receiver.wait_for(ORDER_ID, "filled")
    assert filled["filled_contracts"] == PART
    await client.wait_state(ORDER_ID, "open")
    await assert_guarded(client)
    await assert_no_more_fills(client)
    await assert_stop_closes_exactly(crash, client, held=PART, timed_out=True)


async def test_rest_filled_while_down_is_guarded_in_full_after_restart(
    crash: CrashStack,
) -> None:
    client = await partly_filled_then_killed(crash, timeout_seconds=300)
    await client.price(SYMBOL, TRADES_THROUGH)  # the rest fills while nobody runs
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 10
    assert state["open_order_ids"] == []

    await crash.restart()
    await assert_guarded(client)
    filled = await crash.receiver.wait_for(ORDER_ID, "filled")
    assert filled["filled_contracts"] == 10
    await client.wait_state(ORDER_ID, "open")
    await assert_stop_closes_exactly(crash, client, held=10)


async def test_stop_gapped_through_after_restart_closes_and_reports_all_that_filled(
    crash: CrashStack,
) -> None:
    """Before the deadline, a fall through the entry and the stop at once: the exchange
    fills the rest on the way down. The worker closes what it knew of at once, then what
    the rest added (never more than is held), and reports the close of the whole position:
    its average price and the PnL of every contract."""
    client = await partly_filled_then_killed(crash, timeout_seconds=300)

    await crash.restart()
    await assert_guarded(client)
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    state = await client.sim_state()
    entry = the_entry(state)
    assert Decimal(str(entry["deal_size"])) == 10
    done = closes(state)
    closed_size = sum(Decimal(str(c["deal_size"])) for c in done)
    assert closed_size == 10
    assert open_contracts(state, SYMBOL) == 0
    assert state["open_order_ids"] == []
    assert closed["close_order_id"] == str(done[-1]["order_id"])
    average = (
        sum(Decimal(str(c["deal_size"])) * Decimal(str(c["deal_avg_price"])) for c in done)
        / closed_size
    )
    assert Decimal(str(closed["close_price"])) == average
    pnl = (average - Decimal(str(entry["deal_avg_price"]))) * closed_size * CONTRACT_SIZE
    assert Decimal(str(closed["realized_pnl"])) == pnl
    _status, body = await client.get("/api/orders/status")
    assert body["monitored_positions"] == []
    found = statuses(crash)
    assert found[0] == "placed" and found[-1] == "closed" and found.count("closed") == 1, found
