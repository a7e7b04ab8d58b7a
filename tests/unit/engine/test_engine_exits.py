"""The exit side of the engine, without I/O: the seed's 50/50 ladder, break-even after TP1
or after a move, the trailing stop, the stop before the ladder, partial fills; and, over
random price paths and fills, never a close of more than is held, never a looser stop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.stop_rules import TrailingStop, tighter
from zoneguard.domain.values import Side
from zoneguard.engine.exits import BreakEvenRule, ExitGuard, TakeProfitLeg
from zoneguard.engine.intents import Close, ExitReason, MoveStop

D = Decimal
TICK = D("0.1")
TP = ExitReason.TAKE_PROFIT


def seed_ladder(break_even: BreakEvenRule | None = None) -> ExitGuard:
    """Long 10 contracts from 65000, SL 64000, TP1 66000 (5), TP2 67000 (5)."""
    legs = [TakeProfitLeg(D(66000), D(5)), TakeProfitLeg(D(67000), D(5))]
    return ExitGuard(Side.LONG, D(10), D(65000), D(64000), legs, TICK, break_even=break_even)


def test_the_seeds_ladder_closes_half_at_each_target() -> None:
    guard = seed_ladder()
    assert guard.on_price(D(65500)) == []
    first = guard.on_price(D(66000))
    assert first == [Close(D(5), TP, 1)]
    assert guard.on_price(D(66100)) == [], "TP1 is not asked twice"
    assert guard.on_closed(first[0], D(5)) == []
    assert guard.held == D(5)
    second = guard.on_price(D(67050))
    assert second == [Close(D(5), TP, 2)]
    guard.on_closed(second[0], D(5))
    assert guard.flat


def test_break_even_after_tp1_moves_the_stop_to_the_entry_plus_offset() -> None:
    guard = seed_ladder(break_even=BreakEvenRule(after_take_profit=1, offset_percent=D("0.1")))
    (tp1,) = guard.on_price(D(66000))
    assert guard.on_closed(tp1, D(5)) == [MoveStop(D("65065.0"), ExitReason.BREAK_EVEN)]
    assert guard.on_price(D(65065)) == [Close(D(5), ExitReason.BREAK_EVEN)]


def test_break_even_after_a_move_in_favour() -> None:
    guard = seed_ladder(break_even=BreakEvenRule(trigger_percent=D(1)))
    assert guard.on_price(D(65600)) == []
    assert guard.on_price(D(65650)) == [MoveStop(D("65000.0"), ExitReason.BREAK_EVEN)]
    assert guard.on_price(D(65700)) == [], "moved once"


def test_a_trailing_stop_follows_and_fires_with_its_reason() -> None:
    guard = ExitGuard(
        Side.SHORT,
        D(4),
        D(65000),
        D(66000),
        [],
        TICK,
        trailing=TrailingStop(callback_percent=D(1), activation_price=D(64000)),
    )
    assert guard.on_price(D(64500)) == []
    assert guard.on_price(D(64000)) == [MoveStop(D("64640.0"), ExitReason.TRAILING_STOP)]
    assert guard.on_price(D(63000)) == [MoveStop(D("63630.0"), ExitReason.TRAILING_STOP)]
    assert guard.on_price(D(63500)) == [], "never moves back"
    assert guard.on_price(D(63630)) == [Close(D(4), ExitReason.TRAILING_STOP)]


def test_a_price_past_the_stop_closes_everything_not_already_closing() -> None:
    guard = seed_ladder()
    (tp1,) = guard.on_price(D(66000))  # 5 on their way
    assert guard.on_price(D(63900)) == [Close(D(5), ExitReason.STOP_LOSS)]
    assert guard.on_price(D(63800)) == [], "the stop fires once"
    # TP1's close was refused (nothing filled): those 5 go at the stop now.
    assert guard.on_closed(tp1, D(0)) == []
    guard.on_closed(Close(D(5), ExitReason.STOP_LOSS), D(5))
    assert guard.held == D(5)


def test_a_stop_close_that_filled_in_part_sends_the_rest() -> None:
    guard = seed_ladder()
    (stop,) = guard.on_price(D(63900))
    assert guard.on_closed(stop, D(7)) == [Close(D(3), ExitReason.STOP_LOSS)]


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="more than is held"):
        ExitGuard(Side.LONG, D(4), D(1), D(0), [TakeProfitLeg(D(2), D(5))], TICK)
    with pytest.raises(ValueError, match="one of"):
        BreakEvenRule()
    guard = seed_ladder()
    (tp1,) = guard.on_price(D(66000))
    with pytest.raises(ValueError, match="outside"):
        guard.on_closed(tp1, D(6))


prices = st.integers(62_000_0, 69_000_0).map(lambda tenths: D(tenths) / 10)


@given(
    path=st.lists(prices, min_size=1, max_size=60),
    fills=st.lists(st.integers(0, 100), min_size=60, max_size=60),
    delays=st.lists(st.integers(0, 3), min_size=60, max_size=60),
    side=st.sampled_from([Side.LONG, Side.SHORT]),
)
def test_never_closes_more_than_held_and_never_loosens_the_stop(
    path: list[Decimal], fills: list[int], delays: list[int], side: Side
) -> None:
    sign = 1 if side is Side.LONG else -1
    legs = [
        TakeProfitLeg(D(65500 + sign * 500), D(3)),
        TakeProfitLeg(D(65500 + sign * 1500), D(3)),
        TakeProfitLeg(D(65500 + sign * 2500), D(4)),
    ]
    guard = ExitGuard(
        side,
        D(10),
        D(65500),
        D(65500 - sign * 1000),
        legs,
        TICK,
        break_even=BreakEvenRule(after_take_profit=1),
        trailing=TrailingStop(D(1), D(65500 + sign * 2000)),
    )
    in_flight: list[tuple[int, Close]] = []  # (updates until its fill comes back, close)
    asked = D(0)
    for step, price in enumerate(path):
        stop_before = guard.stop
        intents = guard.on_price(price)
        for intent in intents:
            if isinstance(intent, Close):
                asked += intent.quantity
                in_flight.append((delays[step], intent))
        assert tighter(side, stop_before, guard.stop) == guard.stop, "the stop loosened"
        assert sum((c.quantity for _, c in in_flight), D(0)) <= guard.held
        still: list[tuple[int, Close]] = []
        for wait, close in in_flight:
            if wait > 0:
                still.append((wait - 1, close))
                continue
            filled = (close.quantity * fills[step] / 100).to_integral_value(rounding="ROUND_DOWN")
            stop_before = guard.stop
            for intent in guard.on_closed(close, filled):
                if isinstance(intent, Close):
                    still.append((0, intent))
            assert tighter(side, stop_before, guard.stop) == guard.stop
        in_flight = still
        assert guard.held >= 0
        assert guard.closing == sum((c.quantity for _, c in in_flight), D(0))
        assert guard.closing <= guard.held
