"""The entry side of one signal with several zones (pyramiding): each zone places its own
entry the first time the price is inside it; the position's entry is the size-weighted
average of what filled; the deadline cancels what has not been entered.

Zone sizes are shares of the signal's quantity in whole lots (:func:`split_in_lots`): a
zone too small for one lot merges into the next, so the zones always add up to the
signal's quantity and no zone asks for an order the venue would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from zoneguard.domain.legs import split_in_lots
from zoneguard.engine.intents import CancelEntry, PlaceEntry

ZERO = Decimal(0)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Fixed context: a caller's thread-local decimal settings cannot move the average."""


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """One zone of the plan: ``[low, high]`` and its share of the quantity."""

    low: Decimal
    high: Decimal
    size_percent: Decimal

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"zone low {self.low} is above its high {self.high}")


@dataclass(slots=True)
class EntryZone:
    """A zone as the engine tracks it: its size in contracts, whether its entry was asked
    for, what of it filled and at what average price, and whether it is over."""

    low: Decimal
    high: Decimal
    size: Decimal
    sent: bool = False
    filled: Decimal = ZERO
    average_price: Decimal | None = None
    over: bool = False


class EntryLadder:
    """Decides the entries of one signal. Feed it prices, fills and the deadline."""

    def __init__(self, zones: Sequence[ZoneSpec], quantity: Decimal, lot: Decimal) -> None:
        sizes = split_in_lots(quantity, [zone.size_percent for zone in zones], lot)
        self.zones = [
            EntryZone(zone.low, zone.high, size, over=size == 0)
            for zone, size in zip(zones, sizes, strict=True)
        ]
        self.expired = False

    @classmethod
    def restored(cls, zones: Sequence[ZoneSpec], saved: Mapping[str, Any]) -> EntryLadder:
        """A ladder as :meth:`snapshot` left it (its sizes were fixed when it was made)."""
        ladder = cls.__new__(cls)
        ladder.zones = [EntryZone(zone.low, zone.high, ZERO, over=True) for zone in zones]
        ladder.expired = False
        ladder.restore(saved)
        return ladder

    @property
    def filled(self) -> Decimal:
        return sum((zone.filled for zone in self.zones), ZERO)

    @property
    def average_entry(self) -> Decimal | None:
        """The size-weighted average price of every fill so far (None: nothing filled)."""
        filled = self.filled
        if filled == 0:
            return None
        paid = sum(
            (zone.filled * zone.average_price for zone in self.zones if zone.average_price),
            ZERO,
        )
        return _EXACT.divide(paid, filled)

    @property
    def finished(self) -> bool:
        """Every zone is over: filled, cancelled, or past the deadline unentered."""
        return all(zone.over for zone in self.zones)

    def enter(self, zone_index: int) -> PlaceEntry | None:
        """The price is in zone ``zone_index`` (1-based): its entry, unless it was asked for
        already, is over, or entries have stopped."""
        zone = self.zones[zone_index - 1]
        if self.expired or zone.sent or zone.over:
            return None
        zone.sent = True
        return PlaceEntry(zone_index, zone.size)

    def on_refused(self, zone_index: int) -> None:
        """The zone's entry ended with nothing filled (post-only refused, cancelled by the
        venue): it waits for the price again, unless entries have stopped."""
        zone = self.zones[zone_index - 1]
        if zone.filled > 0 or zone.over:
            return
        zone.sent = False
        zone.over = self.expired

    def give_up(self, zone_index: int) -> None:
        """The venue refused the zone's entry for good: the zone is over with what it has."""
        self.zones[zone_index - 1].over = True

    def on_price(self, price: Decimal) -> list[PlaceEntry]:
        if self.expired:
            return []
        intents: list[PlaceEntry] = []
        for index, zone in enumerate(self.zones, start=1):
            if not zone.sent and not zone.over and zone.low <= price <= zone.high:
                zone.sent = True
                intents.append(PlaceEntry(index, zone.size))
        return intents

    def on_fill(
        self, zone_index: int, filled: Decimal, average_price: Decimal | None, final: bool
    ) -> None:
        """The venue's word on a zone's entry: ``filled`` so far (cumulative) at
        ``average_price``; ``final`` once the order is over (filled, or its rest cancelled)."""
        zone = self.zones[zone_index - 1]
        if filled < zone.filled or filled > zone.size:
            raise ValueError(
                f"zone {zone_index}: filled {filled} is outside {zone.filled}..{zone.size}"
            )
        zone.filled = filled
        if filled > 0 and average_price is not None:
            zone.average_price = average_price
        zone.over = zone.over or final or filled == zone.size

    def on_deadline(self) -> list[CancelEntry]:
        """The signal's timeout, or anything else that ends the entries (the first
        take-profit, a close, the operator's cancel): zones never entered are over; entries
        still working are cancelled (what they filled stays, guarded)."""
        self.expired = True
        intents: list[CancelEntry] = []
        for index, zone in enumerate(self.zones, start=1):
            if zone.over:
                continue
            if zone.sent:
                intents.append(CancelEntry(index))
            else:
                zone.over = True
        return intents

    def snapshot(self) -> dict[str, Any]:
        """Where every zone stands, as JSON-ready text (journaled by the worker)."""
        return {
            "expired": self.expired,
            "zones": [
                {
                    "size": str(zone.size),
                    "sent": zone.sent,
                    "filled": str(zone.filled),
                    "average_price": None
                    if zone.average_price is None
                    else str(zone.average_price),
                    "over": zone.over,
                }
                for zone in self.zones
            ],
        }

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Resume from :meth:`snapshot` (zone sizes included: the grid may have changed)."""
        self.expired = bool(saved.get("expired", False))
        for zone, state in zip(self.zones, saved.get("zones") or [], strict=False):
            zone.size = Decimal(state["size"])
            zone.sent = bool(state["sent"])
            zone.filled = Decimal(state["filled"])
            price = state.get("average_price")
            zone.average_price = None if price is None else Decimal(price)
            zone.over = bool(state["over"])
