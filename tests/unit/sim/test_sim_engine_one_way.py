"""One-way position mode in the engine: the switch rule and netting fills (PROTOCOL §4, §6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_sim_engine import BTC, D, error_code, limit, make_engine, market, move

from zoneguard.sim.engine import Engine, OrderRequest, PlanRequest
from zoneguard.sim.model import LONG, SHORT, Position


def held(engine: Engine, position_type: int) -> int:
    position = engine.position(BTC, position_type)
    return 0 if position is None else position.hold


def one_way() -> Engine:
    engine = make_engine()
    assert engine.set_position_mode("one_way_mode") == "one_way_mode"
    return engine


def long_position(engine: Engine) -> Position:
    position = engine.position(BTC, LONG)
    assert position is not None
    return position


def test_switch_is_refused_while_a_position_or_order_is_open() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 2))
    assert error_code(lambda: engine.set_position_mode("one_way_mode")) == 40059
    assert engine.set_position_mode("hedge_mode") == "hedge_mode"  # no change: always fine
    engine.submit_order(market(3, 2))
    resting = engine.submit_order(limit(1, "60000"))
    assert error_code(lambda: engine.set_position_mode("one_way_mode")) == 40059
    engine.cancel_order(BTC, resting.order_id)
    assert engine.set_position_mode("one_way_mode") == "one_way_mode"
    assert engine.position_mode == "one_way_mode"
    assert error_code(lambda: engine.set_position_mode("both")) == 40011


def test_switch_is_refused_while_a_plan_order_waits() -> None:
    engine = make_engine()
    plan = engine.submit_plan(
        PlanRequest(
            symbol=BTC, side=1, type="market", size=1, trigger_price=D("66000"), price_way=1
        )
    )
    assert error_code(lambda: engine.set_position_mode("one_way_mode")) == 40059
    engine.cancel_plan(BTC, plan.order_id, None)
    assert engine.set_position_mode("one_way_mode") == "one_way_mode"


def test_a_sell_reduces_the_long_first_then_opens_a_short() -> None:
    engine = one_way()
    engine.submit_order(market(1, 10))  # buy 10 at the ask 65000.1
    move(engine, "65100")
    wallet_before = engine.balance().wallet
    partial = engine.submit_order(market(4, 4))  # sell 4 at the bid 65099.9
    assert (held(engine, LONG), held(engine, SHORT)) == (6, 0)
    (fill,) = [f for f in engine.fills() if f.order_id == partial.order_id]
    assert fill.realised_pnl == (D("65099.9") - D("65000.1")) * 4 * D("0.001")
    assert engine.balance().wallet == wallet_before + fill.realised_pnl - fill.fee

    flip = engine.submit_order(market(4, 10))  # sell 10: closes 6, opens a short of 4
    assert (held(engine, LONG), held(engine, SHORT)) == (0, 4)
    short = engine.position(BTC, SHORT)
    assert short is not None and short.entry_price == D("65099.9")
    assert [f.qty for f in engine.fills() if f.order_id == flip.order_id] == [10]
    assert long_position(engine).margin == 0


def test_hedge_mode_keeps_both_sides() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 10))
    engine.submit_order(market(4, 4))
    assert (held(engine, LONG), held(engine, SHORT)) == (10, 4)


def test_reduce_only_sides_in_one_way_mode() -> None:
    engine = one_way()
    engine.submit_order(market(1, 5))
    assert error_code(lambda: engine.submit_order(market(2, 1))) == 40021  # no short to reduce
    assert error_code(lambda: engine.submit_order(market(3, 6))) == 40020  # more than held
    engine.submit_order(market(3, 5))  # sell reduce-only: flat, never short
    assert (held(engine, LONG), held(engine, SHORT)) == (0, 0)


def test_netting_a_position_flat_cancels_its_stops_and_the_rest_takes_the_presets() -> None:
    engine = one_way()
    engine.submit_order(
        OrderRequest(
            symbol=BTC, side=1, size=5, type="market", leverage=D(10), preset_sl=D("60000")
        )
    )
    (long_stop,) = engine.active_plans()
    engine.submit_order(
        OrderRequest(
            symbol=BTC,
            side=4,
            size=8,
            type="market",
            leverage=D(10),
            preset_sl=D("70000"),
        )
    )
    (short_stop,) = engine.active_plans()
    assert short_stop.order_id != long_stop.order_id
    assert (short_stop.side, short_stop.trigger_price) == (2, Decimal("70000"))
    assert held(engine, SHORT) == 3


@pytest.mark.parametrize("mode", ["hedge_mode", "one_way_mode"])
def test_orders_and_plans_remember_the_mode_they_were_placed_in(mode: str) -> None:
    engine = make_engine()
    engine.set_position_mode(mode)
    order = engine.submit_order(limit(1, "64000", preset_tp=D("66000")))
    move(engine, "64000")
    (plan,) = engine.active_plans()
    assert (order.position_mode, plan.position_mode) == (mode, mode)
