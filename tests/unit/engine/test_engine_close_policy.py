"""Which close the engine sends: a take-profit's limit IOC first, everything else at
market; a refused or short IOC goes at market at once; market refusals are retried (a
rung gives up after a few, the stop still guarding)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.values import Side
from zoneguard.engine.close_policy import (
    RUNG_REFUSALS,
    NextClose,
    after_fill,
    after_refusal,
    first_close_limit,
)

D = Decimal


def test_a_take_profit_closes_with_a_limit_no_worse_than_its_tolerance() -> None:
    assert first_close_limit("take_profit", Side.LONG, D(100), D(1), D("0.1")) == D(99)
    assert first_close_limit("take_profit", Side.SHORT, D(100), D(1), D("0.1")) == D(101)


@pytest.mark.parametrize("reason", ["stop_loss", "break_even", "trailing_stop", "manual"])
def test_stops_and_manual_closes_go_at_market(reason: str) -> None:
    assert first_close_limit(reason, Side.LONG, D(100), D(1), D("0.1")) is None


def test_without_the_tick_or_the_target_a_take_profit_goes_at_market() -> None:
    assert first_close_limit("take_profit", Side.LONG, D(100), D(1), None) is None
    assert first_close_limit("take_profit", Side.LONG, None, D(1), D("0.1")) is None


def test_a_refused_limit_goes_at_market_at_once() -> None:
    assert after_refusal(limited=True, refusals=0) is NextClose.MARKET_NOW
    assert after_refusal(limited=True, refusals=0, limit=RUNG_REFUSALS) is NextClose.MARKET_NOW


def test_market_refusals_are_retried_forever_for_the_position_and_a_few_times_for_a_rung() -> None:
    assert after_refusal(limited=False, refusals=50) is NextClose.RETRY_LATER
    assert after_refusal(limited=False, refusals=1, limit=RUNG_REFUSALS) is NextClose.RETRY_LATER
    assert after_refusal(limited=False, refusals=RUNG_REFUSALS, limit=RUNG_REFUSALS) is (
        NextClose.GIVE_UP
    )


def test_an_ioc_rest_goes_at_market_a_market_close_is_settled() -> None:
    assert after_fill(limited=True, sent_for=D(10), filled=D(4)) is NextClose.MARKET_NOW
    assert after_fill(limited=True, sent_for=D(10), filled=D(10)) is NextClose.DONE
    assert after_fill(limited=False, sent_for=D(10), filled=D(4)) is NextClose.DONE
    with pytest.raises(ValueError, match="outside"):
        after_fill(limited=True, sent_for=D(10), filled=D(11))


@given(
    st.sampled_from([Side.LONG, Side.SHORT]),
    st.integers(1, 10**6),
    st.decimals(D(0), D("5"), places=2),
    st.sampled_from([D("0.1"), D("0.01"), D(1)]),
)
def test_the_limit_never_gives_away_more_than_the_tolerance(
    side: Side, target: int, tolerance: Decimal, tick: Decimal
) -> None:
    level = D(target) * tick
    limit = first_close_limit("take_profit", side, level, tolerance, tick)
    assert limit is not None
    worst = level * (1 - tolerance / 100) if side is Side.LONG else level * (1 + tolerance / 100)
    if side is Side.LONG:
        assert worst <= limit <= level
    else:
        assert level <= limit <= worst
