"""How a filled quantity is shared among the legs of a plan (a take-profit ladder, entry
zones), in whole lots.

A venue takes only whole lots, so a leg's share of the fill is rounded down to the lot, and
the last leg takes what is left: the legs always add up to exactly what filled, and the
ladder never closes more than is held. A leg whose share is below one lot cannot be sent
at all; its share merges into the next leg (TP1 at 1 % of 10 contracts closes nothing, TP2
closes it too), so no contract is left without a target.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal

from zoneguard.domain.contract import round_to_step

HUNDRED = Decimal(100)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Fixed context: a caller's thread-local decimal settings cannot move a share."""


def check_percents(percents: Sequence[Decimal], field: str) -> None:
    """The legs' ``size_percent`` values: each above 0, together exactly 100 (ValueError
    naming ``field`` otherwise). Exact decimals: 33.33 + 33.33 + 33.34 is 100, 33.3 x 3 is not."""
    if not percents:
        raise ValueError(f"{field}: at least one leg is needed")
    for index, percent in enumerate(percents):
        if not percent.is_finite() or percent <= 0:
            raise ValueError(f"{field}[{index}].size_percent must be above 0, got {percent}")
    total = sum(percents, Decimal(0))
    if total != HUNDRED:
        raise ValueError(f"{field}: size_percent values add up to {total}, not 100")


def split_in_lots(filled: Decimal, percents: Sequence[Decimal], lot: Decimal) -> list[Decimal]:
    """Each leg's quantity, aligned with ``percents`` (0 for a leg merged into the next).

    ``filled`` must lie on the ``lot`` grid (fills do). Every leg but the last gets its
    share (its own percent plus any merged into it) rounded down to the lot; a share below
    one lot merges forward; the last leg takes the rest, so the result adds up to ``filled``.
    """
    check_percents(percents, "legs")
    if not lot.is_finite() or lot <= 0:
        raise ValueError(f"lot must be above 0, got {lot}")
    if filled < 0 or round_to_step(filled, lot, "down") != filled:
        raise ValueError(f"filled {filled} is not a whole number of lots of {lot}")
    sizes: list[Decimal] = []
    carried = Decimal(0)
    given = Decimal(0)
    for percent in percents[:-1]:
        share = round_to_step(
            _EXACT.divide(_EXACT.multiply(filled, percent + carried), HUNDRED), lot, "down"
        )
        if share < lot:
            carried += percent
            sizes.append(Decimal(0))
            continue
        carried = Decimal(0)
        sizes.append(share)
        given += share
    sizes.append(filled - given)
    return sizes
