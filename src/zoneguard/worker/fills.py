"""Fills and closes the exchange reports, turned into lifecycle moves.

Sources: the private order and position streams (the seed's PositionWorker) and, while the
private socket is down, REST polling of the same facts. Every source goes through
:meth:`FillTracker.apply_entry`, so a fact seen twice (push and poll) moves nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.market import OrderInfo, OrderOrigin, OrderStatus, OrderUpdate, PositionInfo
from zoneguard.engine.entry_updates import EntryDecision, EntryReport, EntryStep, decide_entry
from zoneguard.exchange.errors import ExchangeError
from zoneguard.worker.callbacks import CallbackFactory, partly_filled_reason
from zoneguard.worker.entry_zone import EntryZoneMonitor
from zoneguard.worker.order_queue import ENTERED, OrderQueue, WorkerOrder
from zoneguard.worker.placement import OrderPlacementService, backoff_s
from zoneguard.worker.sltp import StopLossTakeProfitMonitor
from zoneguard.worker.tasks import TaskSet
from zoneguard.worker.zone_entries import ZoneEntries

log = logging.getLogger("zoneguard.worker.fills")

POLL_INTERVAL_S = 1.0
FLAT_CONFIRM_S = 1.0
"""A flat position push with no close we know of is confirmed by REST after this delay."""

_EXCHANGE_EXITS = {OrderOrigin.TAKE_PROFIT: "take_profit", OrderOrigin.STOP_LOSS: "stop_loss"}
_HOLDING = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.CLOSE_FAILED})
_WORKING = frozenset({OrderState.PLACING, OrderState.PLACED, OrderState.PARTIALLY_FILLED})
_ENTRY_LIVE = frozenset({OrderState.PLACED, OrderState.PARTIALLY_FILLED})
_POLLED = (OrderState.PLACED, OrderState.PARTIALLY_FILLED, OrderState.CLOSING, OrderState.OPEN)

LIVE_ENTRY_CHECK_S = 5.0


class FillTracker:
    def __init__(
        self,
        queue: OrderQueue,
        entry: EntryZoneMonitor,
        sltp: StopLossTakeProfitMonitor,
        placement: OrderPlacementService,
        callbacks: CallbackFactory,
    ) -> None:
        self.queue = queue
        self.entry = entry
        self.sltp = sltp
        self.placement = placement
        self.callbacks = callbacks
        self._tasks = TaskSet(log, logging.CRITICAL)
        self._poller: asyncio.Task[None] | None = None
        self._stopped = False
        self._checking: set[str] = set()
        self._cancelling: set[str] = set()
        entry.on_timeout_cancel = self.cancel_for_timeout
        self.zones: ZoneEntries | None = None
        """Set by the service: the later entries of plans with several zones."""

    def start(self) -> None:
        self._spawn(self.check_live_entries())

    # -- pushes
    def on_order(self, update: OrderUpdate) -> None:
        info = update.order
        order = self.queue.by_client_id(info.client_order_id) or self.queue.by_exchange_id(
            info.order_id
        )
        if order is None:
            self._maybe_exchange_exit(info)
            return
        if (
            info.client_order_id is not None and info.client_order_id == order.close_client_id
        ) or info.order_id == order.close_order_id:
            self.sltp.on_close_order(order, info)
        elif self.sltp.legs.owns(info.client_order_id):
            self.sltp.legs.on_order(info)
        elif self.zones is not None and (
            self.zones.owns(info.client_order_id) or self.zones.owns(info.order_id)
        ):
            self.zones.on_order(info)
        elif info.reduce_only:
            self._maybe_exchange_exit(info)
        else:
            self.apply_entry(order, info)

    def _maybe_exchange_exit(self, info: OrderInfo) -> None:
        reason = _EXCHANGE_EXITS.get(info.origin)
        if reason is None or not info.status.is_final or info.filled_contracts <= 0:
            return
        owners = [
            owner
            for owner in self.queue.position_owners(info.symbol, info.position_side)
            if owner.state in _HOLDING | {OrderState.CLOSING}
        ]
        if not owners:
            return
        if len(owners) > 1:
            self._shared_exchange_exit(owners, reason, info)
            return
        owner = owners[0]
        if info.status is not OrderStatus.FILLED:
            # The preset closed part of the position and the rest was cancelled (a thin
            # book): the guard closes what is left, and the report counts this part too.
            self.sltp.exchange_part(owner, info)
            return
        log.warning(
            "SLTP exchange preset %s closed %s at %s", reason, owner.order_id, info.avg_fill_price
        )
        self.sltp.closed_by_exchange(owner, reason, info.avg_fill_price, info.order_id)

    def _shared_exchange_exit(
        self, owners: list[WorkerOrder], reason: str, info: OrderInfo
    ) -> None:
        """The exchange's whole-position TP/SL of a shared position fired (it sits beyond
        every signal's own level): all of it closed, every signal is closed at its price;
        part of it (a thin book), each signal's own guard closes what is left."""
        if info.status is not OrderStatus.FILLED:
            log.warning(
                "SLTP exchange %s closed %s of a shared %s position and stopped; "
                "each signal closes what is left of its own",
                reason,
                info.filled_contracts,
                info.symbol,
            )
            return
        for owner in owners:
            self.sltp.closed_by_exchange(owner, reason, info.avg_fill_price, info.order_id)

    def on_position(self, position: PositionInfo) -> None:
        owners = self.queue.position_owners(position.symbol, position.side)
        if not owners:
            return
        known = sum((owner.filled_contracts for owner in owners), Decimal(0))
        lagging = [owner for owner in owners if owner.state in _ENTRY_LIVE]
        if position.contracts > known and lagging:
            # More contracts than the entries' fills we know of: an order push was lost.
            for owner in lagging:
                self._check_entry(owner)
            return
        if position.contracts > 0:
            return
        for owner in owners:
            if owner.state in _HOLDING and not self.sltp.is_closing(owner):
                asyncio.get_running_loop().call_later(
                    FLAT_CONFIRM_S, self._confirm_flat_later, owner
                )

    def _confirm_flat_later(self, order: WorkerOrder) -> None:
        if not self._stopped:  # a timer left from before stop() must not start REST calls
            self._spawn(self.confirm_flat(order))

    async def confirm_flat(self, order: WorkerOrder) -> None:
        """The position went flat with no close we recognised: confirm by REST, report once."""
        if order.state not in _HOLDING or self.sltp.is_closing(order):
            return
        if await self.placement.position_contracts(order.symbol, order.side) > 0:
            return
        if order.state not in _HOLDING or self.sltp.is_closing(order):
            return
        reason = self._inferred_reason(order)
        log.warning("SLTP %s is flat on the exchange (closed outside the worker)", order.order_id)
        self.sltp.closed_by_exchange(order, reason, None, "")

    def _inferred_reason(self, order: WorkerOrder) -> str:
        quote = self.sltp.markets.quote(order.symbol)
        plan = order.plan
        if quote is None or plan.stop_loss is None:
            return "external"
        below = quote.last <= plan.stop_loss
        if (order.side.value == "long") == below:
            return "stop_loss"
        return "take_profit" if plan.take_profit is not None else "external"

    # -- the entry order
    def apply_entry(self, order: WorkerOrder, info: OrderInfo) -> None:
        """Bring the order in line with what the exchange says of its entry order: the
        engine decides (:func:`decide_entry`), this carries the steps out."""
        current = not info.client_order_id or order.entry_client_id in (
            None,
            info.client_order_id,
        )
        report = EntryReport(info.filled_contracts, info.status.is_final, current)
        decision = decide_entry(
            order.state,
            report,
            order.contracts,
            timed_out=order.timed_out,
            cancel_requested=bool(order.extra.get("cancel_requested")),
        )
        if decision.earlier_attempt_filled:
            # Never expected: a new attempt starts only once the last one is over.
            log.critical(
                "order %s: an earlier entry attempt %s filled %s contracts",
                order.order_id,
                info.client_order_id,
                info.filled_contracts,
            )
        if not decision.record_fill:
            return
        zones = self.zones if self.zones is not None and self.zones.manages(order) else None
        recorded = False
        for step in decision.steps:
            if step is EntryStep.ADOPT:
                self.entry.adopt_live_attempt(order)
                continue
            if step is EntryStep.ACCEPTED:
                self._accepted(order, info)
                continue
            if not recorded:  # the fill is in the facts before any move journals them
                self._record_fill(order, info, zones)
                recorded = True
            if step is EntryStep.OPEN:
                self._open(order, info, zones, decision)
            elif step is EntryStep.PARTIAL:
                self.queue.move(
                    order,
                    OrderState.PARTIALLY_FILLED,
                    "partial fill",
                    filled=str(info.filled_contracts),
                )
                self._guard(order, zones)
            elif step is EntryStep.REWAIT:
                self.entry.rewait(order, "the exchange cancelled the unfilled entry")
            elif step is EntryStep.CANCEL_REST:
                self.cancel_for_timeout(order)  # adopted after its deadline: cancel it now
        if not recorded:
            self._record_fill(order, info, zones)

    def _accepted(self, order: WorkerOrder, info: OrderInfo) -> None:
        if order.entry_order_id is None:
            order.entry_order_id = info.order_id
            self.queue.link_exchange_id(order, info.order_id)
        order.entry_limit_price = order.entry_limit_price or info.price
        self.entry.mark_placed(order, info.order_id, "accepted (seen on the order stream)")

    def _record_fill(self, order: WorkerOrder, info: OrderInfo, zones: ZoneEntries | None) -> None:
        """The entry's fill into the order's facts (every zone's, with several zones);
        once per report, before any move that journals them."""
        if order.entry_order_id is None:
            order.entry_order_id = info.order_id
            self.queue.link_exchange_id(order, info.order_id)
        if zones is not None:
            zones.first_entry_fill(order, info)  # the position: every zone's fills
        elif info.filled_contracts > order.filled_contracts:
            order.filled_contracts = info.filled_contracts
            order.entry_price = info.avg_fill_price or order.entry_price
            order.extra[ENTERED] = str(info.filled_contracts)

    def _open(
        self,
        order: WorkerOrder,
        info: OrderInfo,
        zones: ZoneEntries | None,
        decision: EntryDecision,
    ) -> None:
        self.entry.forget(order)
        reason = partly_filled_reason(order) if decision.cut_short else None
        self.queue.move(
            order,
            OrderState.OPEN,
            "entry filled" if decision.whole else "rest cancelled, guarding fill",
            callback=self.callbacks.filled(
                order, reason, zone=None if zones is None else zones.first_report(order)
            ),
            filled=str(info.filled_contracts),
        )
        self._guard(order, zones)

    def _guard(self, order: WorkerOrder, zones: ZoneEntries | None) -> None:
        self.sltp.guard(order)
        if zones is not None:
            zones.on_holding(order)

    def _check_entry(self, order: WorkerOrder) -> None:
        """Ask the exchange for the entry order now (one question in flight per order)."""
        if order.order_id in self._checking or not order.entry_order_id:
            return
        self._checking.add(order.order_id)
        self._spawn(self._check_entry_now(order))

    async def _check_entry_now(self, order: WorkerOrder) -> None:
        try:
            if order.state in _ENTRY_LIVE and order.entry_order_id:
                info = await self.placement.get_order(order.symbol, order.entry_order_id)
                self.apply_entry(order, info)
        except ExchangeError as exc:  # a lagging read: the next check asks again
            log.warning("check of %s's entry failed: %s", order.order_id, exc)
        finally:
            self._checking.discard(order.order_id)

    def cancel_for_timeout(self, order: WorkerOrder) -> None:
        """Start cancelling the entry's rest (one loop per order, however often asked)."""
        if order.order_id in self._cancelling:
            return
        self._cancelling.add(order.order_id)
        self._spawn(self._cancel_for_timeout(order))

    async def _cancel_for_timeout(self, order: WorkerOrder) -> None:
        """Cancel the entry's unfilled rest until the exchange shows it final: an entry left
        working past its deadline could still open (or add to) a position."""
        log.warning("order %s timeout: cancelling the unfilled entry", order.order_id)
        attempt = 0
        try:
            while order.state in _WORKING and not self._stopped:
                try:
                    info = await self.placement.cancel_entry(order)
                except ExchangeError as exc:
                    log.warning("cancel of %s's entry failed: %s", order.order_id, exc)
                    info = None
                if info is not None:
                    self.apply_entry(order, info)
                    if info.status.is_final:
                        return
                attempt += 1
                await asyncio.sleep(backoff_s(min(attempt, 6)))
        finally:
            self._cancelling.discard(order.order_id)

    # -- REST fallback while the private socket is down
    def on_connection(self, stream: str, up: bool) -> None:
        if stream != "private" or self._stopped:
            return  # stopped: the sockets closing at shutdown must not start a poller
        if up:
            if self._poller is not None:
                self._poller.cancel()
                self._poller = None
            self._spawn(self.poll_once())  # catch up on what happened while it was down
        elif self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(POLL_INTERVAL_S)

    async def check_live_entries(self) -> None:
        """With the private socket up: every ``LIVE_ENTRY_CHECK_S``, ask about the entries
        still working. One lost fill push must not leave a position unguarded until the
        order's deadline (the position push normally catches it sooner)."""
        while not self._stopped:
            await asyncio.sleep(LIVE_ENTRY_CHECK_S)
            if self._poller is not None:
                continue  # the socket is down: the poller asks every second already
            for order in self.queue.in_states(_ENTRY_LIVE):
                self._check_entry(order)

    async def poll_once(self) -> None:
        for order in self.queue.in_states(_POLLED):
            try:
                await self._poll_order(order)
            except ExchangeError as exc:
                log.warning("polling %s failed: %s", order.order_id, exc)

    async def _poll_order(self, order: WorkerOrder) -> None:
        state = order.state
        if state in (OrderState.PLACED, OrderState.PARTIALLY_FILLED) and order.entry_order_id:
            self.apply_entry(
                order, await self.placement.get_order(order.symbol, order.entry_order_id)
            )
        elif state is OrderState.CLOSING and order.close_order_id:
            info = await self.placement.get_order(order.symbol, order.close_order_id)
            self.sltp.on_close_order(order, info)
        elif state is OrderState.OPEN:
            held = await self.placement.position_contracts(order.symbol, order.side)
            if held == Decimal(0):
                await self.confirm_flat(order)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro, "fill tracker task crashed")

    async def stop(self) -> None:
        self._stopped = True
        await self._tasks.cancel_all(*([self._poller] if self._poller else []))
