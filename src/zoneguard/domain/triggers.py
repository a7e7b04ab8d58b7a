"""The trigger index: which waiting entries and which guarded positions a price update fires.

Every websocket price goes through here, so an update must cost O(log n + k) (k = what
fires), never O(n): 100k waiting orders must not slow a stop-loss down.

Entries (interval stabbing, stateful). Relative to the last price ``L`` seen, every zone
``[low, high]`` is in exactly one of three places:

* ``above``  (``low > L``), a sorted list keyed by ``low``;
* ``below``  (``high < L``), a sorted list keyed by ``high``;
* ``inside`` (``low <= L <= high``), a dict: these are exactly what :meth:`entries_at` returns.

A new price only moves the zones whose boundary lies between the old and the new price:
popped from the near end of ``above`` or ``below`` (O(log n) each), or leaving ``inside``
(which we walk anyway, since we return it). A zone jumped over entirely changes side
without firing. With nothing crossed and nothing inside, an update is two comparisons.

Guards. Each SL/TP level sits in one of two sorted lists: "fires at or below the level"
(long SL, short TP) and "fires at or above" (long TP, short SL). An update peeks at the
nearest level of each (O(1)) and only walks the levels it crossed. When one price crosses
both levels of a position, the stop-loss is reported.

Queries never remove anything: the caller removes an entry once it acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Final

from sortedcontainers import SortedList

from zoneguard.domain.values import Side, Symbol


class GuardReason(StrEnum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


@dataclass(frozen=True, slots=True)
class GuardHit:
    """``position_id``'s ``reason`` level (``level``) is crossed by the queried price."""

    position_id: str
    reason: GuardReason
    level: Decimal


@dataclass(frozen=True, slots=True)
class Guard:
    """The levels watched for one position."""

    side: Side
    stop_loss: Decimal | None
    take_profit: Decimal | None


class _Keep(Enum):
    """Marker for :meth:`SymbolTriggers.update_guard`: leave this level as it is."""

    KEEP = "keep"


KEEP: Final = _Keep.KEEP

_BEFORE_ANY_PRICE = Decimal("-Infinity")
_NOTHING_BELOW = Decimal("-Infinity")  # no finite price is at or under it
_NOTHING_ABOVE = Decimal("Infinity")  # no finite price is at or over it


class SymbolTriggers:
    """Entry zones and SL/TP guards of one symbol."""

    __slots__ = (
        "_above",
        "_above_edge",
        "_at_or_above",
        "_at_or_above_edge",
        "_at_or_below",
        "_at_or_below_edge",
        "_below",
        "_below_edge",
        "_guards",
        "_inside",
        "_last",
        "_zones",
    )

    def __init__(self) -> None:
        self._zones: dict[str, tuple[Decimal, Decimal]] = {}
        self._last: Decimal = _BEFORE_ANY_PRICE  # every zone starts "above"
        self._above = SortedList()  # (low, order_id), zones with low > last
        self._below = SortedList()  # (high, order_id), zones with high < last
        self._inside: dict[str, tuple[Decimal, Decimal]] = {}
        self._guards: dict[str, Guard] = {}
        self._at_or_below = SortedList()  # (level, position_id, reason): fires at price <= level
        self._at_or_above = SortedList()  # (level, position_id, reason): fires at price >= level
        # The nearest key of each sorted list, kept apart: a quiet update then costs a few
        # plain comparisons instead of indexing into the lists (several times slower).
        self._above_edge = _NOTHING_ABOVE  # lowest ``low`` in ``_above``
        self._below_edge = _NOTHING_BELOW  # highest ``high`` in ``_below``
        self._at_or_below_edge = _NOTHING_BELOW  # highest level in ``_at_or_below``
        self._at_or_above_edge = _NOTHING_ABOVE  # lowest level in ``_at_or_above``

    # ----------------------------------------------------------------- entries

    def add_entry(self, order_id: str, zone_low: Decimal, zone_high: Decimal) -> None:
        """Watch ``[zone_low, zone_high]`` (bounds included, already widened); replaces
        ``order_id``'s previous zone if any."""
        _check_finite("zone_low", zone_low)
        _check_finite("zone_high", zone_high)
        if zone_low > zone_high:
            raise ValueError(f"zone_low {zone_low} is above zone_high {zone_high}")
        self.remove_entry(order_id)
        zone = (zone_low, zone_high)
        self._zones[order_id] = zone
        if zone_low > self._last:
            self._above.add((zone_low, order_id))
        elif zone_high < self._last:
            self._below.add((zone_high, order_id))
        else:
            self._inside[order_id] = zone
        self._entry_edges()

    def remove_entry(self, order_id: str) -> bool:
        """Stop watching ``order_id``; False if it was not watched."""
        zone = self._zones.pop(order_id, None)
        if zone is None:
            return False
        if self._inside.pop(order_id, None) is None:
            low, high = zone
            if low > self._last:
                self._above.remove((low, order_id))
            else:
                self._below.remove((high, order_id))
            self._entry_edges()
        return True

    def _entry_edges(self) -> None:
        above, below = self._above, self._below
        self._above_edge = above[0][0] if above else _NOTHING_ABOVE
        self._below_edge = below[-1][0] if below else _NOTHING_BELOW

    def entries_at(self, price: Decimal) -> list[str]:
        """Ids of the entries whose zone contains ``price``; they stay in the index."""
        if not price.is_finite():
            raise ValueError(f"price must be a finite number, got {price}")
        last = self._last
        if price > last:
            if self._inside or self._above_edge <= price:
                self._rise_to(price)
            self._last = price
        elif price < last:
            if self._inside or self._below_edge >= price:
                self._fall_to(price)
            self._last = price
        return list(self._inside) if self._inside else []

    def _rise_to(self, price: Decimal) -> None:
        inside = self._inside
        below = self._below
        if inside:
            for order_id in [oid for oid, (_, high) in inside.items() if high < price]:
                below.add((inside.pop(order_id)[1], order_id))
        above = self._above
        zones = self._zones
        while above and above[0][0] <= price:
            order_id = above.pop(0)[1]
            zone = zones[order_id]
            if zone[1] >= price:
                inside[order_id] = zone
            else:  # jumped over the whole zone
                below.add((zone[1], order_id))
        self._entry_edges()

    def _fall_to(self, price: Decimal) -> None:
        inside = self._inside
        above = self._above
        if inside:
            for order_id in [oid for oid, (low, _) in inside.items() if low > price]:
                above.add((inside.pop(order_id)[0], order_id))
        below = self._below
        zones = self._zones
        while below and below[-1][0] >= price:
            order_id = below.pop()[1]
            zone = zones[order_id]
            if zone[0] <= price:
                inside[order_id] = zone
            else:  # jumped over the whole zone
                above.add((zone[0], order_id))
        self._entry_edges()

    def has_entry(self, order_id: str) -> bool:
        return order_id in self._zones

    def entry_zone(self, order_id: str) -> tuple[Decimal, Decimal] | None:
        return self._zones.get(order_id)

    @property
    def entry_count(self) -> int:
        return len(self._zones)

    # ------------------------------------------------------------------ guards

    def add_guard(
        self,
        position_id: str,
        side: Side,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
    ) -> None:
        """Watch a position's SL/TP (either may be None); replaces its previous guard."""
        if stop_loss is not None:
            _check_finite("stop_loss", stop_loss)
        if take_profit is not None:
            _check_finite("take_profit", take_profit)
        side = Side(side)
        self.remove_guard(position_id)
        self._guards[position_id] = Guard(side, stop_loss, take_profit)
        for item, fires_below in self._levels(position_id, side, stop_loss, take_profit):
            (self._at_or_below if fires_below else self._at_or_above).add(item)
        self._guard_edges()

    def update_guard(
        self,
        position_id: str,
        *,
        stop_loss: Decimal | _Keep | None = KEEP,
        take_profit: Decimal | _Keep | None = KEEP,
    ) -> Guard:
        """Move one or both levels (trailing stop, break-even); raise KeyError if unknown."""
        current = self._guards[position_id]
        new_stop = current.stop_loss if isinstance(stop_loss, _Keep) else stop_loss
        new_take = current.take_profit if isinstance(take_profit, _Keep) else take_profit
        self.add_guard(position_id, current.side, new_stop, new_take)
        return self._guards[position_id]

    def remove_guard(self, position_id: str) -> bool:
        """Stop guarding ``position_id``; False if it was not guarded."""
        guard = self._guards.pop(position_id, None)
        if guard is None:
            return False
        levels = self._levels(position_id, guard.side, guard.stop_loss, guard.take_profit)
        for item, fires_below in levels:
            (self._at_or_below if fires_below else self._at_or_above).remove(item)
        self._guard_edges()
        return True

    def _guard_edges(self) -> None:
        below, above = self._at_or_below, self._at_or_above
        self._at_or_below_edge = below[-1][0] if below else _NOTHING_BELOW
        self._at_or_above_edge = above[0][0] if above else _NOTHING_ABOVE

    def guards_at(self, price: Decimal) -> list[GuardHit]:
        """One hit per position whose SL or TP ``price`` crosses (SL wins a tie); stop-loss
        hits come first. Nothing is removed."""
        if not price.is_finite():
            raise ValueError(f"price must be a finite number, got {price}")
        crosses_below = self._at_or_below_edge >= price
        crosses_above = self._at_or_above_edge <= price
        if not (crosses_below or crosses_above):
            return []
        at_or_below = self._at_or_below
        at_or_above = self._at_or_above
        stops: dict[str, GuardHit] = {}
        profits: dict[str, GuardHit] = {}
        if crosses_below:
            for level, position_id, reason in reversed(at_or_below):
                if level < price:
                    break
                hits = stops if reason is GuardReason.STOP_LOSS else profits
                hits[position_id] = GuardHit(position_id, reason, level)
        if crosses_above:
            for level, position_id, reason in at_or_above:
                if level > price:
                    break
                hits = stops if reason is GuardReason.STOP_LOSS else profits
                hits[position_id] = GuardHit(position_id, reason, level)
        result = list(stops.values())
        result.extend(hit for pid, hit in profits.items() if pid not in stops)
        return result

    def has_guard(self, position_id: str) -> bool:
        return position_id in self._guards

    def guard(self, position_id: str) -> Guard | None:
        return self._guards.get(position_id)

    def guards(self) -> list[Guard]:
        """Every guard of this symbol (a few: one position per side and signal)."""
        return list(self._guards.values())

    @property
    def guard_count(self) -> int:
        return len(self._guards)

    @staticmethod
    def _levels(
        position_id: str, side: Side, stop_loss: Decimal | None, take_profit: Decimal | None
    ) -> list[tuple[tuple[Decimal, str, GuardReason], bool]]:
        """Sorted-list items of a guard, each with True when it fires at or below its level."""
        levels: list[tuple[tuple[Decimal, str, GuardReason], bool]] = []
        long = side is Side.LONG
        if stop_loss is not None:
            levels.append(((stop_loss, position_id, GuardReason.STOP_LOSS), long))
        if take_profit is not None:
            levels.append(((take_profit, position_id, GuardReason.TAKE_PROFIT), not long))
        return levels


class TriggerIndex:
    """One :class:`SymbolTriggers` per symbol, created on first use."""

    __slots__ = ("_by_symbol",)

    def __init__(self) -> None:
        self._by_symbol: dict[Symbol, SymbolTriggers] = {}

    def for_symbol(self, symbol: Symbol) -> SymbolTriggers:
        triggers = self._by_symbol.get(symbol)
        if triggers is None:
            triggers = self._by_symbol[symbol] = SymbolTriggers()
        return triggers

    def get(self, symbol: Symbol) -> SymbolTriggers | None:
        """The symbol's triggers if any were ever created (does not create)."""
        return self._by_symbol.get(symbol)

    def symbols(self) -> tuple[Symbol, ...]:
        return tuple(self._by_symbol)


def _check_finite(name: str, value: Decimal) -> None:
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
