"""Several entry zones (pyramiding): each zone enters once, sizes in whole lots that add up
to the signal's quantity, the size-weighted average entry, and the deadline."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.engine.entries import EntryLadder, ZoneSpec
from zoneguard.engine.intents import CancelEntry, PlaceEntry

D = Decimal
ONE = D(1)


def two_zones(quantity: str = "10") -> EntryLadder:
    """A long entering 60 % in [65000, 65500] and 40 % lower, in [64000, 64500]."""
    zones = [ZoneSpec(D(65000), D(65500), D(60)), ZoneSpec(D(64000), D(64500), D(40))]
    return EntryLadder(zones, D(quantity), ONE)


def test_each_zone_places_its_own_entry_once() -> None:
    ladder = two_zones()
    assert ladder.on_price(D(66000)) == []
    assert ladder.on_price(D(65400)) == [PlaceEntry(1, D(6))]
    assert ladder.on_price(D(65300)) == [], "zone 1 entered once"
    assert ladder.on_price(D(64500)) == [PlaceEntry(2, D(4))]


def test_the_entry_is_the_size_weighted_average_of_the_fills() -> None:
    ladder = two_zones()
    ladder.on_price(D(65400))
    ladder.on_fill(1, D(6), D(65400), final=True)
    assert ladder.average_entry == D(65400)
    ladder.on_price(D(64200))
    ladder.on_fill(2, D(2), D(64200), final=False)
    assert ladder.filled == D(8)
    assert ladder.average_entry == D(65100)  # (6 x 65400 + 2 x 64200) / 8
    assert not ladder.finished


def test_the_deadline_cancels_what_works_and_drops_what_was_never_entered() -> None:
    ladder = two_zones()
    ladder.on_price(D(65400))
    ladder.on_fill(1, D(3), D(65400), final=False)
    assert ladder.on_deadline() == [CancelEntry(1)]
    assert ladder.on_price(D(64200)) == [], "nothing enters after the deadline"
    ladder.on_fill(1, D(3), D(65400), final=True)  # the rest cancelled
    assert ladder.finished
    assert ladder.filled == D(3)


def test_a_zone_below_one_lot_merges_into_the_next() -> None:
    zones = [ZoneSpec(D(100), D(110), D(5)), ZoneSpec(D(90), D(95), D(95))]
    ladder = EntryLadder(zones, D(10), ONE)
    assert ladder.on_price(D(105)) == [], "zone 1 holds no lot: its share went to zone 2"
    assert ladder.on_price(D(92)) == [PlaceEntry(2, D(10))]


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="above its high"):
        ZoneSpec(D(2), D(1), D(100))
    ladder = two_zones()
    ladder.on_price(D(65400))
    with pytest.raises(ValueError, match="outside"):
        ladder.on_fill(1, D(7), D(65400), final=False)
    ladder.on_fill(1, D(4), D(65400), final=False)
    with pytest.raises(ValueError, match="outside"):
        ladder.on_fill(1, D(3), D(65400), final=False)  # fills never go back


@given(
    quantity=st.integers(1, 10_000),
    weights=st.lists(st.integers(1, 100), min_size=1, max_size=5),
    path=st.lists(st.integers(90, 130).map(D), min_size=1, max_size=40),
)
def test_zones_never_ask_for_more_than_the_signal(
    quantity: int, weights: list[int], path: list[Decimal]
) -> None:
    total = sum(weights)
    percents = [D(w * 100) / total for w in weights]
    percents[-1] = D(100) - sum(percents[:-1], D(0))
    zones = [ZoneSpec(D(125 - 8 * i), D(128 - 8 * i), p) for i, p in enumerate(percents)]
    ladder = EntryLadder(zones, D(quantity), ONE)
    assert sum((zone.size for zone in ladder.zones), D(0)) == quantity
    asked = D(0)
    for price in path:
        for intent in ladder.on_price(price):
            asked += intent.quantity
            ladder.on_fill(intent.zone_index, intent.quantity, price, final=True)
    assert asked <= quantity
    assert ladder.filled == asked
    if asked:
        average = ladder.average_entry
        assert average is not None
        assert min(path) <= average <= max(path)


def test_enter_asks_for_a_zone_once_and_not_after_entries_stopped() -> None:
    ladder = two_zones()
    assert ladder.enter(2) == PlaceEntry(2, D(4))
    assert ladder.enter(2) is None, "asked for already"
    ladder.on_deadline()
    assert ladder.enter(1) is None, "entries have stopped"


def test_a_refused_entry_waits_for_its_zone_again_unless_entries_stopped() -> None:
    ladder = two_zones()
    ladder.enter(1)
    ladder.on_refused(1)
    assert ladder.enter(1) == PlaceEntry(1, D(6)), "the zone may place again"
    ladder.on_fill(1, D(2), D(65400), final=False)
    ladder.on_refused(1)
    assert ladder.enter(1) is None, "a zone that filled something never places twice"
    ladder.enter(2)
    ladder.on_deadline()
    ladder.on_refused(2)
    assert ladder.zones[1].over and ladder.enter(2) is None


def test_a_zone_given_up_is_over_with_what_it_filled() -> None:
    ladder = two_zones()
    ladder.enter(2)
    ladder.give_up(2)
    assert ladder.zones[1].over and ladder.enter(2) is None
    assert ladder.filled == 0


def test_a_snapshot_restores_every_zone_and_whether_entries_stopped() -> None:
    ladder = two_zones()
    ladder.enter(1)
    ladder.on_fill(1, D(6), D("65400.5"), final=True)
    ladder.enter(2)
    ladder.on_fill(2, D(1), D(64200), final=False)
    saved = ladder.snapshot()
    zones = [ZoneSpec(D(65000), D(65500), D(60)), ZoneSpec(D(64000), D(64500), D(40))]
    again = EntryLadder.restored(zones, saved)
    assert again.snapshot() == saved
    assert (again.filled, again.average_entry) == (ladder.filled, ladder.average_entry)
    ladder.on_deadline()
    assert EntryLadder.restored(zones, ladder.snapshot()).expired
