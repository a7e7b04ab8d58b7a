"""The whole lifecycle as one pure object: entries, exits, the deadline, the operator, and
exactly one final outcome whatever the order of the venue's reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from zoneguard.domain.plan import OrderPlan, PlanDefaults, parse_plan
from zoneguard.engine.intents import CancelEntry, Close, ExitReason, MoveStop, PlaceEntry
from zoneguard.engine.position import ArmTimer, EngineIntent, Finish, Outcome, PositionEngine

D = Decimal
T0 = 1_700_000_000_000
LOT = D(1)
TICK = D("0.1")


def plan(**fields: Any) -> OrderPlan:
    payload: dict[str, Any] = {
        "id": "o1",
        "symbol": "BTCUSDT",
        "side": "long",
        "entry_zone_min": 100,
        "entry_zone_max": 102,
        "quantity": 10,
        "stop_loss": 95,
        "take_profit": 110,
        "timeout_seconds": 60,
    }
    payload.update(fields)
    for key in [k for k, v in payload.items() if v is None]:
        del payload[key]
    return parse_plan(payload, PlanDefaults())


def engine(order: OrderPlan | None = None, **options: Any) -> PositionEngine:
    return PositionEngine.for_plan(order or plan(), D(10), LOT, TICK, T0, **options)


def of(kind: type, intents: list[EngineIntent]) -> list[Any]:
    return [i for i in intents if isinstance(i, kind)]


def test_the_seed_path_enter_then_take_profit() -> None:
    e = engine()
    assert e.start() == [ArmTimer(T0 + 60_000)]
    assert e.on_price(D(105)) == []
    assert e.on_price(D(101)) == [PlaceEntry(1, D(10))]
    assert e.on_price(D(100)) == []  # asked once
    assert e.on_entry(1, D(10), D(101), final=True) == []
    assert e.held == D(10)
    closes = e.on_price(D(110))
    assert closes == [Close(D(10), ExitReason.TAKE_PROFIT, 1)]
    assert e.on_close(closes[0], D(10), D("109.9")) == [Finish(Outcome.CLOSED, "take_profit")]
    assert e.ledger.average_exit == D("109.9")
    assert e.on_price(D(90)) == []  # over


def test_never_entered_times_out_once() -> None:
    e = engine()
    e.start()
    e.on_price(D(120))
    assert e.on_timer(T0 + 59_999) == []
    assert e.on_timer(T0 + 60_000) == [Finish(Outcome.TIMEOUT)]
    assert e.on_timer(T0 + 70_000) == []


def test_a_working_entry_at_the_deadline_is_cancelled_and_its_part_guarded() -> None:
    e = engine()
    e.on_price(D(101))
    assert e.on_timer(T0 + 60_000) == [CancelEntry(1)]
    assert e.on_entry(1, D(4), D(101), final=True) == []
    assert e.held == D(4)
    close = e.on_price(D(94))
    assert close == [Close(D(4), ExitReason.STOP_LOSS)]
    assert e.on_close(close[0], D(4), D("94.9")) == [Finish(Outcome.CLOSED, "stop_loss")]


def test_the_operators_cancel_of_an_unfilled_entry_ends_cancelled() -> None:
    e = engine()
    e.on_price(D(101))
    assert e.cancel() == [CancelEntry(1)]
    assert e.on_entry(1, D(0), None, final=True) == [Finish(Outcome.CANCELLED)]


def test_a_waiting_zone_is_not_entered_on_arrival_unless_immediate() -> None:
    e = engine(immediate_if_in_zone=False)
    assert e.on_price(D(101)) == []
    assert e.on_price(D(103)) == []  # left it (102 widened by 0.1 % is 102.102)
    assert e.on_price(D(101)) == [PlaceEntry(1, D(10))]
    assert engine().on_price(D(101)) == [PlaceEntry(1, D(10))]


def test_a_refused_entry_waits_for_the_zone_again() -> None:
    e = engine()
    e.on_price(D(101))
    assert e.on_entry(1, D(0), None, final=True) == []
    assert not e.finished
    assert e.on_price(D(101)) == [PlaceEntry(1, D(10))]


def test_pyramid_entries_average_and_the_ladder_grows() -> None:
    order = plan(
        entry_zone_min=None,
        entry_zone_max=None,
        entry_zones=[
            {"min": 100, "max": 102, "size_percent": 50},
            {"min": 96, "max": 98, "size_percent": 50},
        ],
        take_profit=None,
        take_profits=[{"price": 110, "size_percent": 50}, {"price": 112, "size_percent": 50}],
        stop_loss=90,
    )
    e = engine(order)
    assert e.on_price(D(101)) == [PlaceEntry(1, D(5))]
    assert e.on_price(D(97)) == []  # the first entry goes alone
    e.on_entry(1, D(5), D(101), final=True)
    assert e.on_price(D(97)) == [PlaceEntry(2, D(5))]
    e.on_entry(2, D(5), D(97), final=True)
    assert e.guard is not None and e.guard.entry == D(99)
    tp1 = e.on_price(D(110))
    assert tp1 == [Close(D(5), ExitReason.TAKE_PROFIT, 1)]
    assert e.on_close(tp1[0], D(5), D(110)) == []
    tp2 = e.on_price(D(112))
    assert tp2 == [Close(D(5), ExitReason.TAKE_PROFIT, 2)]
    assert e.on_close(tp2[0], D(5), D(112)) == [Finish(Outcome.CLOSED, "take_profit")]
    assert e.ledger.average_exit == D(111)


def test_the_first_take_profit_stops_the_entries() -> None:
    order = plan(
        entry_zone_min=None,
        entry_zone_max=None,
        entry_zones=[
            {"min": 100, "max": 102, "size_percent": 50},
            {"min": 96, "max": 98, "size_percent": 50},
        ],
        take_profit=None,
        take_profits=[{"price": 110, "size_percent": 50}, {"price": 112, "size_percent": 50}],
        stop_loss=90,
    )
    e = engine(order)
    e.on_price(D(101))
    e.on_entry(1, D(5), D(101), final=True)
    intents = e.on_price(D(110))
    assert of(Close, intents) == [Close(D(2), ExitReason.TAKE_PROFIT, 1)]  # 50 % of 5, in lots
    assert e.on_price(D(97)) == []  # entries are over


def test_break_even_after_tp1_moves_the_stop_and_closes_the_rest_there() -> None:
    order = plan(
        take_profit=None,
        take_profits=[{"price": 110, "size_percent": 50}, {"price": 120, "size_percent": 50}],
        break_even={"after_take_profit": 1},
    )
    e = engine(order)
    e.on_price(D(101))
    e.on_entry(1, D(10), D(101), final=True)
    tp1 = e.on_price(D(110))
    assert e.on_close(tp1[0], D(5), D(110)) == [MoveStop(D(101), ExitReason.BREAK_EVEN)]
    rest = e.on_price(D("100.9"))
    assert rest == [Close(D(5), ExitReason.BREAK_EVEN)]
    assert e.on_close(rest[0], D(5), D(101)) == [Finish(Outcome.CLOSED, "break_even")]


def test_the_operators_close_closes_what_fills_after_it() -> None:
    e = engine()
    e.on_price(D(101))
    e.on_entry(1, D(3), D(101), final=False)
    intents = e.close_now()
    assert of(CancelEntry, intents) == [CancelEntry(1)]
    first = of(Close, intents)
    assert first == [Close(D(3), ExitReason.MANUAL)]
    e.on_close(first[0], D(3), D(101))
    more = e.on_entry(1, D(5), D(101), final=True)  # two more filled before the cancel
    assert more == [Close(D(2), ExitReason.MANUAL)]
    assert e.on_close(more[0], D(2), D(101)) == [Finish(Outcome.CLOSED, "manual")]


def test_flat_by_the_venues_hand_is_reported_once() -> None:
    e = engine()
    e.on_price(D(101))
    e.on_entry(1, D(10), D(101), final=True)
    assert e.on_flat_elsewhere("stop_loss") == [Finish(Outcome.CLOSED, "stop_loss")]
    assert e.on_flat_elsewhere("stop_loss") == []


def test_an_entrys_rest_filled_after_the_stop_fired_is_closed_at_once() -> None:
    e = engine()
    e.on_price(D(101))
    e.on_entry(1, D(4), D(101), final=False)
    intents = e.on_price(D(94))
    assert intents == [Close(D(4), ExitReason.STOP_LOSS), CancelEntry(1)]
    assert e.on_close(intents[0], D(4), D(94)) == []  # the entry still works
    rest = e.on_entry(1, D(6), D(101), final=True)
    assert rest == [Close(D(2), ExitReason.STOP_LOSS)]
    assert e.on_close(rest[0], D(2), D(94)) == [Finish(Outcome.CLOSED, "stop_loss")]


# -- the property: any order of events ends in exactly one outcome, never over-closing
PRICES = [89, 94, 97, 101, 104, 108, 110, 115, 118, 121]
"""Around every level of the plans below: zones, stops, targets, break-even, trailing."""
_PRICE = st.tuples(st.just("price"), st.sampled_from(PRICES))
_FILL = st.tuples(st.just("entry"), st.sampled_from([30, 50, 100]))
_CLOSE = st.tuples(st.just("close"), st.sampled_from([0, 50, 100, 100]))
EVENTS = st.lists(
    st.one_of(
        # Weighted as a life goes: prices and the venue's answers most of the time, the
        # deadline, the operator and a close by another hand now and then.
        *([_PRICE] * 4),
        _FILL,
        _FILL,
        st.tuples(st.just("entry_final"), st.sampled_from([0, 30, 100])),
        _CLOSE,
        _CLOSE,
        st.tuples(st.just("timer"), st.integers(0, 120)),
        st.tuples(st.just("cancel"), st.just(0)),
        st.tuples(st.just("close_now"), st.just(0)),
        st.tuples(st.just("flat"), st.just(0)),
    ),
    max_size=40,
)
PLANS = st.sampled_from(
    [
        plan(),
        plan(side="short", entry_zone_min=100, entry_zone_max=102, stop_loss=108, take_profit=90),
        plan(
            take_profit=None,
            take_profits=[{"price": 110, "size_percent": 30}, {"price": 115, "size_percent": 70}],
            break_even={"trigger_percent": 3, "offset_percent": "0.1"},
            trailing_stop={"activation_percent": 5, "callback_percent": 2},
        ),
        plan(
            entry_zone_min=None,
            entry_zone_max=None,
            entry_zones=[
                {"min": 100, "max": 102, "size_percent": 40},
                {"min": 96, "max": 98, "size_percent": 60},
            ],
            stop_loss=90,
            take_profit=None,
            take_profits=[{"price": 110, "size_percent": 50}, {"price": 118, "size_percent": 50}],
            break_even={"after_take_profit": 1},
        ),
    ]
)


class Venue:
    """The test's venue: keeps what the engine asked for and answers in the order the
    events say, with any part filled; checks the engine's promises on every answer."""

    def __init__(self, e: PositionEngine) -> None:
        self.e = e
        self.entries: dict[int, tuple[Decimal, Decimal]] = {}  # zone -> (size, filled)
        self.closes: list[Close] = []
        self.position = D(0)
        self.finishes: list[Finish] = []
        self.flat = False
        self.stop = e.plan.stop_loss
        self.moves = 0

    def take(self, intents: list[EngineIntent]) -> None:
        for intent in intents:
            assert not self.finishes, f"{intent} after the outcome"
            if isinstance(intent, PlaceEntry):
                assert intent.zone_index not in self.entries, "a zone entered twice at once"
                self.entries[intent.zone_index] = (intent.quantity, D(0))
            elif isinstance(intent, Close):
                asked = sum((c.quantity for c in self.closes), D(0)) + intent.quantity
                assert intent.quantity > 0 and asked <= self.position, "closes more than held"
                self.closes.append(intent)
            elif isinstance(intent, MoveStop):
                before = self.stop
                assert before is None or (
                    intent.level > before if self.e.side.value == "long" else intent.level < before
                ), "the stop loosened"
                self.stop = intent.level
                self.moves += 1
            elif isinstance(intent, Finish):
                self.finishes.append(intent)

    def fill_entry(self, share: int, *, final: bool) -> None:
        if not self.entries:
            return
        zone = sorted(self.entries)[0]
        size, filled = self.entries[zone]
        more = (size - filled) * share // 100
        filled += more
        self.position += more
        if final or filled == size:
            del self.entries[zone]
        else:
            self.entries[zone] = (size, filled)
        self.take(self.e.on_entry(zone, filled, D(100), final=final or filled == size))

    def fill_close(self, share: int) -> None:
        if not self.closes:
            return
        close = self.closes.pop(0)
        filled = min(close.quantity * share // 100, self.position)
        self.position -= filled
        self.take(self.e.on_close(close, filled, D(100)))


@settings(max_examples=1000, deadline=None)
@given(PLANS, EVENTS, st.booleans())
@example(  # an entry's rest filling after the stop's close is over
    plan(), [("price", 101), ("entry", 50), ("price", 94), ("close", 100), ("entry", 50)], True
)
def test_every_lifecycle_ends_in_exactly_one_outcome(
    order: OrderPlan, events: list[tuple[str, int]], immediate: bool
) -> None:
    e = PositionEngine.for_plan(order, D(10), LOT, TICK, T0, immediate_if_in_zone=immediate)
    venue = Venue(e)
    venue.take(e.start())
    for kind, value in events:
        if kind == "price":
            venue.take(e.on_price(D(value)))
        elif kind in ("entry", "entry_final"):
            venue.fill_entry(value, final=kind == "entry_final")
        elif kind == "close":
            venue.fill_close(value)
        elif kind == "timer":
            venue.take(e.on_timer(T0 + value * 1000))
        elif kind == "cancel":
            venue.take(e.cancel())
        elif kind == "close_now":
            venue.take(e.close_now())
        elif kind == "flat" and venue.position > 0 and not venue.entries:
            venue.position = D(0)
            venue.closes.clear()
            venue.flat = True
            venue.take(e.on_flat_elsewhere("exchange_stop"))
        assert e.held == venue.position or venue.finishes, "the engine lost count"
        stopped = e.guard is not None and e.guard.stopped
        if stopped and venue.position > 0 and not venue.finishes:
            assert venue.closes, "a position being closed has no close on its way"
    # The end: the operator closes, the venue answers everything, whole.
    venue.take(e.close_now())
    for _ in range(50):
        if venue.finishes:
            break
        if venue.entries:
            venue.fill_entry(0, final=True)
        elif venue.closes:
            venue.fill_close(100)
        else:
            venue.take(e.on_timer(T0 + 10**9))
    assert len(venue.finishes) == 1, "exactly one final outcome"
    outcome = venue.finishes[0]
    assert venue.position == 0
    if e.filled == 0:
        assert outcome.outcome in (Outcome.TIMEOUT, Outcome.CANCELLED)
    else:
        assert outcome.outcome is Outcome.CLOSED and outcome.reason is not None
        if not venue.flat:
            assert e.ledger.closed == e.filled, "every contract entered was closed by us"
