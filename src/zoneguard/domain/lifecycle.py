"""The order lifecycle: an explicit state machine in which every move is a journaled event.

The worker journals each :class:`LifecycleEvent`; after a restart :meth:`Lifecycle.replay`
rebuilds exactly the state it had, refusing a history with gaps, foreign events or moves
the table forbids (a damaged journal must be noticed, not guessed around).

``open`` means fully filled and guarded by SL/TP. ``close_failed`` is deliberately *not*
terminal: the close keeps being retried while the position is open.

Allowed transitions (anything else raises :class:`IllegalTransition`):

==================  ==============================================================
from                to
==================  ==============================================================
(start)             waiting_zone
waiting_zone        placing, timeout, cancelled, failed
placing             placed, partially_filled, open, failed, waiting_zone (post-only
                    refused and the price left the zone), timeout, cancelled
placed              partially_filled, open, timeout (unfilled at timeout, order
                    cancelled), cancelled, waiting_zone (exchange cancelled our
                    post-only order), placing (re-price), failed
partially_filled    partially_filled (another fill), open, closing, closed (an
                    exchange-side preset fired)
open                closing, closed (an exchange-side preset SL/TP fired first)
closing             closed, close_failed, open (close cancelled or partly done:
                    still guarded)
close_failed        closing, closed
closed, timeout,    (terminal: nothing)
failed, cancelled
==================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeGuard

from zoneguard.domain.errors import CorruptHistory, IllegalTransition


class OrderState(StrEnum):
    WAITING_ZONE = "waiting_zone"
    PLACING = "placing"
    PLACED = "placed"
    PARTIALLY_FILLED = "partially_filled"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    TIMEOUT = "timeout"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLOSE_FAILED = "close_failed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


_S = OrderState

TERMINAL_STATES: frozenset[OrderState] = frozenset({_S.CLOSED, _S.TIMEOUT, _S.FAILED, _S.CANCELLED})

INITIAL_STATE = _S.WAITING_ZONE

ALLOWED_TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = MappingProxyType(
    {
        _S.WAITING_ZONE: frozenset({_S.PLACING, _S.TIMEOUT, _S.CANCELLED, _S.FAILED}),
        _S.PLACING: frozenset(
            {
                _S.PLACED,
                _S.PARTIALLY_FILLED,
                _S.OPEN,
                _S.FAILED,
                _S.WAITING_ZONE,
                _S.TIMEOUT,
                _S.CANCELLED,
            }
        ),
        _S.PLACED: frozenset(
            {
                _S.PARTIALLY_FILLED,
                _S.OPEN,
                _S.TIMEOUT,
                _S.CANCELLED,
                _S.WAITING_ZONE,
                _S.PLACING,
                _S.FAILED,
            }
        ),
        _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.OPEN, _S.CLOSING, _S.CLOSED}),
        _S.OPEN: frozenset({_S.CLOSING, _S.CLOSED}),
        _S.CLOSING: frozenset({_S.CLOSED, _S.CLOSE_FAILED, _S.OPEN}),
        _S.CLOSE_FAILED: frozenset({_S.CLOSING, _S.CLOSED}),
        _S.CLOSED: frozenset(),
        _S.TIMEOUT: frozenset(),
        _S.FAILED: frozenset(),
        _S.CANCELLED: frozenset(),
    }
)


def is_allowed(from_state: OrderState | None, to_state: OrderState) -> bool:
    """Whether the table allows ``from_state -> to_state`` (``None`` = before the start)."""
    if from_state is None:
        return to_state is INITIAL_STATE
    return to_state in ALLOWED_TRANSITIONS[from_state]


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One move of one order; ``seq`` counts from 0 (the start) without gaps."""

    order_id: str
    seq: int
    from_state: OrderState | None
    to_state: OrderState
    at_ms: int
    reason: str
    data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        # A private read-only copy: a journaled event must not change under our feet.
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form; :meth:`from_dict` gives back an equal event."""
        return {
            "order_id": self.order_id,
            "seq": self.seq,
            "from_state": None if self.from_state is None else self.from_state.value,
            "to_state": self.to_state.value,
            "at_ms": self.at_ms,
            "reason": self.reason,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, object]) -> LifecycleEvent:
        """Parse a journaled record strictly; raise :class:`CorruptHistory` if malformed."""
        try:
            order_id = record["order_id"]
            seq = record["seq"]
            from_raw = record["from_state"]
            to_raw = record["to_state"]
            at_ms = record["at_ms"]
            reason = record["reason"]
            data = record.get("data", {})
        except (KeyError, TypeError) as exc:
            raise CorruptHistory(f"lifecycle record is missing a field: {exc}") from None
        if not isinstance(order_id, str) or not isinstance(reason, str):
            raise CorruptHistory(f"lifecycle record has a non-text order_id/reason: {record!r}")
        if not _is_int(seq) or not _is_int(at_ms):
            raise CorruptHistory(f"lifecycle record seq/at_ms must be integers: {record!r}")
        if not isinstance(data, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise CorruptHistory(f"lifecycle record data must map text to text: {data!r}")
        return cls(
            order_id=order_id,
            seq=seq,
            from_state=None if from_raw is None else _state(from_raw),
            to_state=_state(to_raw),
            at_ms=at_ms,
            reason=reason,
            data=data,
        )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _state(raw: object) -> OrderState:
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return OrderState(raw)
    except ValueError:
        raise CorruptHistory(f"unknown order state {raw!r}") from None


class Lifecycle:
    """One order's current state plus the events that led there."""

    __slots__ = ("_history", "_order_id", "_state")

    def __init__(self, order_id: str, history: tuple[LifecycleEvent, ...]) -> None:
        """Use :meth:`start` or :meth:`replay`; this trusts ``history`` to be valid."""
        self._order_id = order_id
        self._history = list(history)
        self._state = history[-1].to_state

    @classmethod
    def start(
        cls, order_id: str, at_ms: int, reason: str = "accepted"
    ) -> tuple[Lifecycle, LifecycleEvent]:
        """A new order waiting for its zone; the returned event (seq 0) is the first to journal."""
        first = LifecycleEvent(
            order_id=order_id,
            seq=0,
            from_state=None,
            to_state=INITIAL_STATE,
            at_ms=at_ms,
            reason=reason,
        )
        return cls(order_id, (first,)), first

    @classmethod
    def replay(cls, events: Iterable[LifecycleEvent]) -> Lifecycle:
        """Rebuild a lifecycle from its journaled events, checking every step."""
        history = tuple(events)
        if not history:
            raise CorruptHistory("cannot replay an empty history")
        order_id = history[0].order_id
        state: OrderState | None = None
        for expected_seq, event in enumerate(history):
            if event.order_id != order_id:
                raise CorruptHistory(
                    f"event seq {event.seq} belongs to order {event.order_id!r}, not {order_id!r}"
                )
            if event.seq != expected_seq:
                raise CorruptHistory(
                    f"order {order_id!r}: expected event seq {expected_seq}, got {event.seq}"
                )
            if event.from_state != state:
                raise CorruptHistory(
                    f"order {order_id!r}: event seq {event.seq} starts from "
                    f"{event.from_state}, but the state was {state}"
                )
            if not is_allowed(state, event.to_state):
                raise IllegalTransition(order_id, state, event.to_state)
            state = event.to_state
        return cls(order_id, history)

    @property
    def order_id(self) -> str:
        return self._order_id

    @property
    def state(self) -> OrderState:
        return self._state

    @property
    def history(self) -> tuple[LifecycleEvent, ...]:
        return tuple(self._history)

    @property
    def last_event(self) -> LifecycleEvent:
        return self._history[-1]

    @property
    def is_terminal(self) -> bool:
        return self._state in TERMINAL_STATES

    def can_transition(self, to_state: OrderState) -> bool:
        return to_state in ALLOWED_TRANSITIONS[self._state]

    def transition(
        self, to_state: OrderState, at_ms: int, reason: str, **data: str
    ) -> LifecycleEvent:
        """Move to ``to_state`` and return the event to journal; raise
        :class:`IllegalTransition` (state unchanged) if the table forbids it."""
        to_state = OrderState(to_state)
        if to_state not in ALLOWED_TRANSITIONS[self._state]:
            raise IllegalTransition(self._order_id, self._state, to_state)
        for key, value in data.items():
            if not isinstance(value, str):
                raise TypeError(f"event data must be text: {key}={value!r}")
        event = LifecycleEvent(
            order_id=self._order_id,
            seq=len(self._history),
            from_state=self._state,
            to_state=to_state,
            at_ms=at_ms,
            reason=reason,
            data=data,
        )
        self._history.append(event)
        self._state = to_state
        return event

    def retract(self, event: LifecycleEvent) -> None:
        """Take back ``event``, the last transition, when recording it failed: memory must
        never be a step ahead of the journal."""
        if len(self._history) < 2 or self._history[-1] is not event:
            raise ValueError("only the last transition can be retracted")
        self._history.pop()
        self._state = self._history[-1].to_state

    def __repr__(self) -> str:
        return (
            f"Lifecycle({self._order_id!r}, state={self._state.value}, events={len(self._history)})"
        )
