"""Trailing orders: the activation/extreme/callback state machine, and the engine firing it."""

from __future__ import annotations

from decimal import Decimal

from test_sim_engine import BTC, D, error_code, make_engine, market, move

from zoneguard.sim.engine import TrailRequest
from zoneguard.sim.model import LONG, PLAN_STATE_ACTIVE, PLAN_STATE_CANCELLED, SHORT
from zoneguard.sim.trailing import TrailOrder, observe


def trail(side: int, activation: str, rate: str = "1") -> TrailOrder:
    return TrailOrder(
        order_id=1,
        symbol=BTC,
        side=side,
        size=1,
        leverage=D(10),
        open_type="cross",
        activation_price=D(activation),
        activation_price_type=1,
        callback_rate=D(rate),
        create_time=0,
        update_time=0,
        position_mode="hedge_mode",
    )


def feed(order: TrailOrder, *prices: str) -> list[bool]:
    return [observe(order, Decimal(price)) for price in prices]


def test_sell_trail_activates_at_the_price_then_fires_a_callback_below_the_high() -> None:
    sell = trail(3, "100")
    assert feed(sell, "99", "99.9") == [False, False]
    assert not sell.activated
    assert feed(sell, "100", "110", "109", "108.9") == [False, False, False, True]
    assert sell.extreme == D("110")


def test_buy_trail_mirrors_it() -> None:
    buy = trail(1, "100", "2")
    assert feed(buy, "101", "100", "90", "91.7", "91.8") == [False, False, False, False, True]
    assert buy.extreme == D("90")


def test_a_trail_beyond_its_activation_price_is_active_at_once() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 5))
    order = engine.submit_trail(
        TrailRequest(symbol=BTC, side=3, size=5, activation_price=D("60000"), callback_rate=D(1))
    )
    assert order.activated and order.extreme == D("65000")
    move(engine, "64400")  # 0.92 % below 65000: waits
    assert order.state == PLAN_STATE_ACTIVE
    filled = move(engine, "64300")
    position = engine.position(BTC, LONG)
    assert position is not None and position.hold == 0
    assert filled == [order.executive_order_id]


def test_a_closing_trail_closes_at_most_the_position_and_dies_without_one() -> None:
    engine = make_engine()
    engine.submit_order(market(4, 2))
    order = engine.submit_trail(
        TrailRequest(symbol=BTC, side=2, size=5, activation_price=D("64000"), callback_rate=D(1))
    )
    move(engine, "64000")
    move(engine, "64700")
    short = engine.position(BTC, SHORT)
    assert short is not None and short.hold == 0
    executed = engine.order(order.executive_order_id or 0)
    assert executed is not None and executed.deal_size == 2

    orphan = engine.submit_trail(
        TrailRequest(symbol=BTC, side=2, size=5, activation_price=D("64000"), callback_rate=D(1))
    )
    move(engine, "64000")
    move(engine, "65000")
    assert (orphan.state, orphan.executive_order_id) == (PLAN_STATE_CANCELLED, None)


def test_trail_refusals() -> None:
    engine = make_engine()

    def submit(**change: object) -> None:
        fields: dict[str, object] = {
            "symbol": BTC,
            "side": 1,
            "size": 1,
            "activation_price": D("60000"),
            "callback_rate": D(1),
        }
        fields.update(change)
        engine.submit_trail(TrailRequest(**fields))  # type: ignore[arg-type]

    assert error_code(lambda: submit(callback_rate=D("0.05"))) == 40011
    assert error_code(lambda: submit(activation_price_type=3)) == 40011
    assert error_code(lambda: submit(side=7)) == 40041
    assert error_code(lambda: submit(size=0)) == 40044
    assert error_code(lambda: submit(symbol="NOPE")) == 40034
    assert error_code(lambda: engine.cancel_trail(BTC, 42)) == 40035
