"""One symbol's market: last price, resting orders and triggers in sorted structures.

A price move touches only what it crosses: resting buys are popped from the top while
their price >= last, resting sells from the bottom while <= last; rise-triggers from the
bottom while <= last, fall-triggers from the top while >= last. Keys are integer ticks.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedList

from zoneguard.sim.contracts import SimContract
from zoneguard.sim.model import MarketTrade, Order, PlanOrder, is_buy

SYNTHETIC_LEVEL_VOLUME = 100
"""Contracts shown at each synthetic book level (level i shows (i + 1) times this)."""

RECENT_TRADES = 100

Key = tuple[int, int, int]  # (ticks, sequence, id)


class Book:
    def __init__(self, contract: SimContract, last_ticks: int) -> None:
        self.contract = contract
        self.last_ticks = last_ticks
        self.buys = SortedList()  # resting buy orders, keyed (ticks, seq, id)
        self.sells = SortedList()
        self.rise_triggers = SortedList()  # fire when last >= trigger
        self.fall_triggers = SortedList()  # fire when last <= trigger
        self._own_volume: dict[tuple[bool, int], int] = {}
        self.recent_trades: deque[MarketTrade] = deque(maxlen=RECENT_TRADES)

    @property
    def bid_ticks(self) -> int:
        return max(self.last_ticks - 1, 1)

    @property
    def ask_ticks(self) -> int:
        return self.last_ticks + 1

    # resting orders

    def rest(self, order: Order) -> None:
        key: Key = (order.price_ticks, order.seq, order.order_id)
        buy = is_buy(order.side)
        (self.buys if buy else self.sells).add(key)
        slot = (buy, order.price_ticks)
        self._own_volume[slot] = self._own_volume.get(slot, 0) + order.remaining
        order.resting = True

    def unrest(self, order: Order) -> None:
        """Forget a resting order (already popped from its list or still in it)."""
        if not order.resting:
            return
        key: Key = (order.price_ticks, order.seq, order.order_id)
        buy = is_buy(order.side)
        side_list = self.buys if buy else self.sells
        if key in side_list:
            side_list.remove(key)
        slot = (buy, order.price_ticks)
        left = self._own_volume.get(slot, 0) - order.remaining
        if left > 0:
            self._own_volume[slot] = left
        else:
            self._own_volume.pop(slot, None)
        order.resting = False

    def pop_crossed_buy(self) -> int | None:
        """Id of a resting buy that the last price traded at or through, if any."""
        if self.buys and self.buys[-1][0] >= self.last_ticks:
            key: Key = self.buys.pop()
            return key[2]
        return None

    def pop_crossed_sell(self) -> int | None:
        if self.sells and self.sells[0][0] <= self.last_ticks:
            key: Key = self.sells.pop(0)
            return key[2]
        return None

    # triggers

    def arm(self, plan: PlanOrder, rising: bool) -> None:
        (self.rise_triggers if rising else self.fall_triggers).add(plan.trigger_key)

    def disarm(self, plan: PlanOrder) -> None:
        key = plan.trigger_key
        for triggers in (self.rise_triggers, self.fall_triggers):
            if key in triggers:
                triggers.remove(key)
                return

    def pop_fired_trigger(self) -> int | None:
        """Id of a plan whose trigger the last price reached, if any."""
        if self.rise_triggers and self.rise_triggers[0][0] <= self.last_ticks:
            key: Key = self.rise_triggers.pop(0)
            return key[2]
        if self.fall_triggers and self.fall_triggers[-1][0] >= self.last_ticks:
            key = self.fall_triggers.pop()
            return key[2]
        return None

    # depth

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, asks best first) as (ticks, contracts): a synthetic ladder
        around the last price plus the simulator's own resting orders at those levels."""
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        own = self._own_volume
        for i in range(levels):
            synthetic = SYNTHETIC_LEVEL_VOLUME * (i + 1)
            bid = self.last_ticks - 1 - i
            if bid >= 1:
                bids.append((bid, synthetic + own.get((True, bid), 0)))
            ask = self.last_ticks + 1 + i
            asks.append((ask, synthetic + own.get((False, ask), 0)))
        return bids, asks
