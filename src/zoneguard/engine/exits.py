"""The exit side of one position: a stop (which break-even and a trailing stop may tighten)
and a take-profit ladder, decided price by price.

Quantities are contracts. Closes in flight are counted apart from what is held, so a
second price update while a close is on its way never closes the same contracts again,
and nothing ever asks to close more than is held and not already being closed. The stop
takes precedence over the ladder: a price that crosses both closes everything at the stop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from zoneguard.domain.legs import split_in_lots
from zoneguard.domain.plan import OrderPlan
from zoneguard.domain.stop_rules import (
    TrailingStop,
    break_even_level,
    favour_level,
    moved_in_favour,
    stop_crossed,
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
        stop: Decimal | None,
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
        self.filled = held
        """Contracts entered so far: what the legs' sizes are shares of."""
        self.percents: tuple[Decimal, ...] = ()
        self.lot = tick

    @classmethod
    def for_plan(
        cls,
        side: Side,
        filled: Decimal,
        entry: Decimal,
        stop: Decimal | None,
        targets: Sequence[tuple[Decimal, Decimal]],
        lot: Decimal,
        tick: Decimal,
        break_even: BreakEvenRule | None = None,
        trailing: TrailingStop | None = None,
    ) -> ExitGuard:
        """The guard of a plan's position: ``targets`` are (price, size_percent) rungs,
        sized from ``filled`` in whole ``lot``s (see :func:`split_in_lots`)."""
        percents = tuple(percent for _, percent in targets)
        sizes = split_in_lots(filled, percents, lot) if targets else []
        legs = [TakeProfitLeg(price, size) for (price, _), size in zip(targets, sizes, strict=True)]
        guard = cls(side, filled, entry, stop, legs, tick, break_even, trailing)
        guard.percents = percents
        guard.lot = lot
        return guard

    @property
    def free(self) -> Decimal:
        """Held and not already being closed: the most any new close may ask for."""
        return self.held - self.closing

    @property
    def flat(self) -> bool:
        return self.held <= 0

    def trigger_levels(self) -> tuple[Decimal | None, Decimal | None]:
        """(the stop, the nearest level in favour where something would change): the only
        prices worth waking this guard for, so the trigger index can keep it asleep."""
        if self.flat or self.stopped:
            return None, None
        candidates = [leg.price for leg in self.legs if not leg.sent]
        rule = self.break_even
        if rule is not None and rule.trigger_percent is not None and not self.break_even_done:
            candidates.append(favour_level(self.side, self.entry, rule.trigger_percent))
        if self.trailing is not None:
            trailing = self.trailing
            if trailing.best is None:
                candidates.append(trailing.activation_price)
            else:  # a new best is a price past the best by a tick at least
                step = self.tick if self.side is Side.LONG else -self.tick
                candidates.append(trailing.best + step)
        if not candidates:
            return self.stop, None
        nearest = min(candidates) if self.side is Side.LONG else max(candidates)
        return self.stop, nearest

    def grow_to(self, filled: Decimal) -> None:
        """The entry filled more (``filled`` in all): hold it, and size the legs not yet
        sent from the new total (a leg already sent keeps its size)."""
        if filled <= self.filled:
            return
        self.held += filled - self.filled
        self.filled = filled
        if self.percents:
            sizes = split_in_lots(filled, self.percents, self.lot)
            for leg, size in zip(self.legs, sizes, strict=True):
                if not leg.sent:
                    leg.size = size

    def snapshot(self) -> dict[str, Any]:
        """Where this guard stands, as JSON text values: the journal keeps it so a restart
        resumes with the same quantities and a stop no looser than the last one."""
        best = None if self.trailing is None else self.trailing.best
        return {
            "held": str(self.held),
            "filled": str(self.filled),
            "closing": str(self.closing),
            "stop": None if self.stop is None else str(self.stop),
            "stop_reason": self.stop_reason.value,
            "stopped": self.stopped,
            "break_even_done": self.break_even_done,
            "trailing_best": None if best is None else str(best),
            "legs": [
                {"size": str(leg.size), "sent": leg.sent, "closed": str(leg.closed)}
                for leg in self.legs
            ],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a :meth:`snapshot` over the plan's rules (this guard was built from
        the same plan): quantities, the stop, the legs' progress, the trailing best."""
        self.held = Decimal(state["held"])
        self.filled = Decimal(state["filled"])
        self.closing = Decimal(state["closing"])
        stop = state.get("stop")
        self.stop = None if stop is None else Decimal(stop)
        self.stop_reason = ExitReason(state["stop_reason"])
        self.stopped = bool(state["stopped"])
        self.break_even_done = bool(state["break_even_done"])
        best = state.get("trailing_best")
        if self.trailing is not None and best is not None:
            self.trailing = replace(self.trailing, best=Decimal(best))
        for leg, saved in zip(self.legs, state["legs"], strict=True):
            leg.size = Decimal(saved["size"])
            leg.sent = bool(saved["sent"])
            leg.closed = Decimal(saved["closed"])

    def on_price(self, price: Decimal) -> list[Intent]:
        if self.flat or self.stopped:
            return []
        if stop_crossed(self.side, self.stop, price):
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
            if filled == 0 and not self.stopped:
                leg.sent = False  # nothing closed (refused): the next price may try again
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


def guard_for_plan(
    plan: OrderPlan, filled: Decimal, entry: Decimal, lot: Decimal, tick: Decimal
) -> ExitGuard:
    """The exit guard a plan's position gets once ``filled`` contracts are in at the
    average ``entry``: its stop, its ladder (the seed's one take-profit is a ladder of one),
    its break-even and trailing rules (a trailing activation in percent counts from
    ``entry``)."""
    rule = plan.break_even
    break_even = (
        None
        if rule is None
        else BreakEvenRule(rule.after_take_profit, rule.trigger_percent, rule.offset_percent)
    )
    trail = plan.trailing_stop
    trailing: TrailingStop | None = None
    if trail is not None:
        if trail.activation_price is not None:
            trailing = TrailingStop(trail.callback_percent, trail.activation_price)
        else:
            assert trail.activation_percent is not None
            trailing = TrailingStop.from_percent(
                plan.side, entry, trail.activation_percent, trail.callback_percent
            )
    return ExitGuard.for_plan(
        plan.side,
        filled,
        entry,
        plan.stop_loss,
        [(target.price, target.size_percent) for target in plan.targets],
        lot,
        tick,
        break_even,
        trailing,
    )
