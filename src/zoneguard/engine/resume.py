"""What a restarted worker does with a position its journal says it guards, once the venue
has said what it holds: a pure decision the reconciler carries out.

The journal is the worker's memory and the venue is the truth. A position gone flat while
the worker was down was closed by someone (the exchange's stop, a liquidation, a person):
it is reported closed, never guarded forever. One the venue holds less of than the journal
says was partly closed meanwhile: only what is there is guarded and, later, closed. With the
side shared by several signals the venue's figure is all of theirs together, so no single
signal can be cut down to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


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
