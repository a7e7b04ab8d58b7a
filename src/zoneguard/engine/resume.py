"""What a restarted worker does with a position its journal says it guards, once the venue
has said what it holds: a pure decision the reconciler carries out.

The journal is the worker's memory and the venue is the truth. A position gone flat while
the worker was down was closed by someone (the exchange's stop, a liquidation, a person):
it is reported closed, never guarded forever. One the venue holds less of than the journal
says was partly closed meanwhile: only what is there is guarded and, later, closed. With the
side shared by several signals the venue's figure is all of theirs together, so no single
signal can be cut down to it.

Before that, the journaled orders are looked up by the ids written before they were sent:
an entry is asked for while the venue's reads may lag, then either adopted, kept (the venue
had accepted it), or sent again under the same client id; a close found is awaited, one
never sent is sent again. A position found flat is reported with the preset that closed it
when the minute bars can tell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from zoneguard.domain.values import Side


class HeldKind(StrEnum):
    GUARD = "guard"
    """Guard it as journaled."""
    SHRINK = "shrink"
    """Partly closed while the worker was down: guard ``quantity``, what is there."""
    REPORT_FLAT = "report_flat"
    """Closed while the worker was down: find out how, report it once."""


@dataclass(frozen=True, slots=True)
class HeldDecision:
    kind: HeldKind
    quantity: Decimal = Decimal(0)


def decide_held(held: Decimal, ours: Decimal, *, shared: bool) -> HeldDecision:
    """``held``: the venue's position of the side; ``ours``: what the journal says this
    order holds; ``shared``: other signals hold parts of the same position."""
    if held <= 0:
        return HeldDecision(HeldKind.REPORT_FLAT)
    if held < ours and not shared:
        return HeldDecision(HeldKind.SHRINK, held)
    return HeldDecision(HeldKind.GUARD)


ACCEPTED_ENTRY_PATIENCE_S = 20.0
"""How long an entry the venue accepted (it gave us its id) is asked for after a restart
while the venue's reads do not show it yet. It exists: only its reads lag."""
UNSEEN_ENTRY_PATIENCE_S = 2.0
"""The same for an entry sent with no answer heard (it may never have left): a short lag is
waited out; past it, the same client id goes again when the zone is entered."""


class LookupStep(StrEnum):
    ADOPT = "adopt"
    """The venue shows the entry: read its fills as any report."""
    ASK_AGAIN = "ask_again"
    """Not shown yet, within the patience: ask again after a back-off."""
    KEEP_ACCEPTED = "keep_accepted"
    """Accepted yet still not shown: it exists; keep its state, ask about it later. Never
    taken for an order that did not land (waiting for the zone again would miss fills)."""
    REWAIT_SAME_ID = "rewait_same_id"
    """Never answered and not found: back to its zone; the *same* client id goes next, so
    if it did land the venue refuses the double and the original is adopted."""


def entry_patience_s(*, accepted: bool) -> float:
    return ACCEPTED_ENTRY_PATIENCE_S if accepted else UNSEEN_ENTRY_PATIENCE_S


def after_entry_lookup(*, found: bool, accepted: bool, waited_s: float) -> LookupStep:
    """A restart asked the venue for a journaled entry (by its id, else its client id)
    ``waited_s`` seconds after the first lookup; ``accepted``: the venue had answered it."""
    if found:
        return LookupStep.ADOPT
    if waited_s < entry_patience_s(accepted=accepted):
        return LookupStep.ASK_AGAIN
    return LookupStep.KEEP_ACCEPTED if accepted else LookupStep.REWAIT_SAME_ID


class CloseResume(StrEnum):
    AWAIT = "await"
    """The close sent before the crash exists: wait for its outcome, then settle."""
    SEND = "send"
    """It never reached the venue (or none was sent): close again, for the same reason."""


def resume_close(*, found: bool) -> CloseResume:
    return CloseResume.AWAIT if found else CloseResume.SEND


@dataclass(frozen=True, slots=True)
class Bar:
    """A price bar as this decision needs it: when it opened (ms) and its extremes."""

    open_ms: int
    high: Decimal
    low: Decimal


BAR_MS = 60_000


def preset_that_fired(
    side: Side,
    stop: Decimal | None,
    take: Decimal | None,
    bars: Iterable[Bar],
    since_ms: int,
) -> str | None:
    """Which of the venue's preset levels closed a position while the worker was down,
    read from minute bars since the entry was sent: the first bar reaching one level names
    it (``stop_loss`` or ``take_profit``). None when no bar reached either, or one bar
    reached both (which came first is unknowable from the bar)."""
    if stop is None and take is None:
        return None
    long = side is Side.LONG
    for bar in bars:
        if bar.open_ms + BAR_MS < since_ms:
            continue
        hit_stop = stop is not None and (bar.low <= stop if long else bar.high >= stop)
        hit_take = take is not None and (bar.high >= take if long else bar.low <= take)
        if hit_stop and hit_take:
            return None
        if hit_stop:
            return "stop_loss"
        if hit_take:
            return "take_profit"
    return None
