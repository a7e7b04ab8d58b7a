"""Restart: resume every journaled order and make it agree with the exchange.

Runs before the control API accepts new work. For each unfinished order, the exchange is
asked by the ids we journaled *before* acting (deterministic ``client_order_id``s), so an
order sent just before a crash is found, never sent twice; fills and preset closes that
happened while we were down are adopted and their callbacks sent. A position is guarded
only after the exchange confirmed it still exists: one closed by the exchange's preset
while we were down is reported closed, not watched forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.market import OrderInfo, PriceTick
from zoneguard.domain.values import Symbol
from zoneguard.engine.resume import (
    Bar,
    CloseResume,
    HeldKind,
    LookupStep,
    after_entry_lookup,
    decide_held,
    entry_patience_s,
    preset_that_fired,
    resume_close,
)
from zoneguard.exchange.errors import ExchangeError, OrderNotFound
from zoneguard.worker.entry_zone import EntryZoneMonitor
from zoneguard.worker.fills import FillTracker
from zoneguard.worker.order_queue import ENTERED, WorkerOrder, now_ms
from zoneguard.worker.placement import OrderPlacementService, backoff_s
from zoneguard.worker.sltp import StopLossTakeProfitMonitor
from zoneguard.worker.zone_entries import ZoneEntries

log = logging.getLogger("zoneguard.worker.reconcile")

_WORKING = frozenset({OrderState.PLACING, OrderState.PLACED, OrderState.PARTIALLY_FILLED})
_HOLDING = frozenset({OrderState.PARTIALLY_FILLED, OrderState.OPEN})
_CLOSING = frozenset({OrderState.CLOSING, OrderState.CLOSE_FAILED})
_ENTRY_ACCEPTED = _WORKING - {OrderState.PLACING}
"""An entry the exchange has answered with its id: working there, perhaps partly filled."""
KLINE_TIMEFRAME = "1m"
RESUME_CONCURRENCY = 8
"""Orders reconciled at once after a restart (each costs a few REST reads)."""


class Reconciler:
    def __init__(
        self,
        placement: OrderPlacementService,
        entry: EntryZoneMonitor,
        sltp: StopLossTakeProfitMonitor,
        fills: FillTracker,
        zones: ZoneEntries,
    ) -> None:
        self.placement = placement
        self.entry = entry
        self.sltp = sltp
        self.fills = fills
        self.zones = zones

    async def resume(self, orders: list[WorkerOrder]) -> None:
        """Guard every position the journal knows at once, then ask the exchange about each
        order, several at a time: one order the exchange is slow to explain must not keep
        the others waiting, let alone unguarded."""
        for symbol in sorted({order.symbol for order in orders}):
            await self._ensure_quote(symbol)
        for order in orders:
            if order.state in _HOLDING:
                # From the journal, before any question: a close sent on a position the
                # exchange has closed meanwhile only settles it as closed.
                if ENTERED not in order.extra:
                    # Journaled by an older worker: what its entry filled is what it holds
                    # (no close began), so a later signal on its side can share it safely.
                    order.extra[ENTERED] = str(order.filled_contracts)
                self.fills.queue.claim_position(order)
                self.sltp.guard(order)
        waiting = [o for o in orders if o.state is OrderState.WAITING_ZONE]
        for order in waiting:
            self._resume_waiting(order)
        slots = asyncio.Semaphore(RESUME_CONCURRENCY)
        others = [o for o in orders if o.state is not OrderState.WAITING_ZONE]
        await asyncio.gather(*(self._resume_one(order, slots) for order in others))
        for order in others:
            # Later zones' entries, once the first entry and the position are settled.
            if self.zones.manages(order) and not order.lifecycle.is_terminal:
                self.zones.resume(order)

    async def _resume_one(self, order: WorkerOrder, slots: asyncio.Semaphore) -> None:
        async with slots:
            log.info("resuming %s in state %s", order.order_id, order.state.value)
            try:
                await self._resume(order)
            except Exception as exc:
                # One order the exchange cannot explain must not leave the others unguarded.
                self._resume_failed(order, exc)

    def _resume_waiting(self, order: WorkerOrder) -> None:
        # ``armed`` is journaled: an order still waiting for the price to leave its zone
        # (immediate_if_in_zone: false) stays so; an armed one triggers on the price now.
        try:
            self.entry.watch(order, arriving=not order.armed, check_now=True)
        except Exception as exc:
            self._resume_failed(order, exc)

    async def _ensure_quote(self, symbol: Symbol) -> None:
        """A price before deciding anything: the stream's first push, else the REST price.
        Guards and zones then act on what the market is now, not on the next push."""
        markets = self.sltp.markets
        if markets.quote(symbol) is not None:
            return
        try:
            price = await markets.exchange.last_price(symbol)
        except ExchangeError as exc:
            log.warning("no REST price for %s at restart (%s): waiting for the stream", symbol, exc)
            return
        if markets.quote(symbol) is None:  # the stream may have spoken meanwhile: fresher
            markets.update_from_tick(PriceTick(symbol, price, received_ns=time.monotonic_ns()))

    async def _resume(self, order: WorkerOrder) -> None:
        if self.sltp.is_closing(order):
            # Guarded from the journal, the order crossed a level at once: that close task
            # owns it and settles it by the position. A second loop beside it would close
            # "what is left" too, and one of them report closed with contracts still open.
            return
        state = order.state
        if state in _WORKING:
            await self._resume_entry(order)
        elif state is OrderState.OPEN:
            self.fills.queue.claim_position(order)
            await self._guard_if_held(order)
        elif state in _CLOSING:
            self.fills.queue.claim_position(order)
            await self._resume_close(order)

    async def _resume_entry(self, order: WorkerOrder) -> None:
        self.fills.queue.claim_position(order)
        info, step = await self._entry_info(order)
        if info is not None:
            self.fills.apply_entry(order, info)
            if order.state in _HOLDING:
                await self._guard_if_held(order)
        elif step is LookupStep.KEEP_ACCEPTED:
            # Accepted (the exchange gave its id), yet not shown: never taken for an order
            # that did not land (waiting for the zone again would miss its fills). It keeps
            # its state and deadline; the fill tracker's checks adopt it once it shows.
            log.error(
                "entry %s of %s accepted but not shown by the exchange after %.0f s: "
                "kept as %s, asked about again every few seconds",
                order.entry_order_id,
                order.order_id,
                entry_patience_s(accepted=True),
                order.state.value,
            )
        else:
            # Not found: it never reached the exchange, or the lookup lags. Back to its
            # zone, placed at once if the price is still in it, with the *same* client id:
            # if it did land, the exchange refuses the double and we adopt the original.
            order.extra["entry_cid_unknown"] = True
            self.entry.rewait(order, "entry not found on the exchange after restart")
            if order.state is OrderState.WAITING_ZONE:
                self.entry.watch(order, check_now=True)
            return
        if order.state in _ENTRY_ACCEPTED:
            if order.deadline_ms <= now_ms() or order.timed_out:  # timed out, or cancelled
                order.timed_out = True
                self.fills.cancel_for_timeout(order)
            else:
                self.entry.watch_deadline(order)

    async def _entry_info(self, order: WorkerOrder) -> tuple[OrderInfo | None, LookupStep]:
        """The entry as the exchange shows it, asked again while its reads may lag (an
        order's lookups can trail its acceptance by seconds), and what the engine makes of
        the answer."""
        accepted = _accepted(order)
        started = time.monotonic()
        attempt = 0
        while True:
            info = await self._ask_entry(order)
            step = after_entry_lookup(
                found=info is not None, accepted=accepted, waited_s=time.monotonic() - started
            )
            if step is not LookupStep.ASK_AGAIN:
                return info, step
            attempt += 1
            log.warning(
                "entry of %s not shown by the exchange yet (lookup %d): asking again",
                order.order_id,
                attempt,
            )
            await asyncio.sleep(backoff_s(attempt))

    async def _ask_entry(self, order: WorkerOrder) -> OrderInfo | None:
        if order.entry_order_id is not None:
            try:
                return await self.placement.get_order(order.symbol, order.entry_order_id)
            except OrderNotFound:
                log.warning("entry %s of %s unknown by id", order.entry_order_id, order.order_id)
        if order.entry_client_id is not None:
            return await self.placement.find(order.symbol, order.entry_client_id)
        return None

    async def _guard_if_held(self, order: WorkerOrder) -> None:
        """Guard what the exchange still holds; a flat position was closed while we were
        down (preset SL/TP, liquidation, by hand): report it once instead."""
        held = await self.placement.position_contracts(order.symbol, order.side)
        if self.sltp.is_closing(order) or order.state not in _HOLDING:
            return  # the guard fired meanwhile: the close settles it
        decision = decide_held(
            held, order.filled_contracts, shared=self.fills.queue.shares_position(order)
        )
        if decision.kind is HeldKind.REPORT_FLAT:
            await self._report_flat(order)
            return
        if decision.kind is HeldKind.SHRINK:
            # Partly closed while we were down: close only what is there.
            log.warning(
                "%s holds %s contracts, not %s: guarding what is left",
                order.order_id,
                decision.quantity,
                order.filled_contracts,
            )
            order.filled_contracts = decision.quantity
            self.fills.queue.save_facts(order)
        self.sltp.guard(order)

    async def _report_flat(self, order: WorkerOrder) -> None:
        if order.state not in _HOLDING or self.sltp.is_closing(order):
            return
        self.sltp.unguard(order)
        reason = await self._preset_that_fired(order)
        if reason is None:
            await self.fills.confirm_flat(order)  # infers the reason from the price
            return
        log.warning("SLTP %s closed by the exchange preset %s while down", order.order_id, reason)
        self.sltp.closed_by_exchange(order, reason, None, "")

    async def _preset_that_fired(self, order: WorkerOrder) -> str | None:
        """Which exchange preset closed the position while we were down, read from the
        minute bars since the entry was sent: the first bar reaching one preset level
        names it. None when no bar reached either, or one bar reached both."""
        try:
            stop, take = await self._preset_levels(order)
            if stop is None and take is None:
                return None
            since_ms = self._entry_sent_ms(order)
            bars = await self.placement.exchange.klines(
                order.symbol, KLINE_TIMEFRAME, since_ms // 1000 - 60, now_ms() // 1000 + 60
            )
        except ExchangeError as exc:
            log.warning("cannot tell which preset closed %s: %s", order.order_id, exc)
            return None
        return preset_that_fired(
            order.side,
            stop,
            take,
            (Bar(bar.open_time_s * 1000, bar.high, bar.low) for bar in bars),
            since_ms,
        )

    async def _preset_levels(self, order: WorkerOrder) -> tuple[Decimal | None, Decimal | None]:
        """The preset (stop, take) the exchange holds for the entry, else the ones we send."""
        if order.entry_order_id is not None:
            info = await self.placement.get_order(order.symbol, order.entry_order_id)
            if info.preset_stop_loss is not None or info.preset_take_profit is not None:
                return info.preset_stop_loss, info.preset_take_profit
        spec = await self.sltp.markets.spec(order.symbol)
        return self.placement.backstop_levels(order, spec)

    @staticmethod
    def _entry_sent_ms(order: WorkerOrder) -> int:
        for event in reversed(order.lifecycle.history):
            if event.to_state is OrderState.PLACING:
                return event.at_ms
        return order.created_ms

    async def _resume_close(self, order: WorkerOrder) -> None:
        if order.close_client_id is not None:
            info = await self.placement.find(order.symbol, order.close_client_id)
            log.info(
                "close %s of %s after restart: %s",
                order.close_client_id,
                order.order_id,
                "not on the exchange" if info is None else f"{info.status.value} {info.order_id}",
            )
            if resume_close(found=info is not None) is CloseResume.AWAIT:
                assert info is not None
                # It reached the exchange: wait for its outcome and settle by the position
                # (a partial fill leaves the rest to close; an entry rest is cancelled).
                order.close_order_id = info.order_id
                self.fills.queue.link_exchange_id(order, info.order_id)
                self.sltp.resume_close(order)
                if info.status.is_final:
                    self.sltp.on_close_order(order, info)
                return
        quote = self.sltp.markets.quote(order.symbol)
        self.sltp.start_close(
            order,
            order.close_reason or "stop_loss",
            order.close_level,
            quote.last if quote is not None else Decimal(0),
            0,
        )

    def _resume_failed(self, order: WorkerOrder, exc: Exception) -> None:
        log.critical("resuming %s failed", order.order_id, exc_info=exc)
        if order.state in _HOLDING or order.state in _CLOSING:
            self.sltp.guard(order)  # a close on a flat position settles as closed: safe
        self.sltp.alerter.fire(
            "resume_failed",
            f"order {order.order_id} ({order.state.value}) could not be reconciled after "
            f"restart: {exc}",
            dedup_key=f"resume_failed:{order.order_id}",
            order_id=order.order_id,
        )


def _accepted(order: WorkerOrder) -> bool:
    """The exchange answered the entry with its id: the order exists there."""
    return order.entry_order_id is not None and order.state in _ENTRY_ACCEPTED
