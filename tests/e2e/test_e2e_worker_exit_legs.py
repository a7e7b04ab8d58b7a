"""Issue 9's exits over real sockets, against the BitMart simulator: the seed's 50/50
take-profit ladder, break-even after TP1 (its stop firing), a trailing stop (its callbacks
at most once a second), the exchange-side stop following the moves; and the worker
SIGKILLed between TP1 and TP2, and as TP1's close reaches the exchange."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
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
from test_e2e_worker_control import open_outside_the_worker

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
IOC = 3
LADDER: dict[str, Any] = {
    **{k: v for k, v in SEED_ORDER.items() if k != "take_profit"},
    "take_profits": [{"price": 66000, "size_percent": 50}, {"price": 67000, "size_percent": 50}],
    "break_even": {"after_take_profit": 1, "offset_percent": 0.1},
}
"""The seed's order with its own "future improvement": 50 % at TP1, 50 % at TP2, and the
stop to the entry (plus 0.1 % for fees) once TP1 has filled."""


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)


def dealt(order: dict[str, Any]) -> Decimal:
    return Decimal(str(order["deal_size"]))


def exchange_stops(state: dict[str, Any]) -> list[Decimal]:
    """Trigger prices of the simulator's waiting stop-loss plans for the symbol."""
    return [
        Decimal(plan["trigger_price"])
        for plan in state["plan_orders"]
        if plan["symbol"] == SYMBOL and plan["type"] == "stop_loss" and plan["state"] == 1
    ]


async def open_position(stack: Stack | CrashStack, client: Client, plan: dict[str, Any]) -> Decimal:
    """Place ``plan``, fill its entry, return the entry price the worker reported."""
    status, body = await client.post("/api/place-order", plan)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.prices(SYMBOL, 65200, 65100)
    filled = await stack.receiver.wait_for(ORDER_ID, "filled")
    await client.wait_state(ORDER_ID, "open")
    return Decimal(str(filled["entry_price"]))


async def test_the_seeds_ladder_takes_half_at_each_target_and_moves_to_break_even(
    stack: Stack,
) -> None:
    client = await stack.start()
    entry = await open_position(stack, client, LADDER)
    filled = await stack.receiver.wait_for(ORDER_ID, "filled")
    assert filled["take_profits"] == [
        {"price": 66000, "size_percent": 50},
        {"price": 67000, "size_percent": 50},
    ]
    await client.prices(SYMBOL, 65800, 66010)
    part = await stack.receiver.wait_for(ORDER_ID, "partially_closed")
    assert (part["take_profit_index"], part["closed_quantity"], part["remaining_quantity"]) == (
        1,
        5,
        5,
    )
    assert part["reason"] == "take_profit" and part["position_id"] == ORDER_ID
    moved = await stack.receiver.wait_for(ORDER_ID, "stop_moved")
    break_even = (entry * Decimal("1.001")).quantize(Decimal("0.1"), rounding="ROUND_UP")
    assert (Decimal(str(moved["stop_loss"])), moved["reason"]) == (break_even, "break_even")
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 5
    (tp1,) = closes(state)
    assert (tp1["mode"], dealt(tp1)) == (IOC, 5)
    assert part["close_order_id"] == tp1["order_id"]

    async def backstop_followed() -> bool:
        stops = exchange_stops(await client.sim_state())
        return len(stops) == 1 and stops[0] < break_even and stops[0] > entry * Decimal("0.99")

    await eventually(backstop_followed, 5, "the exchange-side stop moved under break-even")
    status, body = await client.get(f"/api/orders/{ORDER_ID}")
    assert status == 200, body
    progress = body["order"]["exit_progress"]
    assert [(r["index"], r["sent"], r["closed"]) for r in progress["take_profits"]] == [
        (1, True, "5"),
        (2, False, "0"),
    ]
    assert (progress["held_contracts"], progress["stop_reason"]) == ("5", "break_even")
    assert Decimal(progress["stop_loss"]) == break_even

    await client.prices(SYMBOL, 66500, 67010)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert [dealt(c) for c in closes(state)] == [5, 5]
    assert (closed["reason"], closed["filled_contracts"]) == ("take_profit", 5)
    size = Decimal("0.001") * 5  # BTCUSDT: 0.001 BTC a contract
    first = (Decimal(str(part["close_price"])) - entry) * size
    last = (Decimal(str(closed["close_price"])) - entry) * size
    assert part["realized_pnl"] == pytest.approx(float(first))
    assert closed["realized_pnl"] == pytest.approx(float(first + last)), "the whole position's"
    assert stack.receiver.statuses(ORDER_ID) == [
        "placed",
        "filled",
        "partially_closed",
        "stop_moved",
        "closed",
    ]


async def test_the_break_even_stop_closes_the_rest_at_the_entry(stack: Stack) -> None:
    client = await stack.start()
    entry = await open_position(stack, client, LADDER)
    await client.price(SYMBOL, 66010)
    moved = await stack.receiver.wait_for(ORDER_ID, "stop_moved")
    level = Decimal(str(moved["stop_loss"]))
    assert entry < level < Decimal(65500)
    await client.prices(SYMBOL, 65700, level - 1)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("break_even", 5)
    assert Decimal(str(closed["trigger_level"])) == level
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert sum(dealt(c) for c in closes(state)) == 10


async def test_a_trailing_stop_follows_reports_once_a_second_and_fires(stack: Stack) -> None:
    client = await stack.start()
    plan = {
        **SEED_ORDER,
        "take_profit": None,
        "trailing_stop": {"activation_percent": 1, "callback_percent": 0.5},
    }
    entry = await open_position(stack, client, plan)
    activation = entry * Decimal("1.01")
    rising = [int(activation) + 10 + 20 * step for step in range(6)]
    await client.prices(SYMBOL, *rising)  # six new bests within ~0.15 s
    best = Decimal(rising[-1])
    last = (best * Decimal("0.995")).quantize(Decimal("0.1"), rounding="ROUND_DOWN")

    async def last_level_reported() -> bool:
        moves = [b for b in stack.receiver.of(ORDER_ID) if b["status"] == "stop_moved"]
        return bool(moves) and Decimal(str(moves[-1]["stop_loss"])) == last

    await eventually(last_level_reported, 5, "the last trailing level reported")

    # The exchange-side stop 0.2 % (the backstop offset) under the last level, on the tick.
    under_last = (last * Decimal("0.998")).quantize(Decimal("0.1"), rounding="ROUND_DOWN")

    async def backstop_at_the_last_level() -> bool:
        stops = exchange_stops(await client.sim_state())
        return stops == [under_last]

    await eventually(backstop_at_the_last_level, 5, "the exchange-side stop at the last level")
    state = await client.sim_state()
    placed = [p for p in state["plan_orders"] if p["type"] == "stop_loss" and p["client_order_id"]]
    assert 2 <= len(placed) < len(rising), "followed at most once a second, to the last level"
    moves = [b for b in stack.receiver.of(ORDER_ID) if b["status"] == "stop_moved"]
    assert 2 <= len(moves) < len(rising), "at most one a second, the last one always"
    assert all(m["reason"] == "trailing_stop" for m in moves)
    levels = [Decimal(str(m["stop_loss"])) for m in moves]
    assert levels == sorted(levels), "a trailing stop never moves back"

    await client.prices(SYMBOL, best - 100, last - 1)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], Decimal(str(closed["trigger_level"]))) == ("trailing_stop", last)
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


async def test_the_api_names_each_bad_leg(stack: Stack) -> None:
    client = await stack.start()
    bad = {
        **LADDER,
        "take_profits": [
            {"price": 67000, "size_percent": 60},
            {"price": 66000, "size_percent": 40},
        ],
        "break_even": {"after_take_profit": 2},
        "trailing_stop": {"activation_price": 65100, "callback_percent": 1},
    }
    status, body = await client.post("/api/place-order", bad)
    assert status == 422, body
    named = str(body)
    for field in (
        "take_profits[1].price",
        "break_even.after_take_profit",
        "trailing_stop.activation_price",
    ):
        assert field in named, (field, body)
    status, body = await client.get(f"/api/orders/{ORDER_ID}")
    assert status == 404, "nothing half-applied"


# -- the worker killed in the middle of a ladder ------------------------------------------


@pytest.mark.slow
async def test_killed_between_tp1_and_tp2_resumes_with_the_rest_and_the_moved_stop(
    crash: CrashStack,
) -> None:
    client = await crash.start()
    await open_position(crash, client, LADDER)
    await client.price(SYMBOL, 66010)
    moved = await crash.receiver.wait_for(ORDER_ID, "stop_moved")
    level = Decimal(str(moved["stop_loss"]))
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")

    await crash.restart()
    await client.prices(SYMBOL, 65700, level - 1)  # the moved stop, not the plan's 64000
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("break_even", 5)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert sum(dealt(c) for c in closes(state)) == 10
    assert len(sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("lands", [True, False])
async def test_killed_as_tp1_reaches_the_exchange_closes_half_once(
    crash: CrashStack, lands: bool
) -> None:
    """``lands``: TP1's IOC executes and the worker dies before it hears; else it dies
    after journaling it, before the exchange had it. Restarted, it sends the same client id
    again (refused as a double, or placed now): 5 contracts closed for TP1, never 10."""
    client = await crash.start()
    await open_position(crash, client, LADDER)
    crash.kill_on_submit(lambda req: req.mode == IOC and req.side in CLOSE_SIDES, execute=lands)
    await client.price(SYMBOL, 66010)
    await eventually(lambda: not crash.alive, 5, "the worker killed at TP1's IOC")
    state = await client.sim_state()
    assert [dealt(c) for c in closes(state)] == ([5] if lands else [])

    await crash.restart()
    part = await crash.receiver.wait_for(ORDER_ID, "partially_closed")
    assert (part["closed_quantity"], part["remaining_quantity"]) == (5, 5)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 5
    await client.prices(SYMBOL, 66500, 67010)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("take_profit", 5)
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert sum(dealt(c) for c in closes(state)) == 10


@pytest.mark.slow
async def test_killed_while_a_trailing_stop_moves_resumes_no_looser_than_reported(
    crash: CrashStack,
) -> None:
    """The trailing stop reported a level, moved on in memory, and the worker died: the
    restarted worker's stop is no looser than the last level reported (a price above it
    closes nothing), and a price through it closes with ``trailing_stop``."""
    client = await crash.start()
    plan = {
        **SEED_ORDER,
        "take_profit": None,
        "trailing_stop": {"activation_percent": 1, "callback_percent": 0.5},
    }
    entry = await open_position(crash, client, plan)
    start = int(entry * Decimal("1.01")) + 10
    await client.prices(SYMBOL, start, start + 40, start + 80)  # a report, then moves held back
    moves = [b for b in crash.receiver.of(ORDER_ID) if b["status"] == "stop_moved"]
    assert moves, "the first move is reported at once"
    reported = Decimal(str(moves[-1]["stop_loss"]))
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")

    await crash.restart()
    status, body = await client.get(f"/api/orders/{ORDER_ID}")
    assert status == 200, body
    stop = Decimal(body["order"]["exit_progress"]["stop_loss"])
    assert stop >= reported, (stop, reported)
    await client.price(SYMBOL, stop + 1)
    await asyncio.sleep(0.5)  # time to act on it, were the stop looser than reported
    assert open_contracts(await client.sim_state(), SYMBOL) == 10, "above the stop: still open"
    assert "closed" not in crash.receiver.statuses(ORDER_ID)
    await client.price(SYMBOL, stop - 1)
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "trailing_stop"
    assert Decimal(str(closed["trigger_level"])) >= reported
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


def mark_stopped_in_the_journal(var_dir: Path) -> None:
    """What an interrupted hand-over used to leave (chaos seed 815): the order still
    ``open``, its guard's snapshot saying the stop had fired and everything was closing."""
    db = sqlite3.connect(var_dir / "worker.db")
    try:
        (text,) = db.execute("SELECT data FROM orders WHERE order_id = ?", (ORDER_ID,)).fetchone()
        data = json.loads(text)
        exit_state = data["extra"]["exit"]
        exit_state.update(stopped=True, closing=exit_state["held"])
        db.execute("UPDATE orders SET data = ? WHERE order_id = ?", (json.dumps(data), ORDER_ID))
        db.commit()
    finally:
        db.close()


@pytest.mark.slow
async def test_restarted_past_a_moved_stop_closes_at_once_whatever_the_snapshot_said(
    crash: CrashStack,
) -> None:
    """The worker dies with its trailing stop moved; while it is down the price goes through
    that stop (short of the exchange's stop behind it). Restarted, it closes at once, before
    it has even learnt the contract's grid, and a snapshot that claimed the stop had fired
    while the order was still open does not leave the position unguarded."""
    client = await crash.start()
    plan = {
        **SEED_ORDER,
        "take_profit": None,
        "trailing_stop": {"activation_percent": 1, "callback_percent": 0.5},
    }
    entry = await open_position(crash, client, plan)
    await client.price(SYMBOL, int(entry * Decimal("1.02")))
    moved = await crash.receiver.wait_for(ORDER_ID, "stop_moved")
    level = Decimal(str(moved["stop_loss"]))
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")
    mark_stopped_in_the_journal(crash.tmp_path)
    await client.price(SYMBOL, level - 5)  # through our stop, above the exchange's

    await crash.restart()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("trailing_stop", "worker")
    assert Decimal(str(closed["trigger_level"])) == level
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


async def test_a_position_opened_elsewhere_is_guarded_rung_by_rung(stack: Stack) -> None:
    """``monitor-position`` with a ladder and break-even: an adopted position of 8
    contracts closes 4 at TP1, moves its stop to its entry, and closes 4 at TP2."""
    client = await stack.start()
    await open_outside_the_worker(stack, 8)
    state = await client.sim_state()
    (position,) = [p for p in state["positions"] if Decimal(p["current_amount"]) > 0]
    entry = Decimal(position["entry_price"])
    first, second = int(entry) + 500, int(entry) + 1000
    body = {
        "id": "adopted-ladder",
        "symbol": SYMBOL,
        "side": "long",
        "stop_loss": int(entry) - 1000,
        "take_profits": [
            {"price": first, "size_percent": 50},
            {"price": second, "size_percent": 50},
        ],
        "break_even": {"after_take_profit": 1},
    }
    status, answer = await client.post("/api/monitor-position", body)
    assert (status, answer["status"]) == (200, "open"), answer
    await client.price(SYMBOL, first + 10)
    part = await stack.receiver.wait_for("adopted-ladder", "partially_closed")
    assert (part["closed_quantity"], part["remaining_quantity"]) == (4, 4)
    moved = await stack.receiver.wait_for("adopted-ladder", "stop_moved")
    assert (Decimal(str(moved["stop_loss"])), moved["reason"]) == (entry, "break_even")
    await client.price(SYMBOL, second + 10)
    closed = await stack.receiver.wait_for("adopted-ladder", "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("take_profit", 4)
    assert open_contracts(await client.sim_state(), SYMBOL) == 0


@pytest.mark.slow
async def test_restarted_while_the_contract_cannot_be_read_guards_the_stop_then_the_ladder(
    crash: CrashStack,
) -> None:
    """The worker restarts while the exchange will not describe the contract (no lot, no
    tick: the rungs cannot be sized). The stop is guarded meanwhile; once the exchange
    answers again, the guard is built and TP1 closes its half."""
    from dataclasses import replace

    from zoneguard.sim import rest
    from zoneguard.sim.errors import SERVICE_UNAVAILABLE, SimError

    client = await crash.start()
    await open_position(crash, client, LADDER)
    crash.kill()
    await eventually(lambda: not crash.alive, 5, "the worker killed")
    path = "/contract/public/details"
    original = rest.ROUTES[path]
    asked: list[int] = []

    def unavailable(engine: Any, params: Any) -> object:
        asked.append(1)
        raise SimError(SERVICE_UNAVAILABLE, "Service is unavailable")

    rest.ROUTES[path] = replace(original, handler=unavailable)
    try:
        await crash.restart()
        await eventually(lambda: len(asked) >= 2, 10, "the worker asking for the contract again")
    finally:
        rest.ROUTES[path] = original
    await client.price(SYMBOL, 66010)
    part = await crash.receiver.wait_for(ORDER_ID, "partially_closed", timeout=15)
    assert (part["take_profit_index"], part["closed_quantity"]) == (1, 5)
    assert open_contracts(await client.sim_state(), SYMBOL) == 5
