"""The engine's reading of entry reports (what the fill tracker carries out): each case of
the table, and, whatever the order and repeats of the venue's reports, an entry ends in
exactly one outcome (guarded once, or back to waiting) and never guards nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.lifecycle import OrderState, is_allowed
from zoneguard.engine.entry_updates import (
    IGNORED,
    EntryDecision,
    EntryReport,
    EntryStep,
    decide_entry,
)

D = Decimal
S = OrderState
TEN = D(10)


def decide(
    state: OrderState,
    filled: int,
    final: bool,
    *,
    current: bool = True,
    timed_out: bool = False,
    cancel_requested: bool = False,
) -> EntryDecision:
    report = EntryReport(D(filled), final, current)
    return decide_entry(state, report, TEN, timed_out=timed_out, cancel_requested=cancel_requested)


def test_a_placing_entry_seen_filled_whole_is_accepted_then_open() -> None:
    decision = decide(S.PLACING, 10, final=True)
    assert decision.steps == (EntryStep.ACCEPTED, EntryStep.OPEN)
    assert decision.whole and not decision.cut_short and decision.record_fill


def test_a_part_filled_is_guarded_and_its_end_opens_what_filled() -> None:
    assert decide(S.PLACED, 4, final=False).steps == (EntryStep.PARTIAL,)
    again = decide(S.PARTIALLY_FILLED, 4, final=True)
    assert again.steps == (EntryStep.OPEN,) and not again.whole


def test_a_deadline_cut_is_said_but_an_operators_cancel_is_not() -> None:
    assert decide(S.PARTIALLY_FILLED, 4, final=True, timed_out=True).cut_short
    chosen = decide(S.PARTIALLY_FILLED, 4, final=True, timed_out=True, cancel_requested=True)
    assert not chosen.cut_short


def test_an_entry_ended_unfilled_waits_for_its_zone_again() -> None:
    assert decide(S.PLACED, 0, final=True).steps == (EntryStep.REWAIT,)


def test_a_live_attempt_seen_while_waiting_is_adopted_and_cancelled_past_its_deadline() -> None:
    decision = decide(S.WAITING_ZONE, 0, final=False, timed_out=True)
    assert decision.steps == (EntryStep.ADOPT, EntryStep.ACCEPTED, EntryStep.CANCEL_REST)
    assert decide(S.WAITING_ZONE, 0, final=True) == IGNORED, "ended unfilled: already waits"


def test_reports_past_the_entry_change_nothing() -> None:
    for state in (S.CLOSING, S.CLOSE_FAILED, S.CLOSED, S.TIMEOUT, S.CANCELLED, S.FAILED):
        assert decide(state, 10, final=True) == IGNORED
    assert decide(S.OPEN, 10, final=True) == EntryDecision((), record_fill=True)


def test_an_earlier_attempt_is_ignored_and_its_fills_raise_the_alarm() -> None:
    assert decide(S.PLACED, 0, final=True, current=False) == IGNORED
    assert decide(S.PLACED, 3, final=True, current=False).earlier_attempt_filled


# -- whatever the venue says, in whatever order ----------------------------------------------

_MOVES = {
    EntryStep.ADOPT: S.PLACING,
    EntryStep.ACCEPTED: S.PLACED,
    EntryStep.OPEN: S.OPEN,
    EntryStep.PARTIAL: S.PARTIALLY_FILLED,
    EntryStep.REWAIT: S.WAITING_ZONE,
}


@st.composite
def reports(draw: st.DrawFn) -> list[EntryReport]:
    """One entry attempt's reports as a venue may deliver them: fills that never go back
    (each report repeated or delivered late, i.e. out of order), the last one final."""
    fills = sorted(draw(st.lists(st.integers(0, 10), min_size=1, max_size=6)))
    truth = [EntryReport(D(f), final=i == len(fills) - 1) for i, f in enumerate(fills)]
    order = draw(st.permutations(truth + draw(st.lists(st.sampled_from(truth), max_size=4))))
    return [*order, truth[-1]]  # the final word always comes, possibly again


@given(
    reports(),
    st.sampled_from([S.PLACING, S.PLACED, S.WAITING_ZONE]),
    st.booleans(),
)
def test_an_entry_ends_in_exactly_one_outcome(
    sequence: list[EntryReport], start: OrderState, timed_out: bool
) -> None:
    state = start
    opened = rewaited = 0
    for report in sequence:
        decision = decide_entry(state, report, TEN, timed_out=timed_out, cancel_requested=False)
        for step in decision.steps:
            if step in (EntryStep.OPEN, EntryStep.PARTIAL):
                assert report.filled > 0, "never guards nothing"
            target = _MOVES.get(step)
            if target is None:
                continue
            assert is_allowed(state, target), (state, step)
            state = target
            opened += step is EntryStep.OPEN
            rewaited += step is EntryStep.REWAIT
        if state is S.WAITING_ZONE and rewaited:
            break  # the attempt is over: the next one starts from the zone
    last = sequence[-1]
    assert opened <= 1, "one filled callback per entry"
    if last.filled > 0:
        assert (state, opened) == (S.OPEN, 1), "what filled is guarded, and said once"
    elif start is not S.WAITING_ZONE:
        assert state is S.WAITING_ZONE and rewaited == 1 and opened == 0


@pytest.mark.parametrize("state", [S.PLACING, S.PLACED, S.PARTIALLY_FILLED])
def test_a_whole_fill_opens_whatever_came_before(state: OrderState) -> None:
    assert EntryStep.OPEN in decide(state, 10, final=False).steps
