"""What the worker's shell needs of the exit guard beyond its decisions: the levels worth
waking it for, legs re-sized as the entry fills more, a snapshot a restart resumes from,
and a rung whose close filled nothing tried again."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.stop_rules import TrailingStop
from zoneguard.domain.values import Side
from zoneguard.engine.exits import BreakEvenRule, ExitGuard
from zoneguard.engine.intents import Close, ExitReason, MoveStop

D = Decimal
TICK = D("0.1")
LOT = D(1)
TP = ExitReason.TAKE_PROFIT
HALVES = [(D(66000), D(50)), (D(67000), D(50))]


def ladder(filled: Decimal = D(10), **rules: object) -> ExitGuard:
    return ExitGuard.for_plan(
        Side.LONG,
        filled,
        D(65000),
        D(64000),
        HALVES,
        LOT,
        TICK,
        **rules,  # type: ignore[arg-type]
    )


def test_the_guard_is_woken_only_at_the_stop_and_the_nearest_level_in_favour() -> None:
    guard = ladder(break_even=BreakEvenRule(trigger_percent=D("0.5")))
    assert guard.trigger_levels() == (D(64000), D("65325"))  # break-even's trigger first
    guard.on_price(D(65325))
    assert guard.trigger_levels() == (D(65000), D(66000))
    (tp1,) = guard.on_price(D(66000))
    assert guard.trigger_levels() == (D(65000), D(67000))
    guard.on_closed(tp1, D(5))
    (tp2,) = guard.on_price(D(67000))
    guard.on_closed(tp2, D(5))
    assert guard.flat and guard.trigger_levels() == (None, None)


def test_a_short_trailing_stop_wakes_a_tick_past_its_best() -> None:
    trailing = TrailingStop(callback_percent=D(1), activation_price=D(64000))
    guard = ExitGuard.for_plan(Side.SHORT, D(4), D(65000), None, [], LOT, TICK, None, trailing)
    assert guard.trigger_levels() == (None, D(64000))
    assert guard.on_price(D(64000)) == [MoveStop(D("64640.0"), ExitReason.TRAILING_STOP)]
    assert guard.trigger_levels() == (D("64640.0"), D("63999.9"))


def test_legs_not_yet_sent_grow_with_the_entry_and_sent_ones_keep_their_size() -> None:
    guard = ladder(D(3))
    assert [leg.size for leg in guard.legs] == [D(1), D(2)]
    guard.grow_to(D(6))
    assert guard.held == D(6) and [leg.size for leg in guard.legs] == [D(3), D(3)]
    (tp1,) = guard.on_price(D(66000))
    assert tp1 == Close(D(3), TP, 1)
    guard.grow_to(D(10))
    assert [leg.size for leg in guard.legs] == [D(3), D(5)]
    guard.on_closed(tp1, D(3))
    assert guard.held == D(7)
    assert guard.on_price(D(67000)) == [Close(D(5), TP, 2)], "never more than the leg"


def test_a_rung_whose_close_filled_nothing_is_tried_again_by_the_next_price() -> None:
    guard = ladder()
    (tp1,) = guard.on_price(D(66000))
    assert guard.on_closed(tp1, D(0)) == []
    assert guard.on_price(D(66100)) == [Close(D(5), TP, 1)]


def test_a_snapshot_restores_quantities_levels_and_the_trailing_best() -> None:
    trailing = TrailingStop(callback_percent=D(1), activation_price=D(65500))
    rules = {"break_even": BreakEvenRule(after_take_profit=1), "trailing": trailing}
    guard = ladder(**rules)
    tp1, trailed = guard.on_price(D(66000))
    assert isinstance(tp1, Close) and isinstance(trailed, MoveStop)
    guard.on_closed(tp1, D(5))
    guard.on_price(D(66400))
    restored = ladder(**rules)
    restored.restore(guard.snapshot())
    assert restored.snapshot() == guard.snapshot()
    assert (restored.held, restored.stop, restored.trailing) == (
        guard.held,
        guard.stop,
        guard.trailing,
    )
    assert restored.on_price(D(66000)) == [], "TP1 is not sent twice after a restart"


@given(
    fills=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=4),
    prices=st.lists(st.integers(min_value=63000, max_value=68000), min_size=1, max_size=30),
)
def test_closes_never_exceed_what_has_filled(fills: list[int], prices: list[int]) -> None:
    """However the entry grows between prices, the closes asked never add up to more than
    the contracts filled so far, and the legs always share exactly what has filled."""
    guard = ladder(D(fills[0]))
    filled = D(fills[0])
    asked = D(0)
    pending: list[Close] = []
    for step, price in enumerate(prices):
        if step < len(fills) and step > 0:
            filled += fills[step]
            guard.grow_to(filled)
        for intent in guard.on_price(D(price)):
            if isinstance(intent, Close):
                asked += intent.quantity
                pending.append(intent)
        assert asked <= filled
        unsent = [leg for leg in guard.legs if not leg.sent]
        if len(unsent) == len(guard.legs):
            assert sum(leg.size for leg in guard.legs) == filled
        if pending and step % 3 == 0:
            close = pending.pop(0)
            guard.on_closed(close, close.quantity)
