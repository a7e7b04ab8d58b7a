"""A fill shared among legs in whole lots: the seed's 50/50 ladder, rounding down with the
rest on the last leg, legs below one lot merged forward, and the sum always the fill."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.legs import check_percents, split_in_lots

D = Decimal
ONE = D(1)


def split(filled: str, *percents: str, lot: str = "1") -> list[Decimal]:
    return split_in_lots(D(filled), [D(p) for p in percents], D(lot))


def test_the_seeds_ladder_halves_the_fill() -> None:
    assert split("10", "50", "50") == [D(5), D(5)]


def test_shares_round_down_and_the_last_leg_takes_the_rest() -> None:
    assert split("10", "33.33", "33.33", "33.34") == [D(3), D(3), D(4)]
    assert split("7", "50", "50") == [D(3), D(4)]


def test_a_leg_below_one_lot_merges_into_the_next() -> None:
    assert split("10", "5", "5", "90") == [D(0), D(1), D(9)]
    assert split("3", "10", "10", "80") == [D(0), D(0), D(3)]


def test_lots_larger_than_one_contract() -> None:
    assert split("30", "50", "50", lot="10") == [D(10), D(20)]


def test_one_leg_takes_everything() -> None:
    assert split("13", "100") == [D(13)]


@pytest.mark.parametrize(
    ("percents", "message"),
    [
        ([], "at least one leg"),
        ([D(50), D(40)], "add up to 90"),
        ([D(50), D(0), D(50)], r"legs\[1\].size_percent must be above 0"),
        ([D(110), D(-10)], r"legs\[1\].size_percent must be above 0"),
        ([D("33.3"), D("33.3"), D("33.3")], "add up to 99.9"),
    ],
)
def test_percents_must_be_positive_and_add_up_to_100(percents: list[Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_percents(percents, "legs")


def test_a_fill_off_the_lot_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="not a whole number of lots"):
        split("15", "50", "50", lot="10")


percent_lists = st.lists(st.integers(1, 10_000), min_size=1, max_size=8).map(
    lambda weights: _as_percents(weights)
)


def _as_percents(weights: list[int]) -> list[Decimal]:
    """Positive percents with two decimals that add up to exactly 100."""
    total = sum(weights)
    cents = [max(1, w * 10_000 // total) for w in weights]
    cents[-1] += 10_000 - sum(cents)
    if cents[-1] <= 0:  # the floor of 1 cent overshot: fall back to equal-ish legs
        cents = [10_000 // len(weights)] * len(weights)
        cents[-1] += 10_000 - sum(cents)
    return [D(c) / 100 for c in cents]


@given(
    lots=st.integers(0, 100_000),
    lot=st.sampled_from([ONE, D(10), D("0.001")]),
    percents=percent_lists,
)
def test_legs_add_up_to_the_fill_never_more(
    lots: int, lot: Decimal, percents: list[Decimal]
) -> None:
    filled = lot * lots
    sizes = split_in_lots(filled, percents, lot)
    assert len(sizes) == len(percents)
    assert sum(sizes, D(0)) == filled
    for size in sizes:
        assert size >= 0
        assert size % lot == 0, (size, lot)
    # Never ahead of the plan: up to any leg but the last, no more closes than its
    # percent of the fill says (the rounding is always down, the rest waits for later legs).
    closed = D(0)
    planned = D(0)
    for size, percent in zip(sizes[:-1], percents[:-1], strict=True):
        closed += size
        planned += percent
        assert closed <= filled * planned / 100


@given(lots=st.integers(1, 100_000), percents=percent_lists)
def test_each_leg_but_merged_ones_gets_at_least_a_lot_and_the_last_never_nothing(
    lots: int, percents: list[Decimal]
) -> None:
    sizes = split_in_lots(D(lots), percents, ONE)
    assert sizes[-1] >= 1
    assert all(size == 0 or size >= 1 for size in sizes)
