"""The engine's reading of a guarded position at restart: flat is reported, less than
journaled is guarded as it is (unless the side is shared), and a guard never grows past
what the journal says."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from zoneguard.engine.resume import HeldDecision, HeldKind, decide_held

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
