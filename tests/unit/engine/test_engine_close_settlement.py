"""The engine's settlement of a close: each case, and as properties, a close never asks for
more than the venue holds, a signal sharing its side never for more than its own, and a
position is reported closed only when nothing of the signal's is left."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.engine.close_settlement import (
    CloseOutcome,
    SettleKind,
    Settlement,
    needs_position,
    settle_close,
)

D = Decimal


def test_a_whole_close_of_a_signal_alone_is_the_close_without_asking() -> None:
    outcome = CloseOutcome(whole=True)
    assert not needs_position(outcome)
    assert settle_close(outcome, None) == Settlement(SettleKind.CLOSED)


def test_a_partial_close_alone_closes_what_the_venue_still_holds() -> None:
    outcome = CloseOutcome(whole=False)
    assert needs_position(outcome)
    assert settle_close(outcome, D(4)) == Settlement(SettleKind.CLOSE_REST, D(4))
    assert settle_close(outcome, D(0)) == Settlement(SettleKind.CLOSED)


def test_flat_with_nothing_of_ours_filled_is_someone_elses_close() -> None:
    outcome = CloseOutcome(whole=False, closed_any=False)
    assert settle_close(outcome, D(0)) == Settlement(SettleKind.CHECK_FLAT)


@pytest.mark.parametrize("field", ["entry_was_working", "managed"])
def test_an_entry_rest_or_rungs_beside_the_close_settle_by_the_position(field: str) -> None:
    outcome = CloseOutcome(whole=True, **{field: True})
    assert needs_position(outcome)
    assert settle_close(outcome, D(2)) == Settlement(SettleKind.CLOSE_REST, D(2))


def test_a_shared_side_settles_by_the_signals_own_contracts() -> None:
    outcome = CloseOutcome(whole=True, shared=True)
    assert needs_position(outcome)
    assert settle_close(outcome, D(15), own_open=D(0)).kind is SettleKind.CLOSED
    assert settle_close(outcome, D(15), own_open=D(3)) == Settlement(SettleKind.CLOSE_REST, D(3))
    assert settle_close(outcome, D(2), own_open=D(3)) == Settlement(SettleKind.CLOSE_REST, D(2))
    assert settle_close(outcome, D(0), own_open=D(3)).kind is SettleKind.CHECK_FLAT


def test_settling_by_a_position_never_read_is_refused() -> None:
    with pytest.raises(ValueError, match="read it first"):
        settle_close(CloseOutcome(whole=False), None)
    with pytest.raises(ValueError, match="shared"):
        settle_close(CloseOutcome(whole=True, shared=True), None, own_open=D(1))


@given(
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 50),
    st.integers(0, 50),
)
def test_a_close_never_asks_for_more_than_is_there_or_more_than_its_own(
    whole: bool,
    working: bool,
    managed: bool,
    shared: bool,
    closed_any: bool,
    position: int,
    own: int,
) -> None:
    outcome = CloseOutcome(whole, working, managed, shared, closed_any)
    read = D(position) if needs_position(outcome) else None
    settlement = settle_close(outcome, read, D(own))
    if settlement.kind is SettleKind.CLOSE_REST:
        assert 0 < settlement.quantity <= position
        if shared:
            assert settlement.quantity <= own, "never another signal's contracts"
    if settlement.kind is SettleKind.CLOSED and shared:
        assert own == 0, "closed only when nothing of its own is left"
    if settlement.kind is SettleKind.CLOSED and read is not None and not shared:
        assert position == 0, "alone: closed only once the venue is flat"
