"""The incremental book channel (``futures/depthIncrease{5,20,50}``): versions and diffs.

BitMart's rule for a local book (its docs, "Depth-Increase Channel"): take a ``snapshot``,
then apply each ``update`` whose ``version`` is the local one plus one; volumes are absolute
and ``"0"`` removes a level; a gap means "ask for a new snapshot" (``request`` action).

One stream per symbol and depth keeps the ladder it last published. An update carries the
levels that changed since then and advances the version by one; a snapshot is that same
last-published ladder at the current version. So snapshot(V) plus updates V+1, V+2, ...
always rebuild exactly what the stream saw, whoever subscribed when.
"""

from __future__ import annotations

from dataclasses import dataclass

Levels = list[tuple[int, int]]  # (price in ticks, contracts), best first
FIRST_VERSION = 1


@dataclass(frozen=True, slots=True)
class DepthView:
    version: int
    bids: Levels  # best (highest) first
    asks: Levels  # best (lowest) first


class DepthStream:
    def __init__(self, bids: Levels, asks: Levels) -> None:
        self.version = FIRST_VERSION
        self._bids = dict(bids)
        self._asks = dict(asks)

    def snapshot(self) -> DepthView:
        return DepthView(
            self.version, _best_first(self._bids, True), _best_first(self._asks, False)
        )

    def advance(self, bids: Levels, asks: Levels) -> DepthView:
        """Publish a new ladder: the changed levels (0 = gone), at the next version."""
        self.version += 1
        bid_changes = _changes(self._bids, dict(bids))
        ask_changes = _changes(self._asks, dict(asks))
        self._bids, self._asks = dict(bids), dict(asks)
        return DepthView(
            self.version, _best_first(bid_changes, True), _best_first(ask_changes, False)
        )


def _changes(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    changed = {ticks: volume for ticks, volume in new.items() if old.get(ticks) != volume}
    changed.update((ticks, 0) for ticks in old if ticks not in new)
    return changed


def _best_first(levels: dict[int, int], bids: bool) -> Levels:
    return sorted(levels.items(), reverse=bids)
