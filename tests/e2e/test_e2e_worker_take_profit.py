"""How each exit closes, over real sockets: a take-profit with a limit IOC no worse than the
target less ``take_profit.slippage_tolerance_percent``, whatever it does not fill at market
at once (one ``closed`` for the whole position); a stop-loss and a manual close at market.
Crash tests: the worker SIGKILLed as its IOC reaches the exchange."""

from __future__ import annotations

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
    distinct_callbacks,
    eventually,
    open_contracts,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
TP_LIMIT = Decimal("67966.0")  # 68000 less the default 0.05 %, on the 0.1 tick
IOC = 3  # BitMart's order mode: immediate or cancel
THIN_CLOSE = {"thin_book": {"count": 1, "contracts": 4, "reduce_only": True}}


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sim_orders(state, sides=CLOSE_SIDES, symbol=SYMBOL)


def dealt(order: dict[str, Any]) -> Decimal:
    return Decimal(str(order["deal_size"]))


def average_close(state: dict[str, Any]) -> Decimal:
    done = [c for c in closes(state) if dealt(c) > 0]
    total = sum((dealt(c) for c in done), Decimal(0))
    return sum((dealt(c) * Decimal(str(c["deal_avg_price"])) for c in done), Decimal(0)) / total


async def open_long(stack: Stack, client: Client) -> None:
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.prices(SYMBOL, 65200, 65100)
    await client.wait_state(ORDER_ID, "open")


def move_price_as_the_ioc_arrives(stack: Stack, price: str) -> None:
    """The market runs away between the trigger and the exchange receiving the IOC: the
    simulator moves the price first, then takes the order."""
    assert stack.sim is not None
    sim = stack.sim
    engine = sim.engine
    original = engine.submit_order

    def submit_order(req: Any, **kwargs: Any) -> Any:
        if not kwargs and req.mode == IOC and req.side in CLOSE_SIDES:
            engine.submit_order = original  # type: ignore[method-assign]
            sim.state.move_price(req.symbol, Decimal(price))
        return original(req, **kwargs)

    engine.submit_order = submit_order  # type: ignore[method-assign]


async def test_take_profit_closes_with_a_limit_ioc_that_fills_at_once(stack: Stack) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.prices(SYMBOL, 67990, 68010)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    (close,) = closes(await client.sim_state())
    assert (close["type"], close["mode"], Decimal(close["price"])) == ("limit", IOC, TP_LIMIT)
    assert dealt(close) == 10
    assert (closed["reason"], closed["closed_by"]) == ("take_profit", "worker")
    assert closed["close_order_id"] == close["order_id"]
    assert Decimal(str(closed["close_price"])) == Decimal("68009.9")  # the bid: better
    assert closed["slippage_percent"] < 0
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]
    assert "closing with a limit IOC at 67966.0" in stack.app_log.read_text()


async def test_a_price_past_the_tolerance_leaves_the_ioc_unfilled_and_market_closes(
    stack: Stack,
) -> None:
    client = await stack.start()
    await open_long(stack, client)
    move_price_as_the_ioc_arrives(stack, "67900")  # under the limit: nothing crosses
    await client.prices(SYMBOL, 67990, 68010)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    ioc, market = closes(state)
    assert (ioc["mode"], Decimal(ioc["price"]), dealt(ioc)) == (IOC, TP_LIMIT, 0)
    assert (market["type"], dealt(market)) == ("market", 10)
    assert open_contracts(state, SYMBOL) == 0
    assert closed["reason"] == "take_profit"
    assert closed["close_order_id"] == market["order_id"]
    assert Decimal(str(closed["close_price"])) == Decimal("67899.9")
    slip = (Decimal(68000) - Decimal("67899.9")) * 100 / Decimal(68000)
    assert closed["slippage_percent"] == pytest.approx(float(slip))
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]
    assert "filled 0 of 10 contracts: the rest at market" in stack.app_log.read_text()


async def test_a_partly_filled_ioc_closes_the_rest_at_market_and_reports_the_whole(
    stack: Stack,
) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.fault(THIN_CLOSE)  # the next taking close finds 4 contracts
    await client.prices(SYMBOL, 67990, 68010)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    ioc, market = closes(state)
    assert (ioc["mode"], dealt(ioc)) == (IOC, 4)
    assert (market["type"], Decimal(str(market["size"])), dealt(market)) == ("market", 6, 6)
    assert open_contracts(state, SYMBOL) == 0
    average = average_close(state)
    assert Decimal(str(closed["close_price"])) == average
    entry = Decimal(str(closed["entry_price"]))
    pnl = (average - entry) * 10 * Decimal("0.001")  # every contract, not the last order's
    assert closed["realized_pnl"] == pytest.approx(float(pnl))
    assert [b["status"] for b in stack.receiver.of(ORDER_ID)] == ["placed", "filled", "closed"]


async def test_a_refused_ioc_does_not_hold_the_target_up(stack: Stack) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.fault({"reject_orders": {"count": 1, "code": 40011, "reduce_only": True}})
    await client.prices(SYMBOL, 67990, 68010)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    (market,) = closes(await client.sim_state())  # the refused IOC left nothing
    assert (market["type"], dealt(market)) == ("market", 10)
    assert closed["close_order_id"] == market["order_id"]
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"], "no close_failed"


async def test_a_stop_closes_at_market_whatever_its_tolerance(stack: Stack) -> None:
    client = await stack.start(orders={"stop_loss": {"slippage_tolerance_percent": "0.001"}})
    await open_long(stack, client)
    await client.price(SYMBOL, 63500)  # a gap: 0.78 % past the stop
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    (close,) = closes(await client.sim_state())
    assert (close["type"], dealt(close)) == ("market", 10)
    assert closed["reason"] == "stop_loss"
    assert closed["slippage_percent"] > 0.7  # reported, never allowed to block the stop


async def test_a_manual_close_is_at_market(stack: Stack) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.price(SYMBOL, 67999)
    await stack.seen(SYMBOL, 67999)
    status, body = await client.post(f"/api/orders/{ORDER_ID}/close")
    assert status in (200, 202), body
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    (close,) = closes(await client.sim_state())
    assert (close["type"], dealt(close)) == ("market", 10)
    assert closed["reason"] == "manual"


# -- the worker killed as its IOC reaches the exchange ------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("lands", [True, False])
async def test_killed_as_the_ioc_arrives_closes_the_whole_position_once(
    crash: CrashStack, lands: bool
) -> None:
    """``lands``: the IOC executes (4 of 10 on a thin book) and the worker dies before it
    hears; else the worker dies after noting it, before the exchange had it. The restarted
    worker finds the IOC by its client id (or sends it again under that id) and closes what
    is left at market: 10 contracts closed in all, one ``closed``."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65400)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, 65300)
    await client.wait_state(ORDER_ID, "open")
    await client.fault(THIN_CLOSE)
    crash.kill_on_submit(lambda req: req.mode == IOC and req.side in CLOSE_SIDES, execute=lands)
    await client.prices(SYMBOL, 67990, 68010)
    await eventually(lambda: not crash.alive, 5, "the worker killed at its IOC")
    state = await client.sim_state()
    assert [dealt(c) for c in closes(state)] == ([4] if lands else [])
    assert open_contracts(state, SYMBOL) == (6 if lands else 10)

    await crash.restart()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    assert sum(dealt(c) for c in closes(state)) == 10
    assert len(sim_orders(state, sides=ENTRY_SIDES, symbol=SYMBOL)) == 1
    assert (closed["reason"], closed["closed_by"]) == ("take_profit", "worker")
    assert Decimal(str(closed["close_price"])) == average_close(state)
    statuses = [b["status"] for b in distinct_callbacks(crash.receiver, ORDER_ID)]
    assert statuses == ["placed", "filled", "closed"]
    iocs = [c for c in closes(state) if c["mode"] == IOC]
    assert len(iocs) <= 1, "the IOC's client id is never sent as a second order"
