"""Where a position's stop may move: break-even and the trailing stop, as pure rules.

A stop only ever tightens (moves towards the price that pays); every rule here returns a
candidate level, and :func:`tighter` keeps the old one when the candidate would loosen it.
Levels land on the tick grid on the side that keeps the trader's promise: break-even covers
at least its offset, a trailing stop stays at least ``callback_percent`` behind the best price.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal

from zoneguard.domain.contract import round_to_step
from zoneguard.domain.values import Side

HUNDRED = Decimal(100)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Fixed context: a caller's thread-local decimal settings cannot move a level."""


def _percent_of(value: Decimal, percent: Decimal) -> Decimal:
    """``percent`` % of ``value`` (110 % of 100 is 110)."""
    return _EXACT.divide(_EXACT.multiply(value, percent), HUNDRED)


def tighter(side: Side, current: Decimal | None, candidate: Decimal) -> Decimal:
    """The tighter of two stop levels: the higher for a long, the lower for a short."""
    if current is None:
        return candidate
    if side is Side.LONG:
        return max(current, candidate)
    return min(current, candidate)


def stop_crossed(side: Side, stop: Decimal | None, price: Decimal) -> bool:
    """Whether ``price`` is at or through ``stop`` (a long's stop fires at or below it)."""
    if stop is None:
        return False
    return price <= stop if side is Side.LONG else price >= stop


def favour_level(side: Side, entry: Decimal, percent: Decimal) -> Decimal:
    """The price ``percent`` % in the position's favour from ``entry``."""
    if side is Side.LONG:
        return _percent_of(entry, HUNDRED + percent)
    return _percent_of(entry, HUNDRED - percent)


def moved_in_favour(side: Side, entry: Decimal, price: Decimal, percent: Decimal) -> bool:
    """True once ``price`` is ``percent`` % or more in the position's favour from ``entry``."""
    level = favour_level(side, entry, percent)
    return price >= level if side is Side.LONG else price <= level


def break_even_level(side: Side, entry: Decimal, offset_percent: Decimal, tick: Decimal) -> Decimal:
    """The average entry plus the offset (fees), on the grid: rounded up for a long, down
    for a short, so the offset is covered in full."""
    if side is Side.LONG:
        return round_to_step(_percent_of(entry, HUNDRED + offset_percent), tick, "up")
    return round_to_step(_percent_of(entry, HUNDRED - offset_percent), tick, "down")


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """A trailing stop's rule and where it stands. ``best`` is the best price seen since
    it activated (None: not active yet); it is what a restart must restore."""

    callback_percent: Decimal
    activation_price: Decimal
    best: Decimal | None = None

    @classmethod
    def from_percent(
        cls, side: Side, entry: Decimal, activation_percent: Decimal, callback_percent: Decimal
    ) -> TrailingStop:
        """Activation ``activation_percent`` % in favour from the average entry."""
        factor = HUNDRED + activation_percent if side is Side.LONG else HUNDRED - activation_percent
        return cls(callback_percent, _percent_of(entry, factor))

    @property
    def active(self) -> bool:
        return self.best is not None

    def seen(self, side: Side, price: Decimal) -> TrailingStop:
        """The state after ``price``: activated once the price reaches the activation
        level, and ``best`` kept as the best price since."""
        if self.best is None:
            reached = (
                price >= self.activation_price
                if side is Side.LONG
                else price <= self.activation_price
            )
            return replace(self, best=price) if reached else self
        better = price > self.best if side is Side.LONG else price < self.best
        return replace(self, best=price) if better else self

    def level(self, side: Side, tick: Decimal) -> Decimal | None:
        """The stop ``callback_percent`` behind the best price (None: not active), on the
        grid away from the price, so the distance is never less than promised."""
        if self.best is None:
            return None
        if side is Side.LONG:
            raw = _percent_of(self.best, HUNDRED - self.callback_percent)
            return round_to_step(raw, tick, "down")
        raw = _percent_of(self.best, HUNDRED + self.callback_percent)
        return round_to_step(raw, tick, "up")
