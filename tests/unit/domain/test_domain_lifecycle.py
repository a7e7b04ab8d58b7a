"""The lifecycle state machine: the table is exact, events journal and replay losslessly."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.errors import CorruptHistory, DomainError, IllegalTransition
from zoneguard.domain.lifecycle import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    Lifecycle,
    LifecycleEvent,
    OrderState,
)

S = OrderState

# The brief's table, written out independently of the module's own constant.
EXPECTED: dict[OrderState, set[OrderState]] = {
    S.WAITING_ZONE: {S.PLACING, S.TIMEOUT, S.CANCELLED, S.FAILED},
    S.PLACING: {
        S.PLACED,
        S.PARTIALLY_FILLED,
        S.OPEN,
        S.FAILED,
        S.WAITING_ZONE,
        S.TIMEOUT,
        S.CANCELLED,
    },
    S.PLACED: {
        S.PARTIALLY_FILLED,
        S.OPEN,
        S.TIMEOUT,
        S.CANCELLED,
        S.WAITING_ZONE,
        S.PLACING,
        S.FAILED,
    },
    S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.OPEN, S.CLOSING, S.CLOSED},
    S.OPEN: {S.CLOSING, S.CLOSED},
    S.CLOSING: {S.CLOSED, S.CLOSE_FAILED, S.OPEN},
    S.CLOSE_FAILED: {S.CLOSING, S.CLOSED},
    S.CLOSED: set(),
    S.TIMEOUT: set(),
    S.FAILED: set(),
    S.CANCELLED: set(),
}

# A shortest legal path from the start to each state, used to reach any "from" state.
PATH_TO: dict[OrderState, list[OrderState]] = {
    S.WAITING_ZONE: [],
    S.PLACING: [S.PLACING],
    S.PLACED: [S.PLACING, S.PLACED],
    S.PARTIALLY_FILLED: [S.PLACING, S.PARTIALLY_FILLED],
    S.OPEN: [S.PLACING, S.OPEN],
    S.CLOSING: [S.PLACING, S.OPEN, S.CLOSING],
    S.CLOSE_FAILED: [S.PLACING, S.OPEN, S.CLOSING, S.CLOSE_FAILED],
    S.CLOSED: [S.PLACING, S.OPEN, S.CLOSED],
    S.TIMEOUT: [S.TIMEOUT],
    S.FAILED: [S.FAILED],
    S.CANCELLED: [S.CANCELLED],
}


def lifecycle_in(state: OrderState, order_id: str = "o-1") -> Lifecycle:
    life, _ = Lifecycle.start(order_id, at_ms=1_000)
    for step, target in enumerate(PATH_TO[state], start=1):
        life.transition(target, at_ms=1_000 + step, reason="setup")
    assert life.state is state
    return life


def test_table_matches_the_brief() -> None:
    assert {state: set(targets) for state, targets in ALLOWED_TRANSITIONS.items()} == EXPECTED
    assert set(TERMINAL_STATES) == {S.CLOSED, S.TIMEOUT, S.FAILED, S.CANCELLED}
    assert all(not EXPECTED[state] for state in TERMINAL_STATES)
    assert not S.CLOSE_FAILED.is_terminal


ALL_PAIRS = list(itertools.product(OrderState, OrderState))
LEGAL = [(a, b) for a, b in ALL_PAIRS if b in EXPECTED[a]]
ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in EXPECTED[a]]


@pytest.mark.parametrize(("from_state", "to_state"), LEGAL)
def test_every_legal_transition_is_accepted(from_state: OrderState, to_state: OrderState) -> None:
    life = lifecycle_in(from_state)
    before = len(life.history)
    event = life.transition(to_state, at_ms=9_999, reason="why", exchange_order_id="42")
    assert life.state is to_state
    assert life.is_terminal == (to_state in TERMINAL_STATES)
    assert event == LifecycleEvent(
        order_id="o-1",
        seq=before,
        from_state=from_state,
        to_state=to_state,
        at_ms=9_999,
        reason="why",
        data={"exchange_order_id": "42"},
    )
    assert life.history[-1] == event


@pytest.mark.parametrize(("from_state", "to_state"), ILLEGAL)
def test_every_illegal_transition_raises_and_changes_nothing(
    from_state: OrderState, to_state: OrderState
) -> None:
    life = lifecycle_in(from_state, order_id="ord-7")
    history = life.history
    assert not life.can_transition(to_state)
    with pytest.raises(IllegalTransition) as caught:
        life.transition(to_state, at_ms=5, reason="nope")
    message = str(caught.value)
    assert "ord-7" in message
    assert from_state.value in message
    assert to_state.value in message
    assert isinstance(caught.value, DomainError)
    assert life.state is from_state
    assert life.history == history


def test_there_are_as_many_illegal_as_the_complement() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(OrderState) ** 2
    assert len(LEGAL) == sum(len(targets) for targets in EXPECTED.values())


def test_start_event() -> None:
    life, first = Lifecycle.start("o-9", at_ms=123)
    assert life.state is S.WAITING_ZONE
    assert first == LifecycleEvent("o-9", 0, None, S.WAITING_ZONE, 123, "accepted")
    assert life.history == (first,)
    assert life.last_event == first
    assert life.order_id == "o-9"


def test_string_states_are_accepted_and_normalised() -> None:
    life, _ = Lifecycle.start("o", at_ms=0)
    event = life.transition("placing", at_ms=1, reason="in zone")  # type: ignore[arg-type]
    assert event.to_state is S.PLACING
    with pytest.raises(ValueError, match="bogus"):
        life.transition("bogus", at_ms=2, reason="x")  # type: ignore[arg-type]


def test_event_data_must_be_text() -> None:
    life, _ = Lifecycle.start("o", at_ms=0)
    with pytest.raises(TypeError):
        life.transition(S.PLACING, at_ms=1, reason="x", price=65000)  # type: ignore[arg-type]
    assert life.state is S.WAITING_ZONE


def test_event_dict_round_trip_through_json() -> None:
    life = lifecycle_in(S.CLOSE_FAILED)
    life.transition(S.CLOSING, at_ms=77, reason="retry", attempt="2", error="30014: busy")
    for event in life.history:
        record = json.loads(json.dumps(event.to_dict()))
        assert LifecycleEvent.from_dict(record) == event
    assert life.history[0].to_dict()["from_state"] is None


@pytest.mark.parametrize(
    "damage",
    [
        {"seq": "1"},
        {"seq": True},
        {"at_ms": 1.5},
        {"to_state": "exploded"},
        {"from_state": 3},
        {"order_id": None},
        {"data": {"a": 1}},
        {"data": [1]},
    ],
)
def test_malformed_records_are_refused(damage: dict[str, Any]) -> None:
    record = lifecycle_in(S.PLACING).history[1].to_dict()
    record.update(damage)
    with pytest.raises(CorruptHistory):
        LifecycleEvent.from_dict(record)


def test_record_missing_a_field_is_refused() -> None:
    record = lifecycle_in(S.PLACING).history[1].to_dict()
    del record["to_state"]
    with pytest.raises(CorruptHistory, match="missing"):
        LifecycleEvent.from_dict(record)


@pytest.mark.parametrize("state", list(OrderState))
def test_replay_rebuilds_the_same_state(state: OrderState) -> None:
    life = lifecycle_in(state)
    again = Lifecycle.replay(life.history)
    assert again.state is life.state
    assert again.history == life.history
    assert again.order_id == life.order_id


def test_replayed_lifecycle_keeps_going() -> None:
    again = Lifecycle.replay(lifecycle_in(S.OPEN).history)
    event = again.transition(S.CLOSING, at_ms=10, reason="stop_loss")
    assert event.seq == 3


def test_replay_refuses_a_gap() -> None:
    history = list(lifecycle_in(S.CLOSING).history)
    del history[2]
    with pytest.raises(CorruptHistory, match="seq"):
        Lifecycle.replay(history)


def test_replay_refuses_another_orders_event() -> None:
    mine = list(lifecycle_in(S.PLACED, "a").history)
    theirs = lifecycle_in(S.PLACED, "b").history
    mine[2] = theirs[2]
    with pytest.raises(CorruptHistory, match="'b'"):
        Lifecycle.replay(mine)


def test_replay_refuses_empty_and_bad_starts() -> None:
    with pytest.raises(CorruptHistory):
        Lifecycle.replay([])
    history = lifecycle_in(S.PLACING).history
    with pytest.raises(CorruptHistory):
        Lifecycle.replay(history[1:])


def test_replay_refuses_an_illegal_move_and_a_broken_chain() -> None:
    history = list(lifecycle_in(S.PLACING).history)
    illegal = LifecycleEvent("o-1", 2, S.PLACING, S.CLOSED, 5, "forged")
    with pytest.raises(IllegalTransition):
        Lifecycle.replay([*history, illegal])
    broken = LifecycleEvent("o-1", 2, S.OPEN, S.CLOSING, 5, "forged")
    with pytest.raises(CorruptHistory, match="starts from"):
        Lifecycle.replay([*history, broken])


@st.composite
def legal_walks(draw: st.DrawFn) -> tuple[list[OrderState], list[int]]:
    """A random legal path from the start, with random (possibly repeating) timestamps."""
    state = S.WAITING_ZONE
    path: list[OrderState] = []
    for _ in range(draw(st.integers(0, 25))):
        targets = sorted(EXPECTED[state])
        if not targets:
            break
        state = draw(st.sampled_from(targets))
        path.append(state)
    times = draw(st.lists(st.integers(0, 2**41), min_size=len(path), max_size=len(path)))
    return path, times


@given(walk=legal_walks(), order_id=st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True))
def test_random_legal_walks_replay_identically(
    walk: tuple[list[OrderState], list[int]], order_id: str
) -> None:
    path, times = walk
    life, _ = Lifecycle.start(order_id, at_ms=0)
    for target, at_ms in zip(path, times, strict=True):
        life.transition(target, at_ms=at_ms, reason=f"to {target}", step=str(at_ms))
    records = json.loads(json.dumps([event.to_dict() for event in life.history]))
    again = Lifecycle.replay(LifecycleEvent.from_dict(record) for record in records)
    assert again.state is life.state
    assert again.history == life.history
    assert [event.seq for event in again.history] == list(range(len(path) + 1))
    assert again.is_terminal == (life.state in TERMINAL_STATES)
