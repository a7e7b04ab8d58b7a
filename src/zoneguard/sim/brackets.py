"""Leverage brackets (``GET /contract/public/leverage-bracket``, PROTOCOL §5.4).

One table for every contract: a bigger position allows less leverage and needs a higher
maintenance margin ratio. Caps are ``MAX_NOTIONAL_AT_1X / leverage``, the same limit the
simulator reports as ``max_value`` (submit-leverage) and ``max_notional_value`` (positions),
so the three endpoints agree. ``cum`` is the maintenance amount carried over from the lower
brackets: ``cum[i] = cum[i-1] + floor[i] * (mmr[i] - mmr[i-1])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MAX_NOTIONAL_AT_1X = Decimal(50_000_000)
TIERS: tuple[tuple[int, Decimal], ...] = (
    (100, Decimal("0.004")),
    (50, Decimal("0.005")),
    (20, Decimal("0.01")),
    (10, Decimal("0.025")),
    (5, Decimal("0.05")),
    (2, Decimal("0.1")),
    (1, Decimal("0.125")),
)
"""(initial leverage, maintenance margin ratio) from the first bracket to the last."""


@dataclass(frozen=True, slots=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


def max_notional_at(leverage: Decimal) -> Decimal:
    """The largest position notional allowed at ``leverage``, whole USDT."""
    return (MAX_NOTIONAL_AT_1X / leverage).quantize(Decimal(1))


def brackets_for(max_leverage: int) -> list[Bracket]:
    """The brackets of a contract whose leverage goes up to ``max_leverage``."""
    tiers = [(leverage, ratio) for leverage, ratio in TIERS if leverage < max_leverage]
    first_ratio = next(ratio for leverage, ratio in TIERS if leverage <= max_leverage)
    tiers.insert(0, (max_leverage, first_ratio))
    out: list[Bracket] = []
    floor = Decimal(0)
    cum = Decimal(0)
    previous_ratio = first_ratio
    for number, (leverage, ratio) in enumerate(tiers, 1):
        cum += floor * (ratio - previous_ratio)
        cap = max_notional_at(Decimal(leverage))
        out.append(Bracket(number, leverage, floor, cap, ratio, cum))
        floor, previous_ratio = cap, ratio
    return out
