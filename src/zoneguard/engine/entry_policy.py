"""The entry's own rules, as pure decisions the entry monitor carries out: what a signal's
deadline does, what an entry that no longer works on the exchange becomes, and how long a
post-only entry refused as a taker is re-priced.

* The deadline ends a signal still waiting for its zone (``timeout``); an entry on its way
  or working is marked, and what works is cancelled (its fills stay, guarded); a position
  is past its deadline's reach.
* An entry with nothing working on the exchange waits for its zone again, unless the
  operator cancelled it (``cancelled``) or its deadline passed (``timeout``).
* A refused post-only entry is re-priced at once (the price moved through it), at most
  ``MAX_REPRICES`` times in a row; then, or once the signal has ended, it goes back to
  waiting for the zone (where the two rules above apply).
"""

from __future__ import annotations

from enum import StrEnum

from zoneguard.domain.lifecycle import OrderState

MAX_REPRICES = 20
"""Post-only refusals in a row before the order goes back to waiting for its zone."""


class DeadlineStep(StrEnum):
    TIMEOUT = "timeout"
    """Never entered: the signal ends (``timeout``)."""
    MARK = "mark"
    """Its entry is on its way: marked timed out (the answer's handler cancels it)."""
    MARK_AND_CANCEL = "mark_and_cancel"
    """Its entry works: marked, and what works is cancelled."""
    NOTHING = "nothing"
    """A position (or over): the deadline no longer applies."""


def on_deadline(state: OrderState) -> DeadlineStep:
    if state is OrderState.WAITING_ZONE:
        return DeadlineStep.TIMEOUT
    if state is OrderState.PLACING:
        return DeadlineStep.MARK
    if state in (OrderState.PLACED, OrderState.PARTIALLY_FILLED):
        return DeadlineStep.MARK_AND_CANCEL
    return DeadlineStep.NOTHING


class NoEntryStep(StrEnum):
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    REWAIT = "rewait"
    NOTHING = "nothing"


def on_no_entry(state: OrderState, *, cancel_requested: bool, timed_out: bool) -> NoEntryStep:
    """The entry has no live order on the exchange (ended unfilled, refused): what the order
    becomes."""
    if state not in (OrderState.PLACING, OrderState.PLACED):
        return NoEntryStep.NOTHING
    if cancel_requested:
        return NoEntryStep.CANCELLED
    if timed_out:
        return NoEntryStep.TIMEOUT
    return NoEntryStep.REWAIT


class RefusalStep(StrEnum):
    REPRICE = "reprice"
    """Send it again at the new best post-only price, under a new client id."""
    ENDED = "ended"
    """The signal ended meanwhile (deadline, operator): no new attempt."""
    GIVE_UP = "give_up"
    """Refused too often in a row: wait for the zone again (no re-check at once)."""


def on_post_only_refused(refusals: int, *, timed_out: bool, cancel_requested: bool) -> RefusalStep:
    """The ``refusals``-th post-only refusal in a row of this entry."""
    if timed_out or cancel_requested:
        return RefusalStep.ENDED
    if refusals > MAX_REPRICES:
        return RefusalStep.GIVE_UP
    return RefusalStep.REPRICE
