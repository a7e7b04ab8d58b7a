"""The trigger index against a brute-force scan, plus its edge cases and its cost bound."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from zoneguard.domain.triggers import (
    Guard,
    GuardHit,
    GuardReason,
    SymbolTriggers,
    TriggerIndex,
)
from zoneguard.domain.values import Side

D = Decimal
SL = GuardReason.STOP_LOSS
TP = GuardReason.TAKE_PROFIT


# ------------------------------------------------------------------ brute force


def brute_entries(zones: dict[str, tuple[Decimal, Decimal]], price: Decimal) -> set[str]:
    return {oid for oid, (low, high) in zones.items() if low <= price <= high}


def brute_guards(guards: dict[str, Guard], price: Decimal) -> set[GuardHit]:
    hits: set[GuardHit] = set()
    for pid, guard in guards.items():
        long = guard.side is Side.LONG
        sl, tp = guard.stop_loss, guard.take_profit
        sl_hit = sl is not None and (price <= sl if long else price >= sl)
        tp_hit = tp is not None and (price >= tp if long else price <= tp)
        if sl_hit:
            assert sl is not None
            hits.add(GuardHit(pid, SL, sl))
        elif tp_hit:
            assert tp is not None
            hits.add(GuardHit(pid, TP, tp))
    return hits


# ------------------------------------------------------------------ edge cases


def test_price_exactly_on_either_boundary_is_inside() -> None:
    t = SymbolTriggers()
    t.add_entry("z", D(100), D(110))
    assert t.entries_at(D("99.9")) == []
    assert t.entries_at(D(100)) == ["z"]
    assert t.entries_at(D(110)) == ["z"]
    assert t.entries_at(D("110.1")) == []
    assert t.entries_at(D(110)) == ["z"]  # coming back down onto the upper edge
    assert t.entries_at(D(100)) == ["z"]
    assert t.entries_at(D("99.99")) == []


def test_zone_of_zero_width() -> None:
    t = SymbolTriggers()
    t.add_entry("point", D(100), D(100))
    assert t.entries_at(D("99.9")) == []
    assert t.entries_at(D(100)) == ["point"]
    assert t.entries_at(D("100.0")) == ["point"]  # same value, other spelling
    assert t.entries_at(D("100.1")) == []
    assert t.entries_at(D(100)) == ["point"]


@pytest.mark.parametrize(("start", "end"), [(D(90), D(120)), (D(120), D(90))])
def test_jump_across_a_zone_does_not_trigger_it(start: Decimal, end: Decimal) -> None:
    t = SymbolTriggers()
    t.add_entry("z", D(100), D(110))
    assert t.entries_at(start) == []
    assert t.entries_at(end) == []
    assert t.entries_at(D(105)) == ["z"]  # and it is still found from the other side


def test_removal_of_a_contained_zone() -> None:
    t = SymbolTriggers()
    t.add_entry("a", D(100), D(110))
    t.add_entry("b", D(95), D(105))
    assert sorted(t.entries_at(D(102))) == ["a", "b"]
    assert t.remove_entry("a") is True
    assert t.entries_at(D(102)) == ["b"]
    assert t.remove_entry("a") is False
    assert t.entries_at(D(108)) == []
    assert not t.has_entry("a")
    assert t.entry_count == 1


def test_removal_from_each_side() -> None:
    t = SymbolTriggers()
    t.add_entry("low", D(10), D(20))
    t.add_entry("high", D(200), D(300))
    t.entries_at(D(100))
    assert t.remove_entry("low")
    assert t.remove_entry("high")
    assert t.entries_at(D(15)) == []
    assert t.entries_at(D(250)) == []
    assert t.entry_count == 0


def test_zones_added_before_any_price_are_found() -> None:
    t = SymbolTriggers()
    t.add_entry("a", D(100), D(110))
    t.add_entry("b", D(50), D(60))
    assert t.entries_at(D(55)) == ["b"]


def test_zone_added_around_the_current_price_is_inside_at_once() -> None:
    t = SymbolTriggers()
    t.entries_at(D(105))
    t.add_entry("a", D(100), D(110))
    assert t.entries_at(D(105)) == ["a"]


def test_readding_an_id_replaces_its_zone() -> None:
    t = SymbolTriggers()
    t.add_entry("a", D(100), D(110))
    assert t.entries_at(D(105)) == ["a"]
    t.add_entry("a", D(200), D(210))
    assert t.entries_at(D(105)) == []
    assert t.entries_at(D(205)) == ["a"]
    assert t.entry_zone("a") == (D(200), D(210))
    assert t.entry_count == 1


def test_equal_bounds_across_many_ids() -> None:
    t = SymbolTriggers()
    for i in range(50):
        t.add_entry(f"o{i}", D(100), D(110))
    assert len(t.entries_at(D(100))) == 50
    for i in range(0, 50, 2):
        t.remove_entry(f"o{i}")
    assert sorted(t.entries_at(D(111))) == []
    assert sorted(t.entries_at(D(110)), key=lambda s: int(s[1:])) == [
        f"o{i}" for i in range(1, 50, 2)
    ]


def test_queries_do_not_remove() -> None:
    t = SymbolTriggers()
    t.add_entry("a", D(100), D(110))
    t.add_guard("p", Side.LONG, D(90), None)
    for _ in range(3):
        assert t.entries_at(D(105)) == ["a"]
        assert t.guards_at(D(80)) == [GuardHit("p", SL, D(90))]


def test_bad_inputs_are_refused_without_changing_state() -> None:
    t = SymbolTriggers()
    with pytest.raises(ValueError, match="above"):
        t.add_entry("a", D(110), D(100))
    with pytest.raises(ValueError, match="finite"):
        t.add_entry("a", D("NaN"), D(100))
    with pytest.raises(ValueError, match="finite"):
        t.add_guard("p", Side.LONG, D("Infinity"), None)
    t.add_entry("b", D(100), D(110))
    t.entries_at(D(105))
    for bad in (D("NaN"), D("Infinity"), D("-Infinity"), D("sNaN")):
        with pytest.raises(ValueError, match="finite"):
            t.entries_at(bad)
        with pytest.raises(ValueError, match="finite"):
            t.guards_at(bad)
    assert t.entries_at(D(105)) == ["b"]
    assert not t.has_entry("a")
    assert not t.has_guard("p")


def test_long_guard_levels_fire_inclusively() -> None:
    t = SymbolTriggers()
    t.add_guard("p", Side.LONG, stop_loss=D(95), take_profit=D(120))
    assert t.guards_at(D("95.1")) == []
    assert t.guards_at(D(95)) == [GuardHit("p", SL, D(95))]
    assert t.guards_at(D(90)) == [GuardHit("p", SL, D(95))]
    assert t.guards_at(D("119.9")) == []
    assert t.guards_at(D(120)) == [GuardHit("p", TP, D(120))]
    assert t.guards_at(D(130)) == [GuardHit("p", TP, D(120))]


def test_short_guard_levels_are_mirrored() -> None:
    t = SymbolTriggers()
    t.add_guard("s", Side.SHORT, stop_loss=D(120), take_profit=D(95))
    assert t.guards_at(D(100)) == []
    assert t.guards_at(D(120)) == [GuardHit("s", SL, D(120))]
    assert t.guards_at(D(95)) == [GuardHit("s", TP, D(95))]
    assert t.guards_at(D(10)) == [GuardHit("s", TP, D(95))]


def test_stop_loss_wins_when_both_levels_are_crossed() -> None:
    t = SymbolTriggers()
    # Inverted levels (not a sane plan, but the index must still prefer the stop).
    t.add_guard("long", Side.LONG, stop_loss=D(110), take_profit=D(100))
    t.add_guard("short", Side.SHORT, stop_loss=D(100), take_profit=D(110))
    assert set(t.guards_at(D(105))) == {
        GuardHit("long", SL, D(110)),
        GuardHit("short", SL, D(100)),
    }


def test_stop_loss_hits_come_first() -> None:
    t = SymbolTriggers()
    t.add_guard("tp-first-added", Side.SHORT, stop_loss=None, take_profit=D(100))
    t.add_guard("sl", Side.LONG, stop_loss=D(100), take_profit=None)
    hits = t.guards_at(D(99))
    assert [hit.reason for hit in hits] == [SL, TP]


def test_guard_without_levels_never_fires() -> None:
    t = SymbolTriggers()
    t.add_guard("p", Side.LONG, None, None)
    assert t.has_guard("p")
    assert t.guards_at(D(1)) == []
    assert t.guards_at(D(10**9)) == []


def test_update_guard_moves_one_level_and_keeps_the_other() -> None:
    t = SymbolTriggers()
    t.add_guard("p", Side.LONG, stop_loss=D(90), take_profit=D(120))
    moved = t.update_guard("p", stop_loss=D(100))  # break-even
    assert moved == Guard(Side.LONG, D(100), D(120))
    assert t.guards_at(D(95)) == [GuardHit("p", SL, D(100))]
    t.update_guard("p", take_profit=None)
    assert t.guards_at(D(200)) == []
    assert t.guard("p") == Guard(Side.LONG, D(100), None)
    with pytest.raises(KeyError):
        t.update_guard("nobody", stop_loss=D(1))


def test_guard_removal_and_replacement() -> None:
    t = SymbolTriggers()
    t.add_guard("p", Side.LONG, D(90), D(120))
    t.add_guard("p", Side.SHORT, D(130), D(80))  # replaces, does not add
    assert t.guard_count == 1
    assert t.guards_at(D(90)) == []
    assert t.guards_at(D(130)) == [GuardHit("p", SL, D(130))]
    assert t.remove_guard("p") is True
    assert t.remove_guard("p") is False
    assert t.guards_at(D(130)) == []


def test_trigger_index_keeps_symbols_apart() -> None:
    index = TriggerIndex()
    assert index.get("BTCUSDT") is None
    btc = index.for_symbol("BTCUSDT")
    assert index.for_symbol("BTCUSDT") is btc
    index.for_symbol("ETHUSDT").add_entry("e", D(3000), D(3100))
    btc.add_entry("b", D(60000), D(61000))
    assert btc.entries_at(D(3050)) == []
    assert index.for_symbol("ETHUSDT").entries_at(D(3050)) == ["e"]
    assert set(index.symbols()) == {"BTCUSDT", "ETHUSDT"}


class _CountingDecimal(Decimal):
    """A Decimal that counts how often it is compared, to bound the work per update."""

    comparisons = 0

    def __lt__(self, other: object) -> bool:
        _CountingDecimal.comparisons += 1
        return super().__lt__(other)  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        _CountingDecimal.comparisons += 1
        return super().__le__(other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        _CountingDecimal.comparisons += 1
        return super().__gt__(other)  # type: ignore[operator]

    def __ge__(self, other: object) -> bool:
        _CountingDecimal.comparisons += 1
        return super().__ge__(other)  # type: ignore[operator]


@pytest.mark.parametrize("count", [10, 10_000])
def test_an_update_that_crosses_nothing_does_constant_work(count: int) -> None:
    """Not O(n): with n zones and guards far from the price, a price move compares the
    price a fixed number of times, whatever n is."""
    t = SymbolTriggers()
    for i in range(count):
        t.add_entry(f"lo{i}", D(1000 + i), D(1001 + i))
        t.add_entry(f"hi{i}", D(50_000 + i), D(50_001 + i))
        t.add_guard(f"p{i}", Side.LONG, D(500 + i), D(90_000 + i))
    t.entries_at(D(20_000))
    _CountingDecimal.comparisons = 0
    for step in range(100):
        price = _CountingDecimal(20_000 + step)
        assert t.entries_at(price) == []
        assert t.guards_at(price) == []
    # A few comparisons per update, counted whichever operand side Python dispatches to.
    assert _CountingDecimal.comparisons <= 100 * 6


# ------------------------------------------------------- stateful vs brute force

_LEVEL = st.integers(0, 40).map(lambda i: D(i) / 2)  # 0 .. 20 in halves: many exact ties
_IDS = st.sampled_from([f"id{i}" for i in range(12)])


class TriggerMachine(RuleBasedStateMachine):
    """Random interleavings of adds, removes, updates and price queries; every query must
    equal the brute-force answer over everything currently live."""

    entry_ids = Bundle("entry_ids")
    guard_ids = Bundle("guard_ids")

    def __init__(self) -> None:
        super().__init__()
        self.triggers = SymbolTriggers()
        self.zones: dict[str, tuple[Decimal, Decimal]] = {}
        self.guards: dict[str, Guard] = {}

    @rule(target=entry_ids, order_id=_IDS, a=_LEVEL, b=_LEVEL)
    def add_entry(self, order_id: str, a: Decimal, b: Decimal) -> str:
        low, high = min(a, b), max(a, b)
        self.triggers.add_entry(order_id, low, high)
        self.zones[order_id] = (low, high)
        return order_id

    @rule(order_id=consumes(entry_ids))
    def remove_entry(self, order_id: str) -> None:
        assert self.triggers.remove_entry(order_id) == (order_id in self.zones)
        self.zones.pop(order_id, None)

    @rule(order_id=_IDS)
    def remove_maybe_unknown_entry(self, order_id: str) -> None:
        assert self.triggers.remove_entry(order_id) == (order_id in self.zones)
        self.zones.pop(order_id, None)

    @rule(
        target=guard_ids,
        position_id=_IDS,
        side=st.sampled_from(Side),
        sl=st.none() | _LEVEL,
        tp=st.none() | _LEVEL,
    )
    def add_guard(
        self, position_id: str, side: Side, sl: Decimal | None, tp: Decimal | None
    ) -> str:
        self.triggers.add_guard(position_id, side, sl, tp)
        self.guards[position_id] = Guard(side, sl, tp)
        return position_id

    @precondition(lambda self: bool(self.guards))
    @rule(
        position_id=guard_ids,
        new_sl=st.none() | _LEVEL,
        move_tp=st.booleans(),
        new_tp=st.none() | _LEVEL,
    )
    def update_guard(
        self,
        position_id: str,
        new_sl: Decimal | None,
        move_tp: bool,
        new_tp: Decimal | None,
    ) -> None:
        if position_id not in self.guards:
            with pytest.raises(KeyError):
                self.triggers.update_guard(position_id, stop_loss=new_sl)
            return
        old = self.guards[position_id]
        if move_tp:
            self.triggers.update_guard(position_id, stop_loss=new_sl, take_profit=new_tp)
            self.guards[position_id] = Guard(old.side, new_sl, new_tp)
        else:
            self.triggers.update_guard(position_id, stop_loss=new_sl)
            self.guards[position_id] = Guard(old.side, new_sl, old.take_profit)

    @rule(position_id=consumes(guard_ids))
    def remove_guard(self, position_id: str) -> None:
        assert self.triggers.remove_guard(position_id) == (position_id in self.guards)
        self.guards.pop(position_id, None)

    @rule(price=_LEVEL | st.integers(-5, 45).map(D) | st.decimals("-1", "21", places=3))
    def query(self, price: Decimal) -> None:
        entries = self.triggers.entries_at(price)
        assert len(entries) == len(set(entries))
        assert set(entries) == brute_entries(self.zones, price)
        hits = self.triggers.guards_at(price)
        assert len(hits) == len({hit.position_id for hit in hits})
        assert set(hits) == brute_guards(self.guards, price)
        reasons = [hit.reason for hit in hits]
        assert reasons == sorted(reasons, key=lambda r: r is TP)  # stops first

    @rule(target=entry_ids, data=st.data())
    def readd_existing_entry(self, data: st.DataObject) -> object:
        if not self.zones:
            return multiple()
        order_id = data.draw(st.sampled_from(sorted(self.zones)))
        low = data.draw(_LEVEL)
        high = low + data.draw(st.integers(0, 6).map(D))
        self.triggers.add_entry(order_id, low, high)
        self.zones[order_id] = (low, high)
        return order_id

    @invariant()
    def counts_match(self) -> None:
        assert self.triggers.entry_count == len(self.zones)
        assert self.triggers.guard_count == len(self.guards)
        for order_id, zone in self.zones.items():
            assert self.triggers.entry_zone(order_id) == zone
        for position_id, guard in self.guards.items():
            assert self.triggers.guard(position_id) == guard


TriggerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
test_trigger_machine = TriggerMachine.TestCase
