"""Issue 4, restart: what the worker accepted before a crash it must take back after it,
whatever changed meanwhile, and what an operator asked for before a crash still holds.

- a changed ``tolerance_percent`` would now refuse the journaled order's stop (inside the
  widened zone); a position adopted with ``monitor-position`` has its stop a hair under
  its entry (accepted with no tolerance): both must come back guarded, not stop start-up;
- an operator's cancel of a resting entry, journaled but killed before it reached the
  exchange, is carried out after the restart.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from e2e_harness import (
    CLOSE_SIDES,
    ENTRY_SIDES,
    SEED_ORDER,
    Client,
    CrashStack,
    eventually,
    filled,
    journal_state,
    open_contracts,
    sim_exchange_settings,
    sim_orders,
)

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.market import OrderType, TimeInForce
from zoneguard.domain.values import Side
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.port import OrderRequest
from zoneguard.worker.intents import Intent, IntentLog

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
BETWEEN_SL_AND_PRESET = 63950  # under the SL (64000), above the exchange preset (63872)

pytestmark = pytest.mark.slow


async def open_seed_position(crash: CrashStack) -> Client:
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65400)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, 65300)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    return client


async def test_a_wider_tolerance_after_restart_keeps_the_position_guarded(
    crash: CrashStack,
) -> None:
    client = await open_seed_position(crash)
    crash.kill()
    # 2 % would put the stop (64000) inside the widened zone (from 63700): a new order with
    # these levels is refused from now on, the one already open must still be guarded.
    crash.write_orders_config({"entry_zone": {"tolerance_percent": 2}})
    await crash.restart()

    _status, body = await client.get("/api/orders/status")
    assert [p["id"] for p in body["monitored_positions"]] == [ORDER_ID]
    await client.price(SYMBOL, BETWEEN_SL_AND_PRESET)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


async def test_an_adopted_position_with_a_tight_stop_survives_a_restart(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    assert crash.sim is not None
    outsider = BitMartExchange(sim_exchange_settings(crash.sim))
    await outsider.start()
    try:
        await outsider.place_order(
            OrderRequest(
                symbol=SYMBOL,
                position_side=Side.LONG,
                reduce_only=False,
                order_type=OrderType.MARKET,
                contracts=Decimal(4),
                leverage=Decimal(5),
                client_order_id="outsider1",
            )
        )
    finally:
        await outsider.close()
    (position,) = [p for p in (await client.sim_state())["positions"] if p["symbol"] == SYMBOL]
    entry = Decimal(str(position["entry_price"]))
    stop = entry - 10  # ~0.015 % under the entry: inside the default 0.1 % tolerance
    status, answer = await client.post(
        "/api/monitor-position",
        {"id": "adopted-1", "symbol": SYMBOL, "side": "long", "stop_loss": str(stop)},
    )
    assert status == 200, answer

    crash.kill()
    await crash.restart()
    _status, body = await client.get("/api/orders/status")
    assert [p["id"] for p in body["monitored_positions"]] == ["adopted-1"]
    await client.price(SYMBOL, stop - 5)
    closed = await crash.receiver.wait_for("adopted-1", "closed")
    assert closed["reason"] == "stop_loss"
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


async def test_a_cancel_killed_before_the_exchange_had_it_is_done_after_restart(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65400)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    crash.kill_on_cancel()
    status, body = await client.post(f"/api/orders/{ORDER_ID}/cancel")
    assert status == 202, body
    await eventually(lambda: not crash.alive, 5, "the worker killed at its cancel")
    assert journal_state(crash.tmp_path, ORDER_ID) == "placed"
    assert len((await client.sim_state())["open_order_ids"]) == 1

    await crash.restart()
    await crash.receiver.wait_for(ORDER_ID, "cancelled")
    assert (await client.sim_state())["open_order_ids"] == []
    await client.price(SYMBOL, 64900)  # would have filled the resting buy
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert filled(sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)) == []


async def test_an_entry_sent_in_the_instant_before_its_journal_commit_is_adopted(
    crash: CrashStack,
) -> None:
    """The hot path notes the client id, sends, then commits: a crash between the last two
    leaves the order ``waiting_zone`` in the journal with the request live on the exchange.
    The restart must find it under that client id, not place a second one."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    crash.kill()
    assert journal_state(crash.tmp_path, ORDER_ID) == "waiting_zone"
    cid = client_order_id_for(ORDER_ID, "entry1")
    # What the killed worker had done: its note, and its post-only entry on the exchange.
    note = IntentLog(crash.tmp_path / "intents.log")
    note.note(Intent(ORDER_ID, "entry", 1, cid, "price entered the zone", 1))
    note.close()
    assert crash.sim is not None
    sender = BitMartExchange(sim_exchange_settings(crash.sim))
    await sender.start()
    try:
        sent = await sender.place_order(
            OrderRequest(
                symbol=SYMBOL,
                position_side=Side.LONG,
                reduce_only=False,
                order_type=OrderType.LIMIT,
                contracts=Decimal(10),
                price=Decimal(65400),
                time_in_force=TimeInForce.POST_ONLY,
                leverage=Decimal(10),
                client_order_id=cid,
            )
        )
    finally:
        await sender.close()

    await crash.restart()  # the price (66000) is outside the zone: only the note tells
    placed = await crash.receiver.wait_for(ORDER_ID, "placed")
    assert str(placed["exchange_order_id"]) == sent.order_id
    await client.price(SYMBOL, 65300)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    entries = sim_orders(await client.sim_state(), sides=ENTRY_SIDES, symbol=SYMBOL)
    assert [o["client_order_id"] for o in entries] == [cid]
