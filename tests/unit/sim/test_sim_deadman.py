"""``cancel-all-after``: timers re-arm, disarm with 0, and cancel only their symbol."""

from __future__ import annotations

from test_sim_engine import BTC, FakeClock, error_code, limit, make_engine

from zoneguard.sim.deadman import CancelAfterTimers
from zoneguard.sim.engine import OrderRequest
from zoneguard.sim.model import STATE_FINISHED, STATE_LIVE


def test_timers_rearm_and_disarm() -> None:
    timers = CancelAfterTimers()
    assert timers.arm("A", 10, 1_000) == 11_000
    assert timers.arm("A", 5, 2_000) == 7_000  # a new call replaces the deadline
    assert timers.arm("B", 5, 2_000) == 7_000
    assert timers.arm("B", 0, 3_000) == 0
    assert timers.expired(6_999) == []
    assert timers.expired(7_000) == ["A"]
    assert timers.expired(99_000) == []


def test_engine_cancels_the_symbols_open_orders_when_its_timer_runs_out() -> None:
    clock = FakeClock()
    engine = make_engine(clock=clock)
    btc = engine.submit_order(limit(1, "60000"))
    eth = engine.submit_order(
        OrderRequest(symbol="ETHUSDT", side=1, size=1, price=engine.last_price("ETHUSDT") - 10)
    )
    set_s, cancel_s = engine.cancel_all_after(BTC, 5)
    assert cancel_s - set_s == 5
    clock.now += 4_999
    assert engine.cancel_expired() == []
    clock.now += 1
    assert engine.cancel_expired() == [btc.order_id]
    assert (btc.state, eth.state) == (STATE_FINISHED, STATE_LIVE)
    assert error_code(lambda: engine.cancel_all_after(BTC, 4)) == 40011
    assert error_code(lambda: engine.cancel_all_after("NOPE", 5)) == 40034
