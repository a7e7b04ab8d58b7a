"""When a close of a position is over, and what is left to do: the decision the stop-loss /
take-profit monitor used to take inline, as pure functions.

A close is sent for what the order holds; the venue then says what it filled. A signal
alone on its side settles by the venue's position (whatever filled, the position is the
truth: closed when flat, else the rest is closed). A signal sharing its side with others
settles by its own contracts (what its entries filled, less what its closes took): the
position holds the others' too, so only its own rest is closed, never more than is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class SettleKind(StrEnum):
    CLOSED = "closed"
    """Report the position closed (at the average of the closes that filled)."""
    CLOSE_REST = "close_rest"
    """Close ``quantity`` more (reduce-only), then settle again."""
    CHECK_FLAT = "check_flat"
    """None of our closes took what is gone: the position is flat by another hand (the
    exchange's stop, a manual close); find out which and report it once."""


@dataclass(frozen=True, slots=True)
class Settlement:
    kind: SettleKind
    quantity: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    """What the venue said of the close and around it."""

    whole: bool
    """The close filled all it was sent for."""
    entry_was_working: bool = False
    """The entry's rest worked while the close went out (it may have added contracts)."""
    managed: bool = False
    """An exit-legs plan: rungs may have closed parts beside this close."""
    shared: bool = False
    """Other signals hold parts of the venue's position."""
    closed_any: bool = True
    """Some close of ours filled something."""


def needs_position(outcome: CloseOutcome) -> bool:
    """Whether the venue's position must be read before deciding (one REST call)."""
    return outcome.shared or not outcome.whole or outcome.entry_was_working or outcome.managed


def settle_close(
    outcome: CloseOutcome, position: Decimal | None, own_open: Decimal = ZERO
) -> Settlement:
    """The next step once a close is final. ``position``: the venue's position (read when
    :func:`needs_position` says so); ``own_open``: with a shared side, what is still open
    of the order's own contracts."""
    if outcome.shared:
        if own_open <= 0:
            return Settlement(SettleKind.CLOSED)
        if position is None:
            raise ValueError("a shared position settles with the venue's position in hand")
        if position <= 0:
            return Settlement(SettleKind.CHECK_FLAT)
        return Settlement(SettleKind.CLOSE_REST, min(own_open, position))
    if needs_position(outcome):
        if position is None:
            raise ValueError("this close settles by the venue's position: read it first")
        if position > 0:
            return Settlement(SettleKind.CLOSE_REST, position)
    return Settlement(SettleKind.CLOSED if outcome.closed_any else SettleKind.CHECK_FLAT)
