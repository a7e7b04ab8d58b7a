"""Issue 5, the other ends of the chain: app -> bus -> worker -> simulator -> worker ->
signed callback -> app, for a stop-loss, a timeout, a refused entry (``failed``) and refused
closes (``close_failed`` then ``closed``). Each on SQLite with the database bus and on
PostgreSQL with RabbitMQ (skipped, with the reason, when their URLs are not set). The
take-profit and the app's restarts are in test_e2e_app_flow."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import app_e2e_support
from app_e2e_support import SECRET, App, AppFactory, submit_signal
from e2e_harness import Client, Stack

# The shared fixtures, bound here for pytest to find (see app_e2e_support).
backend = app_e2e_support.backend
app_factory = app_e2e_support.app_factory
pg_url = app_e2e_support.pg_url
amqp_dsn = app_e2e_support.amqp_dsn

SYMBOL = "BTCUSDT"
STOP_LOSS = Decimal(64000)
UNDER_THE_STOP = 63990  # under the SL (64000), above the exchange's preset (63872)
INSUFFICIENT_BALANCE = 40027


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def events(detail: dict[str, Any]) -> list[str]:
    return [str(t["event"]) for t in detail["transitions"]]


async def open_position(stack: Stack, app_factory: AppFactory) -> tuple[Client, App, str]:
    """The seed's signal through the app, placed and filled: an open, guarded position."""
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    order_id = await submit_signal(app)
    await sim.prices(SYMBOL, 65800, 65400)  # into the zone: the buy rests at 65400
    await app.wait_status(order_id, "placed")
    await sim.prices(SYMBOL, 65300, 65250)  # trades through it
    filled = await app.wait_status(order_id, "filled")
    assert filled["position"]["status"] == "open"
    return sim, app, order_id


def reduce_only_orders(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in state["orders"] if o["side"] in (2, 3)]


def open_contracts(state: dict[str, Any]) -> Decimal:
    return sum((dec(p["current_amount"]) for p in state["positions"]), Decimal(0))


async def test_a_signal_goes_to_stop_loss_through_the_whole_chain(
    stack: Stack, app_factory: AppFactory
) -> None:
    sim, app, order_id = await open_position(stack, app_factory)

    await sim.prices(SYMBOL, 64500, UNDER_THE_STOP)
    closed = await app.wait_status(order_id, "closed")

    assert closed["reason"] == "stop_loss"
    assert closed["close_order_id"]
    assert dec(closed["close_price"]) <= STOP_LOSS
    position = closed["position"]
    assert position["status"] == "closed"
    assert position["close_reason"] == "stop_loss"
    entry, exit_ = dec(position["entry_price"]), dec(position["exit_price"])
    assert exit_ < entry
    # A long closed lower loses: (exit - entry) x 0.01 BTC, exactly as the worker reported.
    assert dec(position["realized_pnl"]) == (exit_ - entry) * Decimal("0.01")
    assert dec(position["realized_pnl"]) < 0
    assert events(closed) == ["queued", "submitted", "placed", "filled", "closed"]
    assert all(t["applied"] for t in closed["transitions"])
    state = await sim.sim_state()
    (close,) = reduce_only_orders(state)
    assert closed["close_order_id"] == str(close["order_id"])
    assert open_contracts(state) == 0
    assert stack.receiver.bodies == []  # every callback went to the app


async def test_a_zone_never_reached_times_out_through_the_whole_chain(
    stack: Stack, app_factory: AppFactory
) -> None:
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    order_id = await submit_signal(app, timeout_seconds=1)

    await sim.prices(SYMBOL, 65800, 65600)  # near the zone, never in it
    timed_out = await app.wait_status(order_id, "timeout", timeout=6)

    assert timed_out["reason"] == "Entry zone not reached within timeout"
    assert timed_out["exchange_order_id"] is None
    assert timed_out["position"] is None
    assert events(timed_out) == ["queued", "submitted", "timeout"]
    assert (await sim.sim_state())["orders"] == [], "nothing was sent to the exchange"
    await sim.prices(SYMBOL, 65400)  # the zone, too late: nothing happens
    await stack.seen(SYMBOL, 65400)  # a trigger would have moved it to placing by now
    assert await sim.order_state(order_id) == "timeout"
    assert (await sim.sim_state())["orders"] == []
    assert (await app.order(order_id))["status"] == "timeout"


async def test_a_refused_entry_fails_through_the_whole_chain(
    stack: Stack, app_factory: AppFactory
) -> None:
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    order_id = await submit_signal(app)
    await sim.fault({"reject_orders": {"count": 1, "code": INSUFFICIENT_BALANCE}})

    await sim.prices(SYMBOL, 65800, 65400)  # into the zone: the entry is refused
    failed = await app.wait_status(order_id, "failed")

    assert failed["error_code"] == INSUFFICIENT_BALANCE
    assert failed["error"]
    assert failed["exchange_order_id"] is None
    assert failed["position"] is None
    assert events(failed) == ["queued", "submitted", "failed"]
    (refusal,) = failed["transitions"][2:]
    assert refusal["error"] == failed["error"]
    state = await sim.sim_state()
    assert state["orders"] == [], "a refused order leaves nothing on the exchange"
    assert state["faults"]["reject_orders"] is None, "the one refusal was used"
    # A failed order is over: the zone again places nothing.
    await sim.prices(SYMBOL, 65800, 65400)
    await stack.seen(SYMBOL, 65400)  # a trigger would have moved it to placing by now
    assert await sim.order_state(order_id) == "failed"
    assert (await sim.sim_state())["orders"] == []


async def test_refused_closes_report_close_failed_then_closed_through_the_whole_chain(
    stack: Stack, app_factory: AppFactory
) -> None:
    sim, app, order_id = await open_position(stack, app_factory)
    await sim.fault(
        {"reject_orders": {"count": 2, "code": INSUFFICIENT_BALANCE, "reduce_only": True}}
    )

    await sim.price(SYMBOL, UNDER_THE_STOP)  # the close is refused twice, then accepted
    closed = await app.wait_status(order_id, "closed")

    assert events(closed) == ["queued", "submitted", "placed", "filled", "close_failed", "closed"]
    assert all(t["applied"] for t in closed["transitions"])
    refused = closed["transitions"][4]
    assert (refused["to_status"], refused["reason"]) == ("close_failed", "stop_loss")
    assert refused["data"]["error_code"] == INSUFFICIENT_BALANCE
    assert refused["error"]
    assert closed["reason"] == "stop_loss"
    position = closed["position"]
    assert (position["status"], position["close_reason"]) == ("closed", "stop_loss")
    assert dec(position["realized_pnl"]) < 0
    state = await sim.sim_state()
    assert state["faults"]["reject_orders"] is None, "both refusals were used"
    (close,) = reduce_only_orders(state)  # only the accepted close exists
    assert closed["close_order_id"] == str(close["order_id"])
    assert open_contracts(state) == 0


async def test_a_partly_filled_position_closed_at_its_stop_tells_the_app_its_size(
    stack: Stack, app_factory: AppFactory
) -> None:
    """Found by ``zoneguard chaos`` (seed 1009, partial_fill via the app): an entry filled
    in part and closed before the rest filled never sends ``filled``, so the app kept no
    size for the position it reports closed. ``closed`` carries the contracts it closed."""
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    order_id = await submit_signal(app)
    await sim.prices(SYMBOL, 65800, 65400)  # into the zone: the buy rests at 65400
    placed = await app.wait_status(order_id, "placed")
    assert await sim.sim_fill(SYMBOL, placed["exchange_order_id"], 4) == 200
    await sim.wait_state(order_id, "partially_filled")
    await sim.price(SYMBOL, 68050)  # past the TP (68000), short of its preset: rest unfilled
    closed = await app.wait_status(order_id, "closed")
    state = await sim.sim_state()
    (close,) = reduce_only_orders(state)
    assert dec(close["deal_size"]) == 4
    assert dec(closed["filled_contracts"]) == 4
    assert "filled" not in events(closed)
