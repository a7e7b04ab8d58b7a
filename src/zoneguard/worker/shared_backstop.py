"""The exchange-side protection of a venue position that several signals share.

BitMart keeps one position per symbol and side, and its position TP/SL close all of it. With
several signals holding parts of one position, each signal's own stop and target are
watched by the worker and close only its own contracts; the exchange-side orders are a
last resort for when the worker cannot act, so they must never fire before any signal's
own level:

* the stop sits ``offset_percent`` beyond the *farthest* stop of the signals holding
  contracts (a long's lowest): when the price gets there, every signal is past its own stop;
* the take-profit sits beyond the farthest target in the same way;
* when one holder has no stop (or no target), there is none on the exchange: it would
  close that signal's contracts at a level it never asked for.

A signal alone on its side keeps the seed's protection (the entry's presets, moved by its
own break-even and trailing stop); this keeper takes over as soon as a second signal holds
contracts on the side, and hands the levels back to the last one left. The new orders are
placed before the old ones are cancelled, so the position is never without one.

On a venue whose entries cannot carry a stop-loss and take-profit (Binance), this keeper
protects every side, one signal or several, from the first fill it is told of: the levels
are those of the signal(s) holding it, and nothing is ever handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.market import OrderOrigin
from zoneguard.domain.values import Side, Symbol
from zoneguard.exchange.errors import DuplicateClientOrderId, ExchangeError
from zoneguard.exchange.port import StopRequest
from zoneguard.worker.markets import Markets
from zoneguard.worker.order_queue import OrderQueue, WorkerOrder
from zoneguard.worker.placement import OrderPlacementService

log = logging.getLogger("zoneguard.worker.shared")

PRESETS = "presets"
"""Fact (in ``WorkerOrder.extra``): False when the order's entry went without the
exchange-side SL/TP attached (its side was shared when it was sent)."""

HOLDING = frozenset(
    {OrderState.PARTIALLY_FILLED, OrderState.OPEN, OrderState.CLOSING, OrderState.CLOSE_FAILED}
)
FOLLOW_EVERY_S = 1.0
"""At most one round of exchange calls per side this often (a trailing stop moves fast)."""

Key = tuple[Symbol, Side]


class SharedBackstop:
    def __init__(
        self,
        queue: OrderQueue,
        markets: Markets,
        placement: OrderPlacementService,
        stop_of: Callable[[WorkerOrder], Decimal | None],
    ) -> None:
        self.queue = queue
        self.markets = markets
        self.placement = placement
        self._stop_of = stop_of
        self._shared: set[Key] = set()
        """Sides whose exchange-side levels this keeper set (it hands them back at one)."""
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._dirty: set[Key] = set()
        self._placed: dict[tuple[Key, OrderOrigin], str] = {}
        self.presets_on_entries = placement.exchange.capabilities.preset_stops
        """The venue's entries carry the protection (else this keeper always places it)."""

    def manages(self, symbol: Symbol, side: Side) -> bool:
        """The keeper, not the order alone, sets the exchange-side levels of this side:
        several hold it, or did, or the one holding it entered without presets (another
        signal claimed the side when its entry was sent)."""
        if (symbol, side) in self._shared or not self.presets_on_entries:
            return True
        holders = self._holders(symbol, side)
        return len(holders) > 1 or any(order.extra.get(PRESETS) is False for order in holders)

    def refresh(self, symbol: Symbol, side: Side) -> None:
        """The holders of the side or their levels changed: bring the exchange in line (in
        a task, one per side; a change meanwhile runs it again)."""
        if not self.placement.backstop.enabled or not self.manages(symbol, side):
            return
        key = (symbol, side)
        self._dirty.add(key)
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.get_running_loop().create_task(self._follow(key))
            self._tasks[key].add_done_callback(self._done)

    def _holders(self, symbol: Symbol, side: Side) -> list[WorkerOrder]:
        return [
            order
            for order in self.queue.position_owners(symbol, side)
            if order.state in HOLDING and order.filled_contracts > 0
        ]

    async def _follow(self, key: Key) -> None:
        while key in self._dirty:
            self._dirty.discard(key)
            try:
                await self._apply(key)
            except ExchangeError as exc:
                log.warning("exchange-side protection of %s %s not set: %s", *key, exc)
                self._dirty.add(key)
            await asyncio.sleep(FOLLOW_EVERY_S)

    async def _apply(self, key: Key) -> None:
        symbol, side = key
        holders = self._holders(symbol, side)
        if not holders:
            self._shared.discard(key)
            return  # flat: the last close cancels what is left
        if len(holders) > 1:
            self._shared.add(key)
        stop, take = self._levels(side, holders)
        spec = await self.markets.spec(symbol)
        wanted: dict[OrderOrigin, Decimal] = {}
        if stop is not None:
            wanted[OrderOrigin.STOP_LOSS] = self.placement.backstop_stop(side, stop, spec)
        if take is not None:
            wanted[OrderOrigin.TAKE_PROFIT] = self.placement.backstop_take(side, take, spec)
        owners = ",".join(sorted(order.order_id for order in holders))
        for origin, level in wanted.items():
            # Named by the holders and the level: the same set never wants a level twice
            # (stops only tighten while it holds), so a repeat is this very order.
            cid = client_order_id_for(f"{symbol}:{side.value}:{owners}", f"{origin.value}{level}")
            if self._placed.get((key, origin)) == cid:
                continue
            with contextlib.suppress(DuplicateClientOrderId):  # placed before a restart
                await self.placement.exchange.place_stop(
                    StopRequest(
                        symbol=symbol,
                        position_side=side,
                        origin=origin,
                        trigger_price=level,
                        client_order_id=cid,
                    )
                )
            self._placed[(key, origin)] = cid
        for stop_order in await self.placement.exchange.open_stops(symbol):
            if stop_order.position_side is not side:
                continue
            if wanted.get(stop_order.origin) != stop_order.trigger_price:
                await self.placement.exchange.cancel_stop(symbol, order_id=stop_order.order_id)
        if len(holders) == 1 and self.presets_on_entries:
            self._shared.discard(key)  # handed back: the one left follows its own levels
            holders[0].extra.pop(PRESETS, None)
        log.info(
            "exchange-side protection of %s %s for %d signal(s): stop %s, take-profit %s",
            symbol,
            side.value,
            len(holders),
            wanted.get(OrderOrigin.STOP_LOSS),
            wanted.get(OrderOrigin.TAKE_PROFIT),
        )

    def _levels(
        self, side: Side, holders: list[WorkerOrder]
    ) -> tuple[Decimal | None, Decimal | None]:
        """The farthest stop and the farthest target of ``holders`` (None when one has none)."""
        stops = [self._stop_of(order) for order in holders]
        takes = [order.plan.final_take_profit for order in holders]
        farthest = min if side is Side.LONG else max
        stop = None if any(s is None for s in stops) else farthest(s for s in stops if s)
        nearest_far = max if side is Side.LONG else min
        take = None if any(t is None for t in takes) else nearest_far(t for t in takes if t)
        return stop, take

    def _done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("exchange-side protection task failed", exc_info=task.exception())

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
