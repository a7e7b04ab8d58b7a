"""Statuses only move forward; closed is final."""

from __future__ import annotations

import itertools

from zoneguard.app.rules import (
    TERMINAL,
    OrderStatus,
    PositionStatus,
    moves_forward,
    position_moves_forward,
    rank,
)

S = OrderStatus


def test_the_seed_flow_moves_forward_at_each_step() -> None:
    flow = [S.QUEUED, S.SUBMITTED, S.PLACED, S.FILLED, S.CLOSE_FAILED, S.CLOSED]
    for before, after in itertools.pairwise(flow):
        assert moves_forward(before, after)
        assert not moves_forward(after, before)


def test_nothing_leaves_closed() -> None:
    for status in OrderStatus:
        assert moves_forward(S.CLOSED, status) == (status is S.CLOSED)


def test_a_finished_entry_only_gives_way_to_closed() -> None:
    for done in (S.TIMEOUT, S.FAILED, S.CANCELLED):
        assert done in TERMINAL
        movable = {s for s in OrderStatus if moves_forward(done, s)}
        assert movable == {done, S.CLOSED}


def test_the_same_status_again_refreshes() -> None:
    assert all(moves_forward(s, s) for s in OrderStatus)


def test_ranks_are_a_total_preorder_with_closed_on_top() -> None:
    assert max(OrderStatus, key=rank) is S.CLOSED
    assert min(OrderStatus, key=rank) is S.QUEUED


def test_positions_never_reopen() -> None:
    P = PositionStatus
    assert position_moves_forward(P.OPEN, P.CLOSE_FAILED)
    assert position_moves_forward(P.CLOSE_FAILED, P.CLOSED)
    assert not position_moves_forward(P.CLOSED, P.OPEN)
    assert not position_moves_forward(P.CLOSED, P.CLOSE_FAILED)


def test_the_apps_own_conclusions_end_only_unreported_orders() -> None:
    from zoneguard.app.rules import applies

    for current in OrderStatus:
        for verdict in (S.FAILED, S.CANCELLED):
            expected = current in (S.QUEUED, S.SUBMITTED)
            assert applies(current, "signal", verdict, "bus") == expected, (current, verdict)
            assert applies(current, "callback", verdict, "api") == expected


def test_the_workers_word_overrides_the_apps_conclusion() -> None:
    from zoneguard.app.rules import applies

    for concluded in (S.FAILED, S.CANCELLED):
        for news in (S.PLACED, S.FILLED, S.CLOSE_FAILED, S.TIMEOUT, S.CLOSED):
            assert applies(concluded, "bus", news, "callback")
            assert not applies(concluded, "callback", news, "callback") or news is S.CLOSED
        assert not applies(concluded, "api", S.SUBMITTED, "bus")  # the app's own: no


def test_a_zones_entry_moves_only_an_order_not_yet_there_else_it_is_a_note() -> None:
    """Several entry zones: the first entry's placed/filled moves the order as the seed's;
    one arriving when the order is already there or past it (another zone's, or after
    the close) is a note."""
    from zoneguard.app.rules import zone_entry_is_note

    assert not zone_entry_is_note(S.SUBMITTED, "bus", S.PLACED)
    assert not zone_entry_is_note(S.PLACED, "callback", S.FILLED)
    assert not zone_entry_is_note(S.QUEUED, "signal", S.FILLED)
    assert not zone_entry_is_note(S.CANCELLED, "api", S.PLACED), "the worker's word wins"
    for current in (S.FILLED, S.CLOSE_FAILED, S.CLOSED, S.TIMEOUT):
        for news in (S.PLACED, S.FILLED):
            assert zone_entry_is_note(current, "callback", news), (current, news)
    assert zone_entry_is_note(S.PLACED, "callback", S.PLACED), "another zone's placed"
