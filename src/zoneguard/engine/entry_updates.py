"""What the venue's word on an order's entry means for the order: the decision the fill
tracker used to take inline, as a pure function the worker (and the backtester) call.

The venue reports the entry order (a push, a REST read after a lost push, a lookup after a
restart): how much has filled and whether the order is over. Whatever the order and the
repeats of those reports, the order moves forward only: accepted once, guarded from its
first fill, open (its one ``filled`` callback) once it filled whole or its rest ended, or
back to waiting for its zone when it ended with nothing filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from zoneguard.domain.lifecycle import OrderState


class EntryStep(StrEnum):
    """One thing the worker does about an entry report, in the order given."""

    ADOPT = "adopt"
    """An attempt the order was waiting to send again is live after all: it is the entry."""
    ACCEPTED = "accepted"
    """The venue has the entry: ``placed``."""
    OPEN = "open"
    """It filled whole, or ended with a part filled: guarded, ``filled`` sent (once)."""
    PARTIAL = "partial"
    """A part filled and the rest still works: guard what filled now."""
    REWAIT = "rewait"
    """It ended with nothing filled: wait for the zone again."""
    CANCEL_REST = "cancel_rest"
    """Adopted after its deadline: cancel what still works."""


@dataclass(frozen=True, slots=True)
class EntryReport:
    """The venue's word on the entry order: ``filled`` contracts so far, over or not, and
    whether it is about the order's current attempt (an earlier one, refused as post-only,
    never fills)."""

    filled: Decimal
    final: bool
    current_attempt: bool = True


@dataclass(frozen=True, slots=True)
class EntryDecision:
    steps: tuple[EntryStep, ...] = ()
    record_fill: bool = False
    """The report's fill counts for the order (the worker updates its fill facts)."""
    whole: bool = False
    """With ``OPEN``: every contract of the entry filled."""
    cut_short: bool = False
    """With ``OPEN``: its deadline stopped it short (the ``filled`` says so; the position
    lives on, guarded)."""
    earlier_attempt_filled: bool = False
    """An earlier attempt reports fills: never expected (alarm)."""


IGNORED = EntryDecision()
_PAST_ENTRY = frozenset({OrderState.CLOSING, OrderState.CLOSE_FAILED})


def decide_entry(
    state: OrderState,
    report: EntryReport,
    contracts: Decimal,
    *,
    timed_out: bool,
    cancel_requested: bool,
) -> EntryDecision:
    """What an entry report means for an order in ``state`` sized ``contracts``.
    ``timed_out``: its deadline passed (or the operator cancelled it, ``cancel_requested``:
    then a part filled is no "cut short", it is what the trader chose)."""
    if not report.current_attempt:
        return EntryDecision(earlier_attempt_filled=report.filled > 0)
    if state.is_terminal or state in _PAST_ENTRY:
        return IGNORED
    steps: list[EntryStep] = []
    if state is OrderState.WAITING_ZONE:
        if report.final and report.filled == 0:
            return IGNORED  # an attempt that ended unfilled: the order waits already
        steps.append(EntryStep.ADOPT)
        state = OrderState.PLACING
    if state is OrderState.PLACING:
        steps.append(EntryStep.ACCEPTED)
    if state is OrderState.OPEN:
        return EntryDecision(tuple(steps), record_fill=True)
    whole = cut_short = False
    if report.filled > 0 and (report.filled >= contracts or report.final):
        steps.append(EntryStep.OPEN)
        whole = report.filled >= contracts
        cut_short = not whole and timed_out and not cancel_requested
    elif report.filled > 0:
        steps.append(EntryStep.PARTIAL)
    elif report.final:
        steps.append(EntryStep.REWAIT)
    if timed_out and state is OrderState.PLACING and not report.final:
        steps.append(EntryStep.CANCEL_REST)
    return EntryDecision(tuple(steps), record_fill=True, whole=whole, cut_short=cut_short)
