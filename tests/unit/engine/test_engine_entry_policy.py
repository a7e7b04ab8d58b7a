"""The entry's own rules (what the entry monitor carries out): the deadline, an entry
with nothing working, and re-pricing a refused post-only entry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.lifecycle import TERMINAL_STATES, OrderState
from zoneguard.engine.entry_policy import (
    MAX_REPRICES,
    DeadlineStep,
    NoEntryStep,
    RefusalStep,
    on_deadline,
    on_no_entry,
    on_post_only_refused,
)

S = OrderState


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (S.WAITING_ZONE, DeadlineStep.TIMEOUT),
        (S.PLACING, DeadlineStep.MARK),
        (S.PLACED, DeadlineStep.MARK_AND_CANCEL),
        (S.PARTIALLY_FILLED, DeadlineStep.MARK_AND_CANCEL),
        (S.OPEN, DeadlineStep.NOTHING),
        (S.CLOSING, DeadlineStep.NOTHING),
        (S.CLOSED, DeadlineStep.NOTHING),
    ],
)
def test_the_deadline_ends_only_what_never_entered_and_cancels_what_works(
    state: OrderState, step: DeadlineStep
) -> None:
    assert on_deadline(state) is step


def test_an_entry_with_nothing_working_ends_as_asked_or_waits_again() -> None:
    assert on_no_entry(S.PLACED, cancel_requested=True, timed_out=True) is NoEntryStep.CANCELLED
    assert on_no_entry(S.PLACED, cancel_requested=False, timed_out=True) is NoEntryStep.TIMEOUT
    assert on_no_entry(S.PLACING, cancel_requested=False, timed_out=False) is NoEntryStep.REWAIT
    for state in (S.WAITING_ZONE, S.PARTIALLY_FILLED, S.OPEN, *TERMINAL_STATES):
        assert on_no_entry(state, cancel_requested=True, timed_out=True) is NoEntryStep.NOTHING


def test_a_refused_post_only_entry_is_repriced_a_bounded_number_of_times() -> None:
    steps = [
        on_post_only_refused(n, timed_out=False, cancel_requested=False)
        for n in range(1, MAX_REPRICES + 2)
    ]
    assert steps == [RefusalStep.REPRICE] * MAX_REPRICES + [RefusalStep.GIVE_UP]


@given(st.integers(1, 100), st.booleans(), st.booleans())
def test_an_ended_signal_is_never_repriced(
    refusals: int, timed_out: bool, cancel_requested: bool
) -> None:
    step = on_post_only_refused(refusals, timed_out=timed_out, cancel_requested=cancel_requested)
    if timed_out or cancel_requested:
        assert step is RefusalStep.ENDED
    else:
        assert (step is RefusalStep.REPRICE) == (refusals <= MAX_REPRICES)
