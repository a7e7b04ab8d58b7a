"""The exit side of one position: a stop (which break-even and a trailing stop may tighten)
and a take-profit ladder, decided price by price.

Quantities are contracts. Closes in flight are counted apart from what is held, so a
second price update while a close is on its way never closes the same contracts again,
and nothing ever asks to close more than is held and not already being closed. The stop
takes precedence over the ladder: a price that crosses both closes everything at the stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from zoneguard.domain.stop_rules import (
    TrailingStop,
    break_even_level,
    moved_in_favour,
    tighter,
)
from zoneguard.domain.values import Side
from zoneguard.engine.intents import Close, ExitReason, Intent, MoveStop

ZERO = Decimal(0)


@dataclass(slots=True)
class TakeProfitLeg:
    """One rung of the ladder: ``size`` contracts at ``price``; ``sent`` once its close is
    asked for, ``closed`` what of it has filled."""

    price: Decimal
    size: Decimal
    sent: bool = False
    closed: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class BreakEvenRule:
    """Move the stop to the average entry plus ``offset_percent`` once TP
    ``after_take_profit`` (1-based) has filled, or once the price is ``trigger_percent`` %
    in favour from the entry. Exactly one of the two is set."""

    after_take_profit: int | None = None
    trigger_percent: Decimal | None = None
    offset_percent: Decimal = ZERO

    def __post_init__(self) -> None:
        if (self.after_take_profit is None) == (self.trigger_percent is None):
            raise ValueError("break_even needs one of after_take_profit or trigger_percent")


class ExitGuard:
    """Decides the exits of one open position. Feed it prices (:meth:`on_price`) and the
    fills of the closes it asked for (:meth:`on_closed`); it answers with intents."""

    def __init__(
        self,
        side: Side,
        held: Decimal,
        entry: Decimal,
        stop: Decimal,
        legs: list[TakeProfitLeg],
        tick: Decimal,
        break_even: BreakEvenRule | None = None,
        trailing: TrailingStop | None = None,
    ) -> None:
        if held <= 0:
            raise ValueError(f"held must be above 0, got {held}")
        if sum((leg.size for leg in legs), ZERO) > held:
            raise ValueError("the ladder's legs add up to more than is held")
        self.side = side
        self.held = held
        self.entry = entry
        self.stop = stop
        self.stop_reason = ExitReason.STOP_LOSS
        self.legs = legs
        self.tick = tick
        self.break_even = break_even
        self.break_even_done = False
        self.trailing = trailing
        self.closing = ZERO
        """Contracts asked to close whose fills have not come back yet."""
        self.stopped = False
        """The stop fired: everything left is being closed, the ladder is over."""

    @property
    def free(self) -> Decimal:
        """Held and not already being closed: the most any new close may ask for."""
        return self.held - self.closing

    @property
    def flat(self) -> bool:
        return self.held <= 0

    def on_price(self, price: Decimal) -> list[Intent]:
        if self.flat or self.stopped:
            return []
        if self._stop_crossed(price):
            return self._close_at_stop()
        intents: list[Intent] = []
        for index, leg in enumerate(self.legs, start=1):
            if not leg.sent and self._target_crossed(price, leg.price):
                quantity = min(leg.size, self.free)
                if quantity <= 0:
                    continue
                leg.sent = True
                self.closing += quantity
                intents.append(Close(quantity, ExitReason.TAKE_PROFIT, index))
        rule = self.break_even
        if (
            rule is not None
            and rule.trigger_percent is not None
            and moved_in_favour(self.side, self.entry, price, rule.trigger_percent)
        ):
            intents += self._move_to_break_even()
        if self.trailing is not None:
            self.trailing = self.trailing.seen(self.side, price)
            level = self.trailing.level(self.side, self.tick)
            if level is not None:
                intents += self._tighten(level, ExitReason.TRAILING_STOP)
        return intents

    def on_closed(self, close: Close, filled: Decimal) -> list[Intent]:
        """The close asked for by ``close`` is final with ``filled`` contracts. What did not
        fill is free again (the next price decides anew; a take-profit leg that did not fill
        whole stays sent: its rest waits for the stop or a later leg)."""
        if filled < 0 or filled > close.quantity:
            raise ValueError(f"filled {filled} is outside 0..{close.quantity}")
        self.closing -= close.quantity
        self.held -= filled
        intents: list[Intent] = []
        if close.take_profit_index is not None:
            leg = self.legs[close.take_profit_index - 1]
            leg.closed += filled
            rule = self.break_even
            if (
                rule is not None
                and rule.after_take_profit == close.take_profit_index
                and leg.closed > 0
            ):
                intents += self._move_to_break_even()
        if self.stopped and self.free > 0 and self.closing == 0:
            # A stop close filled in part: the rest goes at once, for the same reason.
            quantity = self.free
            self.closing += quantity
            intents.append(Close(quantity, self.stop_reason))
        return intents

    # -- rules
    def _stop_crossed(self, price: Decimal) -> bool:
        return price <= self.stop if self.side is Side.LONG else price >= self.stop

    def _target_crossed(self, price: Decimal, target: Decimal) -> bool:
        return price >= target if self.side is Side.LONG else price <= target

    def _close_at_stop(self) -> list[Intent]:
        self.stopped = True
        quantity = self.free
        if quantity <= 0:
            return []  # closes in flight cover everything held
        self.closing += quantity
        return [Close(quantity, self.stop_reason)]

    def _move_to_break_even(self) -> list[Intent]:
        if self.break_even_done or self.break_even is None:
            return []
        self.break_even_done = True
        level = break_even_level(self.side, self.entry, self.break_even.offset_percent, self.tick)
        return self._tighten(level, ExitReason.BREAK_EVEN)

    def _tighten(self, level: Decimal, reason: ExitReason) -> list[Intent]:
        if tighter(self.side, self.stop, level) == self.stop:
            return []  # it would loosen the stop, or leave it where it is
        self.stop = level
        self.stop_reason = reason
        return [MoveStop(level, reason)]
