"""The simulator's matching engine, driven directly (no sockets)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zoneguard.sim.contracts import KNOWN_CONTRACTS
from zoneguard.sim.engine import Engine, OrderRequest, PlanChange, PlanRequest, TpSlRequest
from zoneguard.sim.errors import MAKER_ONLY_WOULD_CROSS_MESSAGE, SimError
from zoneguard.sim.model import (
    ACTION_CANCEL,
    ACTION_FILL,
    ACTION_SUBMIT,
    LONG,
    SHORT,
    STATE_FINISHED,
    STATE_LIVE,
)

D = Decimal
BTC = "BTCUSDT"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def make_engine(
    post_only_cross: str = "reject", balance: str = "100000", clock: FakeClock | None = None
) -> Engine:
    return Engine(
        {BTC: KNOWN_CONTRACTS[BTC], "ETHUSDT": KNOWN_CONTRACTS["ETHUSDT"]},
        {BTC: D("65000"), "ETHUSDT": D("3000")},
        usdt_balance=D(balance),
        maker_fee_rate=D("0.0002"),
        taker_fee_rate=D("0.0006"),
        post_only_cross=post_only_cross,  # type: ignore[arg-type]
        clock=clock or FakeClock(),
    )


def limit(side: int, price: str, size: int = 10, **extra: object) -> OrderRequest:
    return OrderRequest(
        symbol=BTC,
        side=side,
        size=size,
        price=D(price),
        leverage=D(10),
        **extra,  # type: ignore[arg-type]
    )


def market(side: int, size: int = 10) -> OrderRequest:
    return OrderRequest(symbol=BTC, side=side, size=size, type="market", leverage=D(10))


def move(engine: Engine, price: str) -> list[int]:
    engine.set_price(BTC, D(price))
    return engine.match(BTC)


def error_code(call: object) -> int:
    assert callable(call)
    with pytest.raises(SimError) as caught:
        call()
    return caught.value.code


# -- fills ---------------------------------------------------------------------------------


def test_resting_buy_fills_as_maker_when_price_trades_at_it() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "64900"))
    assert (order.state, order.resting) == (STATE_LIVE, True)
    assert move(engine, "64900.1") == []
    assert move(engine, "64900") == [order.order_id]
    assert (order.state, order.deal_size, order.deal_avg_price) == (STATE_FINISHED, 10, D("64900"))
    (fill,) = engine.fills()
    assert fill.exec_type == "Maker"
    assert fill.fee == D("64900") * 10 * D("0.001") * D("0.0002")


def test_resting_sell_fills_when_price_goes_through_it() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(4, "65100"))
    assert move(engine, "65200") == [order.order_id]
    assert order.deal_avg_price == D("65100")  # its own price, not the last price
    position = engine.position(BTC, SHORT)
    assert position is not None
    assert position.hold == 10


def test_price_move_fills_only_crossed_orders_best_first() -> None:
    engine = make_engine()
    far = engine.submit_order(limit(1, "60000"))
    near = engine.submit_order(limit(1, "64000"))
    middle = engine.submit_order(limit(1, "62000"))
    assert move(engine, "62000") == [near.order_id, middle.order_id]
    assert far.state == STATE_LIVE
    assert len(engine.book(BTC).buys) == 1


def test_crossing_limit_fills_at_once_at_the_ask_as_taker() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "65500"))
    assert order.state == STATE_FINISHED
    assert order.deal_avg_price == D("65000.1")  # ask = last + 1 tick
    assert engine.fills()[0].exec_type == "Taker"


def test_market_orders_fill_at_ask_and_bid() -> None:
    engine = make_engine()
    buy = engine.submit_order(market(1, 5))
    assert buy.deal_avg_price == D("65000.1")
    sell = engine.submit_order(market(3, 5))
    assert sell.deal_avg_price == D("64999.9")
    assert engine.position(BTC, LONG).hold == 0  # type: ignore[union-attr]


def test_fok_and_ioc_that_cannot_cross_are_cancelled() -> None:
    engine = make_engine()
    for mode in (2, 3):
        order = engine.submit_order(limit(1, "64000", mode=mode))
        assert (order.state, order.deal_size) == (STATE_FINISHED, 0)
    ioc = engine.submit_order(limit(1, "66000", mode=3))
    assert ioc.deal_size == 10


# -- maker only ----------------------------------------------------------------------------


def test_maker_only_crossing_is_rejected_in_reject_mode() -> None:
    engine = make_engine("reject")
    with pytest.raises(SimError) as caught:
        engine.submit_order(limit(1, "65000.1", mode=4))
    assert caught.value.code == 40011
    assert caught.value.message == MAKER_ONLY_WOULD_CROSS_MESSAGE
    assert list(engine.orders()) == []
    assert engine.take_events().orders == []


def test_maker_only_crossing_is_accepted_then_cancelled_in_cancel_mode() -> None:
    engine = make_engine("cancel")
    order = engine.submit_order(limit(4, "64999.9", mode=4))
    assert (order.state, order.deal_size) == (STATE_FINISHED, 0)
    events = engine.take_events().orders
    assert [event.action for event in events] == [ACTION_SUBMIT, ACTION_CANCEL]
    assert events[0].order.state == STATE_LIVE  # the push shows the state of its moment
    assert events[1].order.state == STATE_FINISHED


def test_maker_only_inside_the_spread_rests() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "65000", mode=4))  # = last, below the ask
    assert order.resting


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "code"),
    [
        (OrderRequest(symbol="XXXUSDT", side=1, size=1, price=D(1)), 40034),
        (OrderRequest(symbol=BTC, side=5, size=1, price=D(1)), 40041),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D(1), type="stop"), 40042),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D("60000.05")), 40043),
        (OrderRequest(symbol=BTC, side=1, size=0, price=D(60000)), 40044),
        (OrderRequest(symbol=BTC, side=1, size=500_001, price=D(60000)), 40044),
        (OrderRequest(symbol=BTC, side=1, size=100_001, type="market"), 40044),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D(60000), client_order_id="a-b"), 40048),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D(60000), client_order_id="a" * 33), 40049),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D(60000), leverage=D(101)), 40029),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D(60000), leverage=D("0.5")), 40030),
        (OrderRequest(symbol=BTC, side=1, size=1, price=D(60000), open_type="both"), 40045),
        (OrderRequest(symbol=BTC, side=1, size=1, type="market", mode=4), 40011),
    ],
)
def test_refusals_carry_bitmart_codes(req: OrderRequest, code: int) -> None:
    engine = make_engine()
    assert error_code(lambda: engine.submit_order(req)) == code


def test_duplicate_client_order_id_is_40050_even_after_the_order_finished() -> None:
    engine = make_engine()
    first = engine.submit_order(limit(1, "60000", client_order_id="abc123"))
    engine.cancel_order(BTC, first.order_id)
    assert (
        error_code(lambda: engine.submit_order(limit(1, "60000", client_order_id="abc123")))
        == 40050
    )


def test_insufficient_balance_is_40027() -> None:
    engine = make_engine(balance="100")
    # 10 contracts x 0.001 x 60000 / 10x = 60 USDT: fits; 20 contracts = 120: does not.
    engine.submit_order(limit(1, "60000", size=10))
    assert error_code(lambda: engine.submit_order(limit(1, "60000", size=10))) == 40027
    assert engine.balance().frozen == D(60)


# -- reduce-only ---------------------------------------------------------------------------


def test_close_without_position_is_40021() -> None:
    engine = make_engine()
    assert error_code(lambda: engine.submit_order(market(3))) == 40021
    assert error_code(lambda: engine.submit_order(market(2))) == 40021


def test_close_larger_than_position_minus_pending_closes_is_40020() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 10))
    assert error_code(lambda: engine.submit_order(market(3, 11))) == 40020
    engine.submit_order(limit(3, "66000", size=6))  # resting close of 6
    assert error_code(lambda: engine.submit_order(market(3, 5))) == 40020
    engine.submit_order(market(3, 4))
    assert engine.position(BTC, LONG).hold == 6  # type: ignore[union-attr]


def test_leverage_conflict_with_open_position_is_40040() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 1))
    conflicting = OrderRequest(symbol=BTC, side=1, size=1, type="market", leverage=D(20))
    assert error_code(lambda: engine.submit_order(conflicting)) == 40040
    assert error_code(lambda: engine.set_leverage(BTC, D(20), "cross")) == 40040
    assert engine.set_leverage("ETHUSDT", D(20), "isolated") == (D(20), "isolated")


# -- positions, PnL and balance ------------------------------------------------------------


def test_round_trip_pnl_and_fees_settle_into_the_wallet() -> None:
    engine = make_engine()
    engine.submit_order(limit(1, "64000", size=10))
    move(engine, "64000")  # maker fill at 64000
    position = engine.position(BTC, LONG)
    assert position is not None
    assert (position.hold, position.entry_price) == (10, D(64000))
    assert position.margin == D(64)  # 10 x 0.001 x 64000 / 10
    assert engine.balance().position_deposit == D(64)
    move(engine, "66000")
    assert engine.unrealized_pnl(position) == D(20)
    engine.submit_order(market(3, 10))  # taker at bid 65999.9
    open_fee = D(64000) * D("0.01") * D("0.0002")
    close_fee = D("65999.9") * D("0.01") * D("0.0006")
    pnl = (D("65999.9") - D(64000)) * D("0.01")
    assert position.realised_pnl == pnl
    assert engine.balance().wallet == D(100000) + pnl - open_fee - close_fee
    assert engine.balance().position_deposit == 0
    assert engine.balance().available == engine.balance().wallet


def test_short_pnl_has_the_opposite_sign() -> None:
    engine = make_engine()
    engine.submit_order(limit(4, "66000", size=10))
    move(engine, "66000")
    move(engine, "65000")
    engine.submit_order(market(2, 10))  # buy back at the ask 65000.1
    position = engine.position(BTC, SHORT)
    assert position is not None
    assert position.realised_pnl == (D(66000) - D("65000.1")) * D("0.01")


def test_average_entry_over_two_fills() -> None:
    engine = make_engine()
    engine.submit_order(limit(1, "64000", size=10))
    engine.submit_order(limit(1, "63000", size=30))
    move(engine, "63000")
    position = engine.position(BTC, LONG)
    assert position is not None
    assert position.hold == 40
    assert position.entry_price == D("63250")


# -- presets and TP/SL ---------------------------------------------------------------------


def test_preset_stop_loss_fires_as_market_close_and_cancels_take_profit() -> None:
    engine = make_engine()
    entry = engine.submit_order(limit(1, "64000", preset_tp=D(66000), preset_sl=D(63000)))
    assert list(engine.active_plans()) == []  # nothing until the entry fills
    move(engine, "64000")
    plans = {plan.type: plan for plan in engine.active_plans()}
    assert set(plans) == {"take_profit", "stop_loss"}
    assert all(p.plan_category == 2 and p.side == 3 for p in plans.values())
    engine.take_events()

    filled = move(engine, "62900")  # through the stop
    assert len(filled) == 1
    close = engine.order(filled[0])
    assert close is not None
    assert (close.origin, close.side, close.size, close.type) == ("stop_loss", 3, 10, "market")
    assert close.plan_order_id == plans["stop_loss"].order_id
    assert close.deal_avg_price == D("62899.9")  # bid after the move
    assert engine.position(BTC, LONG).hold == 0  # type: ignore[union-attr]
    assert list(engine.active_plans()) == []  # the TP went with the position
    actions = [(event.action, event.order.origin) for event in engine.take_events().orders]
    assert actions == [(ACTION_SUBMIT, "stop_loss"), (ACTION_FILL, "stop_loss")]
    assert entry.state == STATE_FINISHED


def test_preset_take_profit_of_a_short_fires_on_a_fall() -> None:
    engine = make_engine()
    engine.submit_order(limit(4, "66000", preset_tp=D(64000), preset_sl=D(67000)))
    move(engine, "66000")
    assert move(engine, "64500") == []
    (fired,) = move(engine, "64000")
    order = engine.order(fired)
    assert order is not None
    assert (order.origin, order.side) == ("take_profit", 2)


def test_preset_on_the_wrong_side_of_the_entry_is_refused() -> None:
    engine = make_engine()
    assert error_code(lambda: engine.submit_order(limit(1, "64000", preset_sl=D(64500)))) == 40011
    assert error_code(lambda: engine.submit_order(limit(4, "66000", preset_tp=D(67000)))) == 40011


def test_flat_position_cancels_its_tp_sl_and_resting_closes() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 10))
    engine.submit_tp_sl(TpSlRequest(symbol=BTC, side=3, type="stop_loss", trigger_price=D(60000)))
    engine.submit_tp_sl(TpSlRequest(symbol=BTC, side=3, type="take_profit", trigger_price=D(70000)))
    resting_close = engine.submit_order(limit(3, "69000", size=4))
    assert error_code(lambda: engine.submit_order(market(3, 7))) == 40020  # 10 - 4 pending
    (fired,) = move(engine, "59000")  # the stop closes all 10, pending close or not
    assert engine.order(fired).deal_size == 10  # type: ignore[union-attr]
    assert list(engine.active_plans()) == []
    assert (resting_close.state, resting_close.deal_size) == (STATE_FINISHED, 0)


def test_manual_close_cancels_the_position_tp_sl() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 10))
    engine.submit_tp_sl(TpSlRequest(symbol=BTC, side=3, type="stop_loss", trigger_price=D(60000)))
    engine.submit_order(market(3, 6))
    assert len(list(engine.active_plans())) == 1  # still guarding the other 4
    engine.submit_order(market(3, 4))
    assert list(engine.active_plans()) == []


def test_submit_tp_sl_needs_a_position_and_refuses_an_already_reached_trigger() -> None:
    engine = make_engine()
    request = TpSlRequest(symbol=BTC, side=3, type="take_profit", trigger_price=D(64000))
    assert error_code(lambda: engine.submit_tp_sl(request)) == 40021
    engine.submit_order(market(1, 1))
    assert error_code(lambda: engine.submit_tp_sl(request)) == 40011  # 64000 < 65000 already


def test_modify_tp_sl_moves_the_trigger() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 1))
    plan = engine.submit_tp_sl(
        TpSlRequest(symbol=BTC, side=3, type="stop_loss", trigger_price=D(60000))
    )
    engine.modify_tp_sl(BTC, plan.order_id, None, D(64000), None, None)
    assert move(engine, "64500") == []
    assert len(move(engine, "64000")) == 1


def test_modify_preset_changes_what_the_fill_attaches() -> None:
    engine = make_engine()
    entry = engine.submit_order(limit(1, "64000", preset_sl=D(63000)))
    engine.modify_preset(BTC, entry.order_id, D(67000), 1, D(62000), 2)
    move(engine, "64000")
    plans = {plan.type: plan for plan in engine.active_plans()}
    assert plans["take_profit"].trigger_price == D(67000)
    assert (plans["stop_loss"].trigger_price, plans["stop_loss"].price_type) == (D(62000), 2)


def test_plan_order_sends_its_order_when_triggered() -> None:
    engine = make_engine()
    plan = engine.submit_plan(
        PlanRequest(symbol=BTC, side=1, type="market", size=3, trigger_price=D(66000), price_way=1)
    )
    assert move(engine, "65900") == []
    (filled,) = move(engine, "66000")
    order = engine.order(filled)
    assert order is not None
    assert (order.origin, order.plan_order_id, order.deal_size) == ("plan_order", plan.order_id, 3)


# -- partial fills ---------------------------------------------------------------------------


def test_partial_fill_keeps_the_rest_resting_and_attaches_presets() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "64000", size=10, preset_sl=D(63000)))
    engine.fill_resting(BTC, order.order_id, 4)
    assert (order.state, order.deal_size, order.resting) == (STATE_LIVE, 4, True)
    assert engine.balance().frozen == D("38.4")  # 6 left x 0.001 x 64000 / 10
    assert engine.position(BTC, LONG).hold == 4  # type: ignore[union-attr]
    assert [plan.type for plan in engine.active_plans()] == ["stop_loss"]
    assert move(engine, "64000") == [order.order_id]
    assert (order.state, order.deal_size) == (STATE_FINISHED, 10)
    assert engine.position(BTC, LONG).hold == 10  # type: ignore[union-attr]
    assert error_code(lambda: engine.fill_resting(BTC, order.order_id, 1)) == 40035


def test_partial_fill_bounds() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "64000", size=3))
    assert error_code(lambda: engine.fill_resting(BTC, order.order_id, 4)) == 40044
    assert error_code(lambda: engine.fill_resting(BTC, order.order_id, 0)) == 40044


# -- cancel and modify ---------------------------------------------------------------------


def test_cancel_releases_frozen_margin_and_finished_orders_do_not_exist() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "60000", size=10))
    assert engine.balance().frozen == D(60)
    engine.cancel_order(BTC, order.order_id)
    assert engine.balance().frozen == 0
    assert (order.state, order.deal_size) == (STATE_FINISHED, 0)
    assert error_code(lambda: engine.cancel_order(BTC, order.order_id)) == 40035
    assert error_code(lambda: engine.cancel_order(BTC, 1)) == 40035


def test_modify_limit_order_reprices_in_the_book() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "60000", size=10))
    engine.modify_limit_order(BTC, order.order_id, None, D(64000), 5)
    assert move(engine, "62000") == [order.order_id]
    assert (order.deal_size, order.deal_avg_price) == (5, D(64000))


def test_events_report_positions_and_balance_once_per_call() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 2))
    events = engine.take_events()
    assert [event.action for event in events.orders] == [ACTION_SUBMIT, ACTION_FILL]
    assert [(p.symbol, p.hold) for p in events.positions] == [(BTC, 2)]
    assert events.balance is not None
    assert engine.take_events().empty


def test_set_price_only_moves_the_price_and_match_fills() -> None:
    """Two phases so the server can push the new price before the fills it causes."""
    engine = make_engine()
    order = engine.submit_order(limit(1, "64000"))
    engine.take_events()
    engine.set_price(BTC, D("63000"))
    assert order.state == STATE_LIVE
    assert engine.take_events().empty
    assert engine.match(BTC) == [order.order_id]
    assert [event.action for event in engine.take_events().orders] == [ACTION_FILL]


def test_set_price_rounds_to_the_tick() -> None:
    engine = make_engine()
    update = engine.set_price(BTC, D("65100.06"))
    assert update.price == D("65100.1")
    assert engine.last_price(BTC) == D("65100.1")


def test_order_and_plan_ids_exceed_the_doubles_exact_range() -> None:
    engine = make_engine()
    order = engine.submit_order(limit(1, "64000", preset_sl=D("63000")))
    move(engine, "64000")
    (plan,) = engine.active_plans()
    assert order.order_id > 2**53 and plan.order_id > order.order_id


def test_modify_plan_changes_type_trigger_and_price_type() -> None:
    engine = make_engine()
    plan = engine.submit_plan(
        PlanRequest(
            symbol=BTC,
            side=1,
            type="limit",
            size=2,
            trigger_price=D("66000"),
            price_way=1,
            executive_price=D("66000"),
            leverage=D(10),
        )
    )
    no_price = PlanChange("limit", D("66500"), None, 1)
    assert error_code(lambda: engine.modify_plan(BTC, plan.order_id, None, no_price)) == 40011
    reached = PlanChange("market", D("64000"), None, 1)
    assert error_code(lambda: engine.modify_plan(BTC, plan.order_id, None, reached)) == 40011
    engine.modify_plan(BTC, plan.order_id, None, PlanChange("market", D("66500"), None, 2))
    assert (plan.type, plan.trigger_price, plan.executive_price, plan.price_type) == (
        "market",
        D("66500"),
        D(0),
        2,
    )
    assert move(engine, "66000") == []
    assert len(move(engine, "66500")) == 1
    engine.submit_order(limit(1, "64000", preset_sl=D("63000")))
    move(engine, "64000")
    stop = next(p for p in engine.active_plans() if p.is_tp_sl)
    change = PlanChange("market", D("62000"), None, 1)
    assert error_code(lambda: engine.modify_plan(BTC, stop.order_id, None, change)) == 40036
