"""Break-even and trailing-stop levels: on the grid on the trader's side, activated at the
right price, and a stop that never loosens whatever path the price takes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.stop_rules import (
    TrailingStop,
    break_even_level,
    moved_in_favour,
    tighter,
)
from zoneguard.domain.values import Side

D = Decimal
TICK = D("0.1")


def test_tighter_is_higher_for_a_long_and_lower_for_a_short() -> None:
    assert tighter(Side.LONG, D(100), D(101)) == D(101)
    assert tighter(Side.LONG, D(100), D(99)) == D(100)
    assert tighter(Side.SHORT, D(100), D(99)) == D(99)
    assert tighter(Side.SHORT, D(100), D(101)) == D(100)
    assert tighter(Side.SHORT, None, D(101)) == D(101)


def test_break_even_covers_its_offset_on_the_grid() -> None:
    # 65000 + 0.1 % = 65065 exactly; 65001 + 0.1 % = 65066.001 -> up to 65066.1 (long)
    assert break_even_level(Side.LONG, D(65000), D("0.1"), TICK) == D("65065.0")
    assert break_even_level(Side.LONG, D(65001), D("0.1"), TICK) == D("65066.1")
    # short: 65001 - 0.1 % = 64935.999 -> down to 64935.9
    assert break_even_level(Side.SHORT, D(65001), D("0.1"), TICK) == D("64935.9")
    assert break_even_level(Side.LONG, D(65000), D(0), TICK) == D("65000.0")


@pytest.mark.parametrize(
    ("side", "price", "due"),
    [
        (Side.LONG, "65650", True),  # exactly +1 %
        (Side.LONG, "65649.9", False),
        (Side.SHORT, "64350", True),  # exactly -1 %
        (Side.SHORT, "64350.1", False),
    ],
)
def test_moved_in_favour_by_a_percent(side: Side, price: str, due: bool) -> None:
    assert moved_in_favour(side, D(65000), D(price), D(1)) is due


def test_a_trailing_stop_activates_then_follows_the_best_price() -> None:
    trail = TrailingStop(callback_percent=D(1), activation_price=D(66000))
    trail = trail.seen(Side.LONG, D(65900))
    assert not trail.active and trail.level(Side.LONG, TICK) is None
    trail = trail.seen(Side.LONG, D(66000))
    assert trail.active and trail.level(Side.LONG, TICK) == D("65340.0")
    trail = trail.seen(Side.LONG, D(67000)).seen(Side.LONG, D(66500))
    assert trail.best == D(67000)
    assert trail.level(Side.LONG, TICK) == D("66330.0")


def test_a_short_trailing_stop_from_an_activation_percent() -> None:
    trail = TrailingStop.from_percent(Side.SHORT, D(65000), D(2), D("0.5"))
    assert trail.activation_price == D(63700)
    trail = trail.seen(Side.SHORT, D(63800))
    assert not trail.active
    trail = trail.seen(Side.SHORT, D(63001)).seen(Side.SHORT, D(63500))
    # 63001 + 0.5 % = 63316.005 -> up to 63316.1: at least the promised distance
    assert trail.level(Side.SHORT, TICK) == D("63316.1")


prices = st.lists(
    st.integers(60_000_0, 70_000_0).map(lambda tenths: D(tenths) / 10), min_size=1, max_size=80
)


@given(
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    path=prices,
    callback=st.sampled_from([D("0.1"), D("0.5"), D(1), D("2.5")]),
    activation=st.integers(60_000, 70_000).map(D),
)
def test_the_trailing_stop_never_loosens_and_keeps_its_distance(
    side: Side, path: list[Decimal], callback: Decimal, activation: Decimal
) -> None:
    trail = TrailingStop(callback, activation)
    last: Decimal | None = None
    for price in path:
        trail = trail.seen(side, price)
        level = trail.level(side, TICK)
        if level is None:
            assert last is None, "a trailing stop went back to inactive"
            continue
        if last is not None:
            assert tighter(side, last, level) == level, f"loosened from {last} to {level}"
        last = level
        assert trail.best is not None
        distance = abs(trail.best - level) / trail.best * 100
        assert distance >= callback, (trail.best, level)
        assert distance < callback + TICK / trail.best * 100 + D("1e-20")
        assert level % TICK == 0
