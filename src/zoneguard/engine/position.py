"""One signal's whole life as one pure object: the entries, the exits, the deadline, the
operator's commands, and the one final outcome. It composes the engine's parts (the entry
ladder, the exit guard and their rules), takes events, and answers with intents.

The worker carries the same parts out over a live venue; the backtester feeds this object
the bars' prices and fills its intents itself. The rules it keeps on top of its parts:

* Entries start when the price is in a zone (a zone the price is in when the signal
  arrives waits for it to leave first unless ``immediate_if_in_zone``) and stop at the
  deadline, the operator's cancel, the first take-profit or the stop: working entries are
  cancelled, and whatever they filled meanwhile is guarded, or closed at once if the
  position is already being closed.
* The exit guard exists from the first fill and grows with every fill after; its stop
  and ladder act on what is held, never more.
* The lifecycle ends exactly once (:class:`Finish`): ``timeout`` or ``cancelled`` when
  nothing was ever filled and no entry works any more; ``closed`` when something was
  filled and all of it has been closed, no close or entry being on its way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from zoneguard.domain.plan import OrderPlan, widen_zone
from zoneguard.domain.values import Side
from zoneguard.engine.entries import EntryLadder, ZoneSpec
from zoneguard.engine.exits import ExitGuard, guard_for_plan
from zoneguard.engine.intents import CancelEntry, Close, ExitReason, Intent, MoveStop, PlaceEntry

ZERO = Decimal(0)


class Outcome(StrEnum):
    """The seed's final statuses of a signal."""

    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Wake the engine (:meth:`PositionEngine.on_timer`) at ``at_ms``: the deadline."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class Finish:
    """The lifecycle is over: ``outcome``, and for ``closed`` the reason of the close that
    finished it (``take_profit``, ``stop_loss``, ``break_even``, ``trailing_stop``,
    ``manual``, or the venue's stop: ``exchange_stop``)."""

    outcome: Outcome
    reason: str | None = None


EngineIntent = Intent | ArmTimer | Finish


@dataclass(frozen=True, slots=True)
class ExitFill:
    """One close that filled: ``quantity`` at ``price`` for ``reason``."""

    quantity: Decimal
    price: Decimal | None
    reason: str
    take_profit_index: int | None = None


@dataclass(slots=True)
class Ledger:
    """What happened to the position, for reports: every exit fill and the stop's moves."""

    exits: list[ExitFill] = field(default_factory=list)
    stop_moves: list[MoveStop] = field(default_factory=list)

    @property
    def closed(self) -> Decimal:
        return sum((fill.quantity for fill in self.exits), ZERO)

    @property
    def average_exit(self) -> Decimal | None:
        priced = [fill for fill in self.exits if fill.price is not None]
        quantity = sum((fill.quantity for fill in priced), ZERO)
        if quantity == 0:
            return None
        paid = sum((fill.quantity * fill.price for fill in priced if fill.price), ZERO)
        return paid / quantity


class PositionEngine:
    """Decides one signal from arrival to its final outcome. Feed it, in any order the
    venue chooses: :meth:`on_price`, :meth:`on_entry`, :meth:`on_close`, :meth:`on_timer`,
    :meth:`cancel`, :meth:`close_now`, :meth:`on_flat_elsewhere`."""

    def __init__(
        self,
        side: Side,
        zones: Sequence[ZoneSpec],
        contracts: Decimal,
        plan: OrderPlan,
        lot: Decimal,
        tick: Decimal,
        deadline_ms: int,
        *,
        immediate_if_in_zone: bool = True,
    ) -> None:
        self.side = side
        self.plan = plan
        self.lot = lot
        self.tick = tick
        self.deadline_ms = deadline_ms
        self.ladder = EntryLadder(zones, contracts, lot)
        self.immediate_if_in_zone = immediate_if_in_zone
        self.armed: list[bool] | None = None
        """Per zone: may place when the price is inside (None: no price seen yet)."""
        self.guard: ExitGuard | None = None
        self.working: set[int] = set()
        """Zones whose entry order is on its way or working (its final report not heard)."""
        self.in_flight: list[Close] = []
        self.cancel_requested = False
        self.close_requested = False
        self.flat_reason: str | None = None
        """Set when the venue closed the position by another hand (reported as the reason)."""
        self.entries_stopped = False
        self.last_reason: str | None = None
        self.outcome: Finish | None = None
        self.ledger = Ledger()

    @classmethod
    def for_plan(
        cls,
        plan: OrderPlan,
        contracts: Decimal,
        lot: Decimal,
        tick: Decimal,
        arrived_ms: int,
        *,
        zone_tolerance_percent: Decimal = ZERO,
        immediate_if_in_zone: bool = True,
    ) -> PositionEngine:
        """The engine of a validated plan sized ``contracts``: its zones (the seed's one
        zone is a ladder of one) widened by the tolerance, its deadline from arrival."""
        if plan.entry_zones:
            pairs = [(z.min, z.max, z.size_percent) for z in plan.entry_zones]
        else:
            pairs = [(plan.entry_zone_min, plan.entry_zone_max, Decimal(100))]
        zones = []
        for low, high, percent in pairs:
            wide_low, wide_high = widen_zone(low, high, zone_tolerance_percent)
            zones.append(ZoneSpec(wide_low, wide_high, percent))
        deadline = arrived_ms + plan.timeout_seconds * 1000
        return cls(
            plan.side,
            zones,
            contracts,
            plan,
            lot,
            tick,
            deadline,
            immediate_if_in_zone=immediate_if_in_zone,
        )

    # -- what it knows
    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def filled(self) -> Decimal:
        return self.ladder.filled

    @property
    def held(self) -> Decimal:
        return ZERO if self.guard is None else self.guard.held

    @property
    def stop(self) -> Decimal | None:
        return self.plan.stop_loss if self.guard is None else self.guard.stop

    def start(self) -> list[EngineIntent]:
        """The signal arrived: the deadline is armed."""
        return [ArmTimer(self.deadline_ms)]

    # -- events
    def on_price(self, price: Decimal) -> list[EngineIntent]:
        if self.finished:
            return []
        intents: list[EngineIntent] = []
        if not self.entries_stopped:
            intents += self._enter(price)
        if self.guard is not None:
            exits = self.guard.on_price(price)
            intents += self._track(exits)
            if any(isinstance(i, Close) for i in exits):
                intents += self._stop_entries()
        return intents

    def on_entry(
        self, zone_index: int, filled: Decimal, average_price: Decimal | None, *, final: bool
    ) -> list[EngineIntent]:
        """The venue's word on zone ``zone_index``'s entry: ``filled`` so far (cumulative;
        a repeat or an older report is ignored), ``final`` once the order is over."""
        if self.finished or zone_index not in self.working:
            return []
        zone = self.ladder.zones[zone_index - 1]
        if filled < zone.filled:
            return []  # older than what is known
        if final and filled == 0:
            self.working.discard(zone_index)
            self.ladder.on_refused(zone_index)  # waits for its price again, if it may
            return self._maybe_finish()
        self.ladder.on_fill(zone_index, min(filled, zone.size), average_price, final)
        if final or zone.filled >= zone.size:
            self.working.discard(zone_index)
        intents: list[EngineIntent] = []
        entered = self.ladder.filled
        if entered > 0:
            intents += self._hold(entered)
        return intents + self._maybe_finish()

    def on_close(
        self, close: Close, filled: Decimal, average_price: Decimal | None
    ) -> list[EngineIntent]:
        """A close this engine asked for is final with ``filled`` of its quantity."""
        if self.guard is None or close not in self.in_flight:
            return []
        self.in_flight.remove(close)
        filled = min(filled, close.quantity)
        if filled > 0:
            self.last_reason = close.reason.value
            self.ledger.exits.append(
                ExitFill(filled, average_price, close.reason.value, close.take_profit_index)
            )
        intents = self._track(self.guard.on_closed(close, filled))
        intents += self._close_rest()
        return intents + self._maybe_finish()

    def on_timer(self, now_ms: int) -> list[EngineIntent]:
        """The deadline's timer (or any later wake-up)."""
        if self.finished or now_ms < self.deadline_ms:
            return []
        return self._stop_entries() + self._maybe_finish()

    def cancel(self) -> list[EngineIntent]:
        """The operator's cancel: entries stop; a position already held stays guarded."""
        if self.finished:
            return []
        self.cancel_requested = True
        return self._stop_entries() + self._maybe_finish()

    def close_now(self) -> list[EngineIntent]:
        """The operator's close: entries stop and everything held is closed (``manual``);
        an entry that fills after this is closed as it comes in."""
        if self.finished:
            return []
        self.close_requested = True
        self.cancel_requested = self.cancel_requested or self.guard is None
        intents = self._stop_entries()
        if self.guard is not None:
            self._stop_guard(ExitReason.MANUAL)
            intents += self._close_rest()
        return intents + self._maybe_finish()

    def on_flat_elsewhere(self, reason: str) -> list[EngineIntent]:
        """The venue shows the position flat though no close of ours took it (the
        exchange-side stop, a liquidation, a person). Closes in flight find nothing;
        entries still working are cancelled, and what they fill is closed as it comes."""
        if self.finished or self.guard is None:
            return []
        intents = self._stop_entries()
        self.guard.held = ZERO
        self.guard.closing = ZERO
        self.in_flight.clear()
        self.guard.stopped = True
        self.last_reason = reason
        self.flat_reason = reason
        return intents + self._maybe_finish()

    # -- rules
    def _enter(self, price: Decimal) -> list[EngineIntent]:
        zones = self.ladder.zones
        if self.armed is None:  # the first price: zones it is in wait unless immediate
            self.armed = [
                self.immediate_if_in_zone or not (z.low <= price <= z.high) for z in zones
            ]
        intents: list[EngineIntent] = []
        for index, zone in enumerate(zones, start=1):
            inside = zone.low <= price <= zone.high
            if not inside:
                self.armed[index - 1] = True
                continue
            if not self.armed[index - 1]:
                continue
            if self.guard is None and self.working and index not in self.working:
                continue  # later zones add to a position: the first entry goes alone
            place = self.ladder.enter(index)
            if place is not None:
                self.working.add(index)
                intents.append(place)
        return intents

    def _hold(self, entered: Decimal) -> list[EngineIntent]:
        """``entered`` contracts are in: guard them (from the first fill), grow the guard
        with later fills, and close at once what comes in while the position is being
        closed (an entry's rest that filled before its cancel landed)."""
        average = self.ladder.average_entry
        assert average is not None
        if self.guard is None:
            self.guard = guard_for_plan(self.plan, entered, average, self.lot, self.tick)
            if self.close_requested:
                self._stop_guard(ExitReason.MANUAL)
        else:
            if not self.guard.stopped:
                self.guard.entry = average
            self.guard.grow_to(entered)
        return self._close_rest()

    def _stop_guard(self, reason: ExitReason) -> None:
        assert self.guard is not None
        self.guard.stopped = True
        self.guard.stop_reason = reason

    def _track(self, intents: Sequence[Intent]) -> list[EngineIntent]:
        out: list[EngineIntent] = []
        for intent in intents:
            if isinstance(intent, Close):
                self.in_flight.append(intent)
            elif isinstance(intent, MoveStop):
                self.ledger.stop_moves.append(intent)
            out.append(intent)
        return out

    def _close_rest(self) -> list[EngineIntent]:
        """Once the position is being closed (the stop, the last rung, the operator),
        whatever is held and not already being closed goes too."""
        guard = self.guard
        if guard is None or guard.free <= 0 or guard.closing > 0:
            return []
        every_rung_sent = bool(guard.legs) and all(leg.sent for leg in guard.legs)
        if guard.stopped:
            close = Close(guard.free, guard.stop_reason)
        elif every_rung_sent and not self.working:
            close = Close(guard.free, ExitReason.TAKE_PROFIT)
        else:
            return []
        guard.closing += close.quantity
        return self._track([close])

    def _stop_entries(self) -> list[EngineIntent]:
        if self.entries_stopped:
            return []
        self.entries_stopped = True
        cancels = self.ladder.on_deadline()
        return [c for c in cancels if isinstance(c, CancelEntry)]

    def _maybe_finish(self) -> list[EngineIntent]:
        if self.finished or self.working:
            return []
        if self.ladder.filled == 0:
            if not self.entries_stopped:
                return []
            outcome = Outcome.CANCELLED if self.cancel_requested else Outcome.TIMEOUT
            return self._finish(Finish(outcome))
        guard = self.guard
        assert guard is not None
        if guard.held > 0 or guard.closing > 0:
            return []
        return self._finish(Finish(Outcome.CLOSED, self.flat_reason or self.last_reason))

    def _finish(self, finish: Finish) -> list[EngineIntent]:
        self.outcome = finish
        return [finish]


__all__ = [
    "ArmTimer",
    "CancelEntry",
    "Close",
    "EngineIntent",
    "ExitFill",
    "Finish",
    "Ledger",
    "MoveStop",
    "Outcome",
    "PlaceEntry",
    "PositionEngine",
]
