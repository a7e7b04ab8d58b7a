"""Maker entry prices rest inside the zone without crossing; slippage has the right sign."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.pricing import maker_entry_price, slippage_percent, take_profit_limit
from zoneguard.domain.values import Side

D = Decimal
TICK = D("0.1")


def long_price(
    last: str, bid: str | None, ask: str | None, low: str = "65000", high: str = "65500"
) -> Decimal | None:
    return maker_entry_price(
        Side.LONG,
        D(low),
        D(high),
        D(last),
        None if bid is None else D(bid),
        None if ask is None else D(ask),
        TICK,
    )


def short_price(
    last: str, bid: str | None, ask: str | None, low: str = "65000", high: str = "65500"
) -> Decimal | None:
    return maker_entry_price(
        Side.SHORT,
        D(low),
        D(high),
        D(last),
        None if bid is None else D(bid),
        None if ask is None else D(ask),
        TICK,
    )


def test_long_rests_one_tick_under_the_ask() -> None:
    assert long_price("65250.2", bid="65249.0", ask="65250.3") == D("65250.2")


def test_long_joins_the_bid_on_a_one_tick_spread() -> None:
    assert long_price("65250", bid="65250.0", ask="65250.1") == D("65250.0")


def test_long_without_ask_uses_the_bid_then_last() -> None:
    assert long_price("65300", bid="65250.0", ask=None) == D("65250.0")
    assert long_price("65300", bid=None, ask=None) == D("65299.9")


def test_long_is_capped_at_the_zone_top() -> None:
    assert long_price("65600", bid="65599.9", ask="65600.0") == D("65500")


def test_long_rounds_down_to_the_tick() -> None:
    assert long_price("65250.37", bid=None, ask="65250.37") == D("65250.3")
    assert long_price("65300", bid="65250.06", ask=None) == D("65250.0")
    assert long_price("65600", bid=None, ask="65600", high="65499.95") == D("65499.9")


def test_long_below_the_zone_has_no_price() -> None:
    assert long_price("64999", bid="64998.9", ask="64999.0") is None
    assert long_price("65000", bid=None, ask="65000.0") is None  # 64999.9 is outside


def test_long_zone_narrower_than_a_tick_has_no_price() -> None:
    assert long_price("65600", bid=None, ask="65600", low="65000.01", high="65000.09") is None


def test_short_is_mirrored() -> None:
    assert short_price("65250", bid="65250.0", ask="65250.1") == D("65250.1")
    assert short_price("65250", bid="65249.0", ask="65252.0") == D("65249.1")
    assert short_price("65200", bid=None, ask="65250.0") == D("65250.0")
    assert short_price("65200", bid=None, ask=None) == D("65200.1")
    assert short_price("64000", bid="63999.9", ask="64000.0") == D("65000")  # floored
    assert short_price("65600", bid="65600.0", ask="65600.1") is None  # above the zone
    assert short_price("65000", bid="65000.01", ask=None) == D("65000.1")  # rounded UP


_price = st.decimals(min_value=D(100), max_value=D(200), places=2)


@given(
    side=st.sampled_from(Side),
    a=_price,
    b=_price,
    mid=_price,
    spread_ticks=st.integers(1, 20),
    tick=st.sampled_from([D("0.1"), D("0.01"), D("0.5")]),
)
def test_a_maker_price_never_crosses_and_stays_in_the_zone(
    side: Side, a: Decimal, b: Decimal, mid: Decimal, spread_ticks: int, tick: Decimal
) -> None:
    low, high = min(a, b), max(a, b)
    bid = mid
    ask = mid + spread_ticks * tick
    price = maker_entry_price(side, low, high, mid, bid, ask, tick)
    if price is None:
        # Nothing on the grid between the zone and the book edge on our side.
        candidates = [low + i * D("0.01") for i in range(int((high - low) / D("0.01")) + 1)]
        on_grid = [c for c in candidates if c % tick == 0]
        if side is Side.LONG:
            assert not [c for c in on_grid if c < ask]
        else:
            assert not [c for c in on_grid if c > bid]
        return
    assert low <= price <= high
    assert price % tick == 0
    if side is Side.LONG:
        assert price < ask
        assert price + tick >= ask or price + tick > high  # as high as allowed
    else:
        assert price > bid
        assert price - tick <= bid or price - tick < low  # as low as allowed


@pytest.mark.parametrize(
    ("side", "closing", "expected", "actual", "slip"),
    [
        (Side.LONG, True, "68000", "67932", "0.1"),  # sold lower: worse
        (Side.LONG, True, "68000", "68068", "-0.1"),  # sold higher: better
        (Side.SHORT, True, "64000", "64032", "0.05"),  # bought back higher: worse
        (Side.SHORT, True, "64000", "63968", "-0.05"),
        (Side.LONG, False, "65000", "65065", "0.1"),  # bought higher on entry: worse
        (Side.SHORT, False, "65000", "65065", "-0.1"),  # sold higher on entry: better
        (Side.LONG, True, "100", "100", "0"),
    ],
)
def test_slippage_sign(side: Side, closing: bool, expected: str, actual: str, slip: str) -> None:
    assert slippage_percent(side, D(expected), D(actual), closing=closing) == D(slip)


def test_slippage_defaults_to_a_close() -> None:
    assert slippage_percent(Side.LONG, D(100), D(99)) == D(1)


def test_slippage_needs_a_positive_expected_price() -> None:
    with pytest.raises(ValueError, match="positive"):
        slippage_percent(Side.LONG, D(0), D(1))


# -- take-profit limit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "level", "tolerance", "limit"),
    [
        (Side.LONG, "68000", "0.05", "67966.0"),  # sells: level less 0.05 %
        (Side.SHORT, "50000", "0.05", "50025.0"),  # buys: level plus 0.05 %
        (Side.LONG, "68000", "0", "68000.0"),
        (Side.LONG, "68000.3", "0.05", "67966.3"),  # 67966.29985 rounds up, toward the level
        (Side.SHORT, "50000.3", "0.05", "50025.3"),  # 50025.30015 rounds down
    ],
)
def test_take_profit_limit(side: Side, level: str, tolerance: str, limit: str) -> None:
    assert take_profit_limit(side, D(level), D(tolerance), D("0.1")) == D(limit)


@given(
    level=st.decimals(D("0.01"), D("1000000"), places=2),
    tolerance=st.decimals(D("0"), D("5"), places=3),
    side=st.sampled_from(Side),
)
def test_take_profit_limit_never_worse_than_the_tolerance(
    level: Decimal, tolerance: Decimal, side: Side
) -> None:
    limit = take_profit_limit(side, level, tolerance, D("0.01"))
    assert slippage_percent(side, level, limit) <= tolerance  # never worse than allowed
    assert abs(
        limit - level * (1 - tolerance / 100 if side is Side.LONG else 1 + tolerance / 100)
    ) < D("0.01")


def test_take_profit_limit_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="level"):
        take_profit_limit(Side.LONG, D(0), D("0.05"), D("0.1"))
    with pytest.raises(ValueError, match="tolerance_percent"):
        take_profit_limit(Side.LONG, D(68000), D(-1), D("0.1"))
