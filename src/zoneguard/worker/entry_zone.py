"""The seed's EntryZoneMonitor: place the entry the moment a price update enters the zone.

Event-driven: :meth:`EntryZoneMonitor.on_price` runs inside the websocket message handler,
asks the trigger index which zones contain the new price (O(log n + k)), journals the move
to ``placing`` and puts the entry on the wire before returning (when the exchange can send
synchronously and the contract, leverage and quote are known; else the placement task
sends it a moment later). Log lines come after the send: the order must not wait for them.
Timeouts come from one timer per order, never from a scan. With ``immediate_if_in_zone:
false`` an order that arrives with the price already in its zone is not armed until the
price has been seen outside it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.triggers import TriggerIndex
from zoneguard.domain.values import Symbol
from zoneguard.engine.entry_policy import (
    DeadlineStep,
    NoEntryStep,
    RefusalStep,
    on_deadline,
    on_no_entry,
    on_post_only_refused,
)
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    ExchangeError,
    PostOnlyWouldCross,
    Rejected,
)
from zoneguard.exchange.port import PlacedOrder
from zoneguard.worker.alerts import Alerter
from zoneguard.worker.callbacks import CallbackFactory, not_filled_reason
from zoneguard.worker.markets import Markets
from zoneguard.worker.metrics import Metrics
from zoneguard.worker.order_queue import OrderQueue, WorkerOrder, now_ms
from zoneguard.worker.placement import OrderPlacementService
from zoneguard.worker.shared_backstop import PRESETS
from zoneguard.worker.tasks import TaskSet

if TYPE_CHECKING:
    from zoneguard.engine.entries import EntryZone
    from zoneguard.worker.zone_entries import ZoneEntries

log = logging.getLogger("zoneguard.worker.entry")


class EntryZoneMonitor:
    def __init__(
        self,
        queue: OrderQueue,
        index: TriggerIndex,
        markets: Markets,
        placement: OrderPlacementService,
        callbacks: CallbackFactory,
        alerter: Alerter,
        metrics: Metrics,
        *,
        immediate_if_in_zone: bool,
    ) -> None:
        self.queue = queue
        self.index = index
        self.markets = markets
        self.placement = placement
        self.callbacks = callbacks
        self.alerter = alerter
        self.metrics = metrics
        self.immediate_if_in_zone = immediate_if_in_zone
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._unarmed: dict[Symbol, dict[str, tuple[Decimal, Decimal]]] = {}
        self._tasks = TaskSet(log, logging.CRITICAL)
        self.on_entry_final: Callable[[WorkerOrder], None] = lambda order: None
        """Set by the fill tracker: the entry order reached a final state (timeout path)."""
        self.on_timeout_cancel: Callable[[WorkerOrder], None] = lambda order: None
        self.zones: ZoneEntries | None = None
        """Set by the service: the plans with several entry zones (``zone_entries``)."""

    # -- arming
    def watch(self, order: WorkerOrder, *, arriving: bool = False, check_now: bool = True) -> None:
        """Index a ``waiting_zone`` order and (re)arm its timeout; with ``check_now`` an order
        whose zone holds the last price triggers at once instead of at the next update."""
        if order.deadline_ms <= now_ms():
            self._expire(order)
            return
        self._arm_timer(order)
        if self.zones is not None and self.zones.manages(order):
            self.zones.arm(order, arriving=arriving, check_now=check_now)
            return
        quote = self.markets.quote(order.symbol)
        inside = quote is not None and order.zone_low <= quote.last <= order.zone_high
        # No price known yet (first order of a symbol): the first one seen may be in the
        # zone, i.e. the order arrived in it; only a price seen outside arms it.
        if arriving and not self.immediate_if_in_zone and (inside or quote is None):
            self._set_armed(order, False)
            self._unarmed.setdefault(order.symbol, {})[order.order_id] = (
                order.zone_low,
                order.zone_high,
            )
            return
        self._set_armed(order, True)
        self.index.for_symbol(order.symbol).add_entry(
            order.order_id, order.zone_low, order.zone_high
        )
        if inside and check_now and quote is not None:
            # The price is already in the zone: no need to wait for the next update.
            self.on_price(order.symbol, quote.last, time.monotonic_ns())

    def hold_until_outside(self, symbol: Symbol, key: str, zone: EntryZone) -> None:
        """Watch zone ``key`` only once the price has been seen outside it."""
        self._unarmed.setdefault(symbol, {})[key] = (zone.low, zone.high)

    def release(self, symbol: Symbol, key: str) -> None:
        self._unarmed.get(symbol, {}).pop(key, None)

    def watch_deadline(self, order: WorkerOrder) -> None:
        """Arm only the timeout (an entry already working on the exchange)."""
        self._arm_timer(order)

    def forget(self, order: WorkerOrder) -> None:
        triggers = self.index.get(order.symbol)
        if triggers is not None:
            triggers.remove_entry(order.order_id)
        self._unarmed.get(order.symbol, {}).pop(order.order_id, None)
        timer = self._timers.pop(order.order_id, None)
        if timer is not None:
            timer.cancel()

    def _arm_timer(self, order: WorkerOrder) -> None:
        old = self._timers.pop(order.order_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (order.deadline_ms - now_ms()) / 1000)
        self._timers[order.order_id] = loop.call_later(delay, self._on_deadline, order.order_id)

    # -- the hot path
    def on_price(self, symbol: Symbol, price: Decimal, tick_ns: int) -> None:
        unarmed = self._unarmed.get(symbol)
        if unarmed:
            self._arm_outside(symbol, price, unarmed)
        triggers = self.index.get(symbol)
        if triggers is None or not triggers.entry_count:
            return
        for order_id in triggers.entries_at(price):
            triggers.remove_entry(order_id)
            if "#" in order_id and self.zones is not None:  # one zone of several
                self.zones.on_zone(order_id, price, tick_ns)
                continue
            order = self.queue.get(order_id)
            if order is None or order.state is not OrderState.WAITING_ZONE:
                continue
            self._trigger(order, price, tick_ns)

    def _arm_outside(
        self, symbol: Symbol, price: Decimal, unarmed: dict[str, tuple[Decimal, Decimal]]
    ) -> None:
        for order_id, (low, high) in list(unarmed.items()):
            if price < low or price > high:
                del unarmed[order_id]
                if "#" in order_id and self.zones is not None:
                    self.zones.armed_outside(order_id, low, high)
                    continue
                order = self.queue.get(order_id)
                if order is not None and order.state is OrderState.WAITING_ZONE:
                    self._set_armed(order, True)
                    self.index.for_symbol(symbol).add_entry(order_id, low, high)

    def _set_armed(self, order: WorkerOrder, armed: bool) -> None:
        """Journal a change of ``armed``: a restarted worker must keep waiting for the price
        to leave the zone first (immediate_if_in_zone: false), not place at once."""
        if order.armed is not armed:
            order.armed = armed
            self.queue.save_facts(order)

    def trigger(self, order: WorkerOrder, price: Decimal, tick_ns: int) -> None:
        """Place ``order``'s entry now (a zone of several was entered: ``zone_entries``)."""
        self._trigger(order, price, tick_ns)

    def _trigger(self, order: WorkerOrder, price: Decimal, tick_ns: int) -> None:
        # The client id of this attempt is noted (one append) before it can exist on the
        # exchange; the request goes out; the journal commit follows in the same step
        # (see zoneguard.worker.intents); then everything that can wait.
        self._next_client_id(order)
        assert order.entry_client_id is not None
        self.queue.note_sending(
            order, "entry", order.entry_attempt, order.entry_client_id, "price entered the zone"
        )
        sent = self._send_first(order)
        event = self.queue.move_sent(
            order, OrderState.PLACING, "price entered the zone", price=str(price)
        )
        self.queue.claim_position(order)
        self._tasks.spawn(self._place(order, tick_ns, sent), "entry task crashed")
        if event is not None:
            self.queue.log_move(event)
        log.info("order %s: %s %s entered zone -> placing", order.order_id, order.symbol, price)

    def _send_first(self, order: WorkerOrder) -> Awaitable[PlacedOrder] | None:
        """The first attempt, on the wire now when all it needs is at hand (contract known,
        leverage set, a quote); None leaves everything to :meth:`_place`."""
        spec = self.markets.cached_spec(order.symbol)
        leverage = Decimal(order.plan.leverage)
        if spec is None or not self.placement.leverage_ready(order.symbol, leverage):
            return None
        try:
            price = self.placement.entry_price(order, spec)
            if price is None:
                return None
            request = self.placement.entry_request(order, price, spec, presets=self._presets(order))
            order.entry_limit_price = price
            return self.placement.start_submit(request)
        except Exception:
            # Never lose the trigger to a surprise here: _place tries again with the same
            # client id, which the exchange refuses to double if this one did leave.
            log.exception("order %s: entry not sent at once", order.order_id)
            return None

    def _presets(self, order: WorkerOrder) -> bool:
        """Attach the exchange-side SL/TP to this entry: only when the venue can (Binance
        cannot) and no other signal owns part of the position (a preset is the whole
        position's); else noted, so the exchange-side protection is placed for this order
        by ``shared_backstop`` the moment its fill is seen."""
        if not self.placement.exchange.capabilities.preset_stops or self.queue.shares_position(
            order
        ):
            order.extra[PRESETS] = False
            return False
        order.extra.pop(PRESETS, None)
        return True

    def _next_client_id(self, order: WorkerOrder) -> None:
        """The client id of the next attempt. A new one only once the last attempt is
        known to be over: after a restart that could not find it (``entry_cid_unknown``:
        it may still surface), the same id goes again, and the exchange refuses a double."""
        if order.extra.pop("entry_cid_unknown", False) and order.entry_client_id is not None:
            return
        order.entry_attempt += 1
        order.entry_client_id = client_order_id_for(order.order_id, f"entry{order.entry_attempt}")
        order.entry_order_id = None  # the last attempt's id: it says nothing of this one
        order.entry_limit_price = None
        self.queue.link_client_id(order, order.entry_client_id)
        order.extra.setdefault("client_ids", []).append(order.entry_client_id)

    # -- placement
    async def _place(
        self, order: WorkerOrder, tick_ns: int, sent: Awaitable[PlacedOrder] | None = None
    ) -> None:
        """Place the entry under the failure policy; ``sent``: its first attempt, already
        on the wire (see :meth:`_send_first`)."""
        try:
            spec = await self.markets.spec(order.symbol)
            await self.placement.ensure_leverage(order.symbol, Decimal(order.plan.leverage))
            reprices = 0
            while True:
                if sent is not None:
                    attempt, sent = sent, None
                else:
                    price = self.placement.entry_price(order, spec)
                    if price is None:
                        self._back_to_zone(order, "the price left the zone before placement")
                        return
                    order.entry_limit_price = price
                    attempt = self.placement.start_submit(
                        self.placement.entry_request(
                            order, price, spec, presets=self._presets(order)
                        )
                    )
                try:
                    placed = await attempt
                except PostOnlyWouldCross:
                    reprices += 1
                    step = on_post_only_refused(
                        reprices,
                        timed_out=order.timed_out,
                        cancel_requested=bool(order.extra.get("cancel_requested")),
                    )
                    if step is RefusalStep.ENDED:
                        self._back_to_zone(order, "maker-only refused after the order ended")
                        return
                    if step is RefusalStep.GIVE_UP:
                        self._back_to_zone(order, "maker-only refused repeatedly", check_now=False)
                        return
                    self._next_client_id(order)
                    self.queue.save_facts(order)
                    continue
                break
            if tick_ns:
                elapsed_ns = time.monotonic_ns() - tick_ns
                self.metrics.tick_to_order_ack.observe(elapsed_ns / 1e9)
                order.extra["tick_to_entry_ack_us"] = elapsed_ns // 1000
            order.entry_order_id = placed.order_id
            self.queue.link_exchange_id(order, placed.order_id)
            if order.state is OrderState.PLACING:
                self.mark_placed(order, placed.order_id, "accepted by the exchange")
            else:
                self.queue.save_facts(order)
            self.metrics.orders_placed.inc()
            if order.timed_out and order.state is OrderState.PLACED:
                self.on_timeout_cancel(order)
        except AuthenticationFailed as exc:
            self.alerter.fire(
                "auth_refused",
                f"exchange refused our key while placing {order.order_id}: {exc}",
                dedup_key="auth",
            )
            self._fail(order, exc)
        except Rejected as exc:
            self._fail(order, exc)
        except ExchangeError as exc:
            self._fail(order, exc)

    def mark_placed(self, order: WorkerOrder, exchange_order_id: str, how: str) -> None:
        """The exchange has the entry (its answer, or its order stream): ``placed``."""
        self.queue.move(
            order,
            OrderState.PLACED,
            how,
            callback=self.callbacks.placed(order),
            exchange_order_id=exchange_order_id,
        )

    def _back_to_zone(self, order: WorkerOrder, reason: str, *, check_now: bool = True) -> None:
        """The entry has no live order on the exchange: wait for the zone again, unless the
        operator cancelled it or its deadline passed meanwhile (then it ends here)."""
        step = on_no_entry(
            order.state,
            cancel_requested=bool(order.extra.get("cancel_requested")),
            timed_out=order.timed_out,
        )
        if step is NoEntryStep.NOTHING:
            return
        if step is NoEntryStep.CANCELLED:
            self.end_cancelled(order)
            return
        if step is NoEntryStep.TIMEOUT:
            self.forget(order)
            placed = order.entry_order_id is not None  # the exchange accepted this attempt
            self.queue.move(
                order,
                OrderState.TIMEOUT,
                "entry not filled within timeout" if placed else "entry not placed within timeout",
                callback=self.callbacks.timeout(order, not_filled_reason(order))
                if placed
                else self.callbacks.timeout(order),
            )
            self.metrics.orders_timed_out.inc()
            return
        if self.zones is not None and self.zones.manages(order):
            self.zones.first_back(order)
        self.queue.move(order, OrderState.WAITING_ZONE, reason)
        self.queue.release_position(order)
        self.watch(order, check_now=check_now)

    def end_cancelled(self, order: WorkerOrder) -> None:
        """The operator's cancel, carried out: nothing of the entry is live on the exchange."""
        self.forget(order)
        self.queue.move(
            order,
            OrderState.CANCELLED,
            "cancelled by the operator",
            callback=self.callbacks.cancelled(order, "cancelled by request"),
        )

    def adopt_live_attempt(self, order: WorkerOrder) -> None:
        """An attempt we were waiting to resend is live on the exchange after all (it
        surfaced late, after a restart): it is the entry now, working until its deadline."""
        if order.state is not OrderState.WAITING_ZONE:
            return
        self.forget(order)
        if self.zones is not None and self.zones.manages(order):
            self.zones.first_live_again(order)
        self.queue.claim_position(order)
        self.queue.move(order, OrderState.PLACING, "an earlier attempt is live on the exchange")
        self.watch_deadline(order)

    def rewait(self, order: WorkerOrder, reason: str) -> None:
        """The exchange cancelled our unfilled entry (post-only): wait for the zone again."""
        self._back_to_zone(order, reason, check_now=False)

    def _fail(self, order: WorkerOrder, exc: ExchangeError) -> None:
        log.error("order %s placement failed: %s", order.order_id, exc)
        order.last_error = str(exc)
        if order.state in (OrderState.PLACING, OrderState.PLACED, OrderState.WAITING_ZONE):
            self.queue.move(
                order,
                OrderState.FAILED,
                "placement refused",
                callback=self.callbacks.failed(order, exc.message, exc.code),
                error=str(exc),
            )
            self.forget(order)
            self.metrics.orders_failed.inc()

    # -- timeouts
    def _on_deadline(self, order_id: str) -> None:
        self._timers.pop(order_id, None)
        order = self.queue.get(order_id)
        if order is not None:
            self._expire(order)

    def _expire(self, order: WorkerOrder) -> None:
        step = on_deadline(order.state)
        if step is DeadlineStep.TIMEOUT:
            self.forget(order)
            self.queue.move(
                order,
                OrderState.TIMEOUT,
                "entry zone not reached",
                callback=self.callbacks.timeout(order),
            )
            self.metrics.orders_timed_out.inc()
            log.warning("order %s timeout: entry zone not reached", order.order_id)
        elif step is not DeadlineStep.NOTHING:
            order.timed_out = True
            self.queue.save_facts(order)
            if step is DeadlineStep.MARK_AND_CANCEL:
                self.on_timeout_cancel(order)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self._tasks.cancel_all()
