"""The engine's reading of a guarded position at restart: flat is reported, less than
journaled is guarded as it is (unless the side is shared), and a guard never grows past
what the journal says."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.values import Side
from zoneguard.engine.resume import (
    ACCEPTED_ENTRY_PATIENCE_S,
    UNSEEN_ENTRY_PATIENCE_S,
    Bar,
    CloseResume,
    HeldDecision,
    HeldKind,
    LookupStep,
    after_entry_lookup,
    decide_held,
    entry_patience_s,
    preset_that_fired,
    resume_close,
)

D = Decimal


def test_flat_while_down_is_reported_not_guarded() -> None:
    assert decide_held(D(0), D(10), shared=False) == HeldDecision(HeldKind.REPORT_FLAT)
    assert decide_held(D(0), D(10), shared=True).kind is HeldKind.REPORT_FLAT


def test_partly_closed_while_down_guards_what_is_there() -> None:
    assert decide_held(D(4), D(10), shared=False) == HeldDecision(HeldKind.SHRINK, D(4))
    assert decide_held(D(10), D(10), shared=False).kind is HeldKind.GUARD


def test_a_shared_side_never_cuts_one_signal_to_the_whole_positions_figure() -> None:
    assert decide_held(D(4), D(10), shared=True).kind is HeldKind.GUARD
    assert decide_held(D(15), D(10), shared=True).kind is HeldKind.GUARD


@given(st.integers(0, 100), st.integers(1, 100), st.booleans())
def test_the_guard_never_exceeds_the_journal_or_the_venue(
    held: int, ours: int, shared: bool
) -> None:
    decision = decide_held(D(held), D(ours), shared=shared)
    if decision.kind is HeldKind.SHRINK:
        assert 0 < decision.quantity == held < ours and not shared
    if held == 0:
        assert decision.kind is HeldKind.REPORT_FLAT


# -- looking the journaled orders up
def test_an_entry_found_is_adopted_at_once() -> None:
    for accepted in (True, False):
        step = after_entry_lookup(found=True, accepted=accepted, waited_s=0.0)
        assert step is LookupStep.ADOPT


def test_an_accepted_entry_not_shown_is_asked_again_then_kept_never_resent() -> None:
    assert after_entry_lookup(found=False, accepted=True, waited_s=5.0) is LookupStep.ASK_AGAIN
    late = after_entry_lookup(found=False, accepted=True, waited_s=ACCEPTED_ENTRY_PATIENCE_S)
    assert late is LookupStep.KEEP_ACCEPTED


def test_an_unanswered_entry_not_found_goes_again_under_its_id_after_a_short_wait() -> None:
    assert after_entry_lookup(found=False, accepted=False, waited_s=0.5) is LookupStep.ASK_AGAIN
    late = after_entry_lookup(found=False, accepted=False, waited_s=UNSEEN_ENTRY_PATIENCE_S)
    assert late is LookupStep.REWAIT_SAME_ID


@given(st.booleans(), st.floats(0, 100))
def test_an_accepted_entry_is_never_sent_again(accepted: bool, waited_s: float) -> None:
    step = after_entry_lookup(found=False, accepted=accepted, waited_s=waited_s)
    if accepted:
        assert step is not LookupStep.REWAIT_SAME_ID
    assert (step is LookupStep.ASK_AGAIN) == (waited_s < entry_patience_s(accepted=accepted))


def test_a_close_found_is_awaited_one_not_found_is_sent_again() -> None:
    assert resume_close(found=True) is CloseResume.AWAIT
    assert resume_close(found=False) is CloseResume.SEND


# -- which preset closed a position while the worker was down
T0 = 1_700_000_000_000


def bar(minute: int, low: str, high: str) -> Bar:
    return Bar(T0 + minute * 60_000, D(high), D(low))


def test_the_first_bar_reaching_a_preset_names_it() -> None:
    bars = [bar(0, "99", "101"), bar(1, "94", "100"), bar(2, "95", "112")]
    assert preset_that_fired(Side.LONG, D(95), D(110), bars, T0) == "stop_loss"
    short = [bar(0, "99", "101"), bar(1, "89", "100")]
    assert preset_that_fired(Side.SHORT, D(105), D(90), short, T0) == "take_profit"


def test_a_bar_reaching_both_or_none_names_nothing() -> None:
    assert preset_that_fired(Side.LONG, D(95), D(110), [bar(0, "94", "111")], T0) is None
    assert preset_that_fired(Side.LONG, D(95), D(110), [bar(0, "96", "109")], T0) is None
    assert preset_that_fired(Side.LONG, None, None, [bar(0, "1", "999")], T0) is None


def test_bars_before_the_entry_was_sent_do_not_count() -> None:
    bars = [bar(0, "90", "100"), bar(5, "99", "111")]
    assert preset_that_fired(Side.LONG, D(95), D(110), bars, T0 + 3 * 60_000) == "take_profit"
