"""The worker as one object: wiring, start-up (journal replay + reconciliation before new
work), the price hot path, and the operations the control API exposes."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from zoneguard.domain.contract import contracts_for_quantity, validate_leverage
from zoneguard.domain.errors import ContractError, PlanValidationError
from zoneguard.domain.lifecycle import Lifecycle, OrderState
from zoneguard.domain.market import KlineBar, PriceTick
from zoneguard.domain.plan import OrderPlan, PlanDefaults, parse_plan
from zoneguard.domain.triggers import TriggerIndex
from zoneguard.exchange.errors import ExchangeError, MarketUnavailable, Rejected
from zoneguard.exchange.port import ExchangePort
from zoneguard.worker.alerts import Alerter
from zoneguard.worker.callbacks import CallbackFactory
from zoneguard.worker.config import OrdersConfig, WorkerSettings
from zoneguard.worker.entry_zone import EntryZoneMonitor
from zoneguard.worker.fills import FillTracker
from zoneguard.worker.journal import DuplicateOrder, Journal, hash_payload
from zoneguard.worker.markets import Markets
from zoneguard.worker.metrics import Metrics, SuccessRate
from zoneguard.worker.order_queue import (
    ENTERED,
    GUARDED_STATES,
    OrderQueue,
    WorkerOrder,
    now_ms,
)
from zoneguard.worker.outbox import CallbackSender
from zoneguard.worker.placement import OrderPlacementService
from zoneguard.worker.reconcile import Reconciler
from zoneguard.worker.shared_backstop import SharedBackstop
from zoneguard.worker.sltp import StopLossTakeProfitMonitor
from zoneguard.worker.zone_entries import ZoneEntries

log = logging.getLogger("zoneguard.worker")

JOURNAL_FILE = "worker.db"
JOURNAL_CHECKPOINT_S = 0.5
"""How often the journal's background thread checkpoints (no fsync inside a commit)."""

FORGET_FINISHED_AFTER_S = 600
"""How long a finished order stays in memory (late pushes about it are still matched)."""
SWEEP_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    """An operation's HTTP-shaped result: status code and JSON body."""

    status: int
    body: dict[str, Any]


POSITION_FIELDS = ("entry_zone_min", "entry_zone_max", "entry_zones", "quantity", "leverage")
"""What ``monitor-position`` takes from the exchange's position, never from the request."""
_POSITION_PLACEHOLDER = {
    "entry_zone_min": "1",
    "entry_zone_max": "1",
    "quantity": "1",
    "leverage": 1,
}


def field_errors(fields: Iterable[tuple[str, str]], status: int = 422) -> Answer:
    """The control API's one refusal shape: ``{"ok": false, "error": "<field>: <message>;
    ...", "fields": [{"field", "message"}]}``, each bad field named once."""
    fields = list(fields)
    message = "; ".join(f"{name}: {text}" for name, text in fields)
    return Answer(
        status,
        {
            "ok": False,
            "error": message,
            "fields": [{"field": name, "message": text} for name, text in fields],
        },
    )


class WorkerService:
    def __init__(
        self,
        exchange: ExchangePort,
        config: OrdersConfig,
        settings: WorkerSettings,
        var_dir: Path,
        *,
        freeze_heap: bool = False,
    ) -> None:
        """``freeze_heap`` (the worker process, not in-process tests): see
        :meth:`_freeze_heap`."""
        orders = config.orders
        self.exchange = exchange
        self.config = config
        self.settings = settings
        self.defaults = PlanDefaults(
            timeout_seconds=orders.entry_zone.timeout_seconds,
            tolerance_percent=orders.entry_zone.tolerance_percent,
        )
        self.journal = Journal.open(
            var_dir / JOURNAL_FILE, checkpoint_interval_s=JOURNAL_CHECKPOINT_S
        )
        self.queue = OrderQueue(self.journal)
        self.index = TriggerIndex()
        self.markets = Markets(exchange)
        self.metrics = Metrics()
        webhook = settings.alert_webhook_url
        self.alerter = Alerter(
            webhook.get_secret_value() if webhook else None,
            logging.getLogger("zoneguard.worker.alerts"),
        )
        self.callbacks = CallbackFactory(settings.app_base_url)
        self.placement = OrderPlacementService(exchange, self.markets, orders.exchange_backstop)
        self.entry = EntryZoneMonitor(
            self.queue,
            self.index,
            self.markets,
            self.placement,
            self.callbacks,
            self.alerter,
            self.metrics,
            immediate_if_in_zone=orders.entry_zone.immediate_if_in_zone,
        )
        self.sltp = StopLossTakeProfitMonitor(
            self.queue,
            self.index,
            self.markets,
            self.placement,
            self.callbacks,
            self.alerter,
            self.metrics,
            orders,
        )
        self.fills = FillTracker(self.queue, self.entry, self.sltp, self.placement, self.callbacks)
        self.zones = ZoneEntries(
            self.queue,
            self.index,
            self.markets,
            self.placement,
            self.callbacks,
            self.alerter,
            self.entry,
            self.sltp,
            tolerance_percent=orders.entry_zone.tolerance_percent,
            immediate_if_in_zone=orders.entry_zone.immediate_if_in_zone,
        )
        self.entry.zones = self.zones
        self.fills.zones = self.zones
        self.shared = SharedBackstop(
            self.queue, self.markets, self.placement, self.sltp.legs.stop_of
        )
        self.sltp.on_holders_changed = lambda order: self.shared.refresh(order.symbol, order.side)
        self.sltp.legs.shared = self.shared
        self.sltp.legs.stop_entries = self.zones.stop_entering
        self.sltp.legs.entries_settled = self.zones.settled
        self.reconciler = Reconciler(self.placement, self.entry, self.sltp, self.fills, self.zones)
        secret = settings.callback_secret
        self.sender = CallbackSender(
            self.journal,
            secret=secret.get_secret_value() if secret else None,
            alert=self.alerter,
            alert_age_s=settings.callback_alert_age_s,
        )
        self.queue.on_callback_enqueued.append(self.sender.notify)
        self.metrics.count_callbacks_from(self._callback_success)
        self.ready = False
        self.started_at = time.time()
        self._sender_task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._submit_lock = asyncio.Lock()
        self._freeze_heap_on = freeze_heap

    def _callback_success(self) -> SuccessRate:
        delivered = self.sender.delivered
        return SuccessRate(delivered, delivered + self.sender.failed_attempts)

    # -- life
    async def start(self) -> None:
        """Replay the journal and reconcile with the exchange; only then take new work."""
        exchange = self.exchange
        exchange.on_price(self.on_price)
        exchange.on_kline(self.on_kline)
        exchange.on_order(self.fills.on_order)
        exchange.on_position(self.fills.on_position)
        exchange.on_connection(self.fills.on_connection)
        await exchange.start()
        await self.markets.ensure_account()
        restored, unreadable = self.queue.load()
        for order_id, problem in unreadable:
            self.alerter.fire(
                "resume_failed",
                f"order {order_id} could not be rebuilt from the journal ({problem}): "
                "check its position on the exchange by hand",
                dedup_key=f"resume_failed:{order_id}",
                order_id=order_id,
            )
        # Callbacks already due go out while we reconcile; so does the silent-feed guard.
        self.journal.retry_pending_now(now_ms())
        self._sender_task = asyncio.get_running_loop().create_task(self.sender.run())
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_finished())
        self.sltp.start_watchdog()
        for symbol in sorted({order.symbol for order in restored}):
            await self.markets.ensure_prices(symbol)
        await self.reconciler.resume(restored)
        self.fills.start()
        if self._freeze_heap_on:
            self._freeze_heap()
        self.ready = True
        log.info("worker ready: %d orders resumed", len(restored))

    async def _sweep_finished(self) -> None:
        """Let go of orders finished ``FORGET_FINISHED_AFTER_S`` ago, once a minute."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                self.queue.forget_finished_before(now_ms() - FORGET_FINISHED_AFTER_S * 1000)
            except Exception:
                log.exception("forgetting finished orders failed; trying again later")

    def _freeze_heap(self) -> None:
        """Move what start-up built (the resumed orders, imported modules, the index) out of
        the cyclic GC's reach, once.

        CPython's full collection walks every tracked object: with 100k resumed orders that
        is about half a second with the event loop stopped (a stop-loss waiting behind it).
        Those objects live for the whole process, so they gain nothing from being walked.
        Only once, at start-up: an object frozen while alive that later dies inside a
        reference cycle is never reclaimed, and a periodic freeze would leak a little of
        that (tasks, exceptions with tracebacks) every time, for as long as the worker runs."""
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        self.ready = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.entry.stop()
        await self.zones.stop()
        await self.shared.stop()
        await self.sltp.stop()
        await self.fills.stop()
        await self.sender.stop()
        if self._sender_task is not None:
            await asyncio.gather(self._sender_task, return_exceptions=True)
        await self.exchange.close()
        await self.alerter.close()
        self.queue.intents.close()
        self.journal.close()
        log.info("worker stopped cleanly")

    # -- the hot path: every price message
    def on_price(self, tick: PriceTick) -> None:
        self.markets.update_from_tick(tick)
        self.metrics.price_updates.count += 1
        received = tick.received_ns or time.monotonic_ns()
        self.sltp.on_price(tick.symbol, tick.last, received)
        self.entry.on_price(tick.symbol, tick.last, received)

    def on_kline(self, bar: KlineBar) -> None:
        self.markets.update_from_kline(bar)
        received = bar.received_ns or time.monotonic_ns()
        self.sltp.on_price(bar.symbol, bar.close, received)
        self.entry.on_price(bar.symbol, bar.close, received)

    # -- operations
    async def place_order(self, payload: Mapping[str, Any]) -> Answer:
        """``POST /api/place-order``: validate, journal, index. Idempotent by ``id``."""
        try:
            plan = parse_plan(payload, self.defaults)
        except PlanValidationError as exc:
            return field_errors([(e.field, e.message) for e in exc.errors])
        payload_hash = hash_payload(plan.to_payload())
        known = self._known(plan.id, payload_hash)
        if known is not None:
            return known
        try:
            spec = await self.markets.spec(plan.symbol)
        except MarketUnavailable as exc:
            return field_errors([("symbol", f"{plan.symbol} is not traded: {exc.message}")])
        except ExchangeError as exc:
            return Answer(503, {"ok": False, "error": f"exchange unavailable: {exc}"})
        try:
            contracts = contracts_for_quantity(spec, plan.quantity)
            validate_leverage(spec, plan.leverage)
        except ContractError as exc:
            return field_errors([(exc.field, exc.message)])
        try:
            await self.markets.ensure_prices(plan.symbol)
            await self.markets.ensure_account()
            # Leverage now, not when the zone is hit: the trigger path makes one call only.
            await self.placement.ensure_leverage(plan.symbol, Decimal(plan.leverage))
        except Rejected as exc:  # e.g. 40040: another leverage is in force on an open position
            return field_errors([("leverage", f"refused by the exchange: {exc}")])
        except ExchangeError as exc:
            return Answer(503, {"ok": False, "error": f"exchange unavailable: {exc}"})
        async with self._submit_lock:
            known = self._known(plan.id, payload_hash)
            if known is not None:
                return known
            order = self._new_order(plan, contracts, spec.contract_size)
            if self.zones.manages(order):
                self.zones.adopt(order, spec)  # each zone's size, journaled with the order
            self.placement.backstop_levels(order, spec)  # now, not on the trigger path
            lifecycle_event = order.lifecycle.history[0]
            try:
                self.queue.add(order, lifecycle_event)
            except DuplicateOrder:
                return self._known(plan.id, payload_hash) or Answer(409, {"ok": False})
        self.metrics.orders_received.inc()
        self.entry.watch(order, arriving=True)
        log.info("order %s accepted: %s", plan.id, plan.to_payload())
        return Answer(200, self._accepted(order, duplicate=False))

    def _new_order(
        self, plan: OrderPlan, contracts: Decimal, contract_size: Decimal
    ) -> WorkerOrder:
        created = now_ms()
        lifecycle, _event = Lifecycle.start(plan.id, created)
        low, high = plan.widened_zone(self.defaults.tolerance_percent)
        order = WorkerOrder(
            plan=plan,
            lifecycle=lifecycle,
            zone_low=low,
            zone_high=high,
            contracts=contracts,
            deadline_ms=created + plan.timeout_seconds * 1000,
            created_ms=created,
        )
        order.extra["contract_size"] = str(contract_size)
        return order

    def _known(self, order_id: str, payload_hash: str) -> Answer | None:
        stored = self.journal.get_order(order_id)
        if stored is None:
            return None
        if stored.payload_hash != payload_hash:
            return field_errors([("id", f"{order_id} is already used by another order")], 409)
        order = self.queue.get(order_id)
        if order is not None:
            return Answer(200, self._accepted(order, duplicate=True))
        return Answer(
            200, {"ok": True, "order_id": order_id, "status": stored.state, "duplicate": True}
        )

    def _side_busy(self, plan: OrderPlan) -> Answer | None:
        """``monitor-position`` adopts the venue's whole position of a symbol and side: not
        while a signal of ours holds (or may hold) part of it."""
        live = self.queue.live_on_side(plan.symbol, plan.side)
        if live:
            order = live[0]
            busy = (
                f"{plan.symbol} {plan.side.value} already has order {order.order_id} "
                f"({order.state.value}); monitor-position adopts the whole position "
                "(close or cancel it first)"
            )
            return field_errors([("side", busy)], 409)
        return None

    @staticmethod
    def _accepted(order: WorkerOrder, *, duplicate: bool) -> dict[str, Any]:
        return {
            "ok": True,
            "order_id": order.order_id,
            "status": order.state.value,
            "duplicate": duplicate,
            "contracts": str(order.contracts),
            "entry_zone": [str(order.zone_low), str(order.zone_high)],
            "timeout_at_ms": order.deadline_ms,
        }

    async def cancel(self, order_id: str) -> Answer:
        """Cancel a waiting or placed entry; a position already open is closed instead."""
        order = self.queue.get(order_id)
        if order is None:
            stored = self.journal.get_order(order_id)
            if stored is None:
                return field_errors([("order_id", f"{order_id} is unknown")], 404)
            return field_errors([("order_id", f"{order_id} is {stored.state}")], 409)
        state = order.state
        if state is OrderState.WAITING_ZONE:
            self.entry.end_cancelled(order)
            return Answer(200, {"ok": True, "order_id": order_id, "status": "cancelled"})
        if state in (OrderState.PLACED, OrderState.PLACING):
            order.timed_out = True  # same path as a timeout: cancel the rest, keep fills
            order.extra["cancel_requested"] = True
            self.zones.stop_entering(order, "cancelled by the operator")
            self.queue.save_facts(order)
            if state is OrderState.PLACED:
                self.fills.cancel_for_timeout(order)
            return Answer(202, {"ok": True, "order_id": order_id, "status": "cancelling"})
        return field_errors(
            [
                (
                    "order_id",
                    f"{order_id} is {state.value}: close it with POST /api/orders/{order_id}/close",
                )
            ],
            409,
        )

    async def close(self, order_id: str) -> Answer:
        """Close a guarded position now, at market (reason ``manual``)."""
        order = self.queue.get(order_id)
        if order is None or order.state not in GUARDED_STATES:
            stored = self.journal.get_order(order_id)
            if stored is None:
                return field_errors([("order_id", f"{order_id} is unknown")], 404)
            state = order.state.value if order is not None else stored.state
            return field_errors([("order_id", f"{order_id} holds no position ({state})")], 409)
        if self.sltp.is_closing(order):
            return Answer(202, {"ok": True, "order_id": order_id, "status": "closing"})
        quote = self.markets.quote(order.symbol)
        self.sltp.unguard(order)
        self.sltp.start_close(order, "manual", None, quote.last if quote else Decimal(0), 0)
        return Answer(202, {"ok": True, "order_id": order_id, "status": "closing"})

    async def monitor_position(self, payload: Mapping[str, Any]) -> Answer:
        """Guard a position opened elsewhere (the target of MonitorPositionMessage)."""
        fields = dict(payload)
        refused = [
            (name, "not accepted: taken from the exchange position")
            for name in POSITION_FIELDS
            if name in fields
        ]
        # Every field of the request is checked before the exchange is asked about it.
        try:
            parse_plan({**fields, **_POSITION_PLACEHOLDER}, self.defaults, check_exits=False)
        except PlanValidationError as exc:
            refused += [(e.field, e.message) for e in exc.errors]
        if refused:
            return field_errors(refused)
        symbol = str(fields["symbol"]).upper()
        side = str(fields["side"]).lower()
        try:
            spec = await self.markets.spec(symbol)
            positions = await self.exchange.positions(symbol)
        except MarketUnavailable as exc:
            return field_errors([("symbol", f"{symbol} is not traded: {exc.message}")])
        except ExchangeError as exc:
            return Answer(503, {"ok": False, "error": f"exchange unavailable: {exc}"})
        held = [p for p in positions if p.side.value == side and p.contracts > 0]
        if not held:
            return field_errors([("side", f"no open {side} position on {symbol}")])
        position = held[0]
        fields.update(
            entry_zone_min=str(position.entry_price),
            entry_zone_max=str(position.entry_price),
            quantity=str(position.contracts * spec.contract_size),
            leverage=int(position.leverage or 1),
            timeout_seconds=fields.get("timeout_seconds", self.defaults.timeout_seconds),
        )
        strict = PlanDefaults(
            timeout_seconds=self.defaults.timeout_seconds, tolerance_percent=Decimal(0)
        )
        try:
            plan = parse_plan(fields, strict)
        except PlanValidationError as exc:
            return field_errors([(e.field, e.message) for e in exc.errors])
        async with self._submit_lock:
            known = self._known(plan.id, hash_payload(plan.to_payload()))
            if known is not None:
                return known
            busy = self._side_busy(plan)
            if busy is not None:
                return busy
            order = self._new_order(plan, position.contracts, spec.contract_size)
            order.monitor_only = True
            order.filled_contracts = position.contracts
            order.extra[ENTERED] = str(position.contracts)
            order.entry_price = position.entry_price
            self.queue.add(order, order.lifecycle.history[0])
            self.queue.claim_position(order)
            self.queue.move(order, OrderState.PLACING, "adopting an open position")
            self.queue.move(order, OrderState.OPEN, "position guarded")
        await self.markets.ensure_prices(plan.symbol)
        await self.markets.ensure_account()
        self.sltp.guard(order)
        return Answer(200, {"ok": True, "order_id": plan.id, "status": order.state.value})

    # -- status
    def orders_status(self) -> dict[str, Any]:
        waiting, active, monitored = [], [], []
        for order in self.queue:
            summary = order.summary()
            if order.state is OrderState.WAITING_ZONE:
                waiting.append(summary)
            elif order.state in GUARDED_STATES:
                monitored.append(summary)
            elif not order.lifecycle.is_terminal:
                active.append(summary)
        self.metrics.waiting_orders.set(len(waiting))
        self.metrics.guarded_positions.set(len(monitored))
        return {
            "waiting_orders": waiting,
            "active_orders": active,
            "monitored_positions": monitored,
            "counts": {
                "waiting": len(waiting),
                "active": len(active),
                "monitored": len(monitored),
            },
        }

    def order_detail(self, order_id: str) -> dict[str, Any] | None:
        stored = self.journal.get_order(order_id)
        if stored is None:
            return None
        order = self.queue.get(order_id) or self.queue.rebuild_stored(order_id)
        return {
            "order": order.summary() if order else {"id": order_id, "state": stored.state},
            "payload": stored.payload,
            "facts": stored.data,
            "history": self.journal.events(order_id),
        }

    def refused_callbacks(self) -> dict[str, Any]:
        """Callbacks set aside because the receiver refused them as invalid."""
        return {
            "callbacks": [
                {
                    "event_id": item.event_id,
                    "order_id": item.order_id,
                    "url": item.url,
                    "status": item.body.get("status"),
                    "attempts": item.attempts,
                    "last_error": item.last_error,
                    "body": item.body,
                }
                for item in self.journal.refused_callbacks()
            ]
        }

    def retry_callback(self, event_id: str) -> Answer:
        """Send a set-aside callback again (once its receiver was fixed)."""
        if not self.journal.retry_refused(event_id, now_ms()):
            return field_errors([("event_id", f"{event_id} is not a set-aside callback")], 404)
        self.sender.notify()
        return Answer(202, {"ok": True, "event_id": event_id, "status": "queued"})

    def status(self) -> dict[str, Any]:
        health = self.exchange.health()
        pending = self.journal.pending_count()
        self.metrics.callbacks_pending.set(pending)
        return {
            "status": "ok" if self.ready else "starting",
            "kline_channels": self.markets.channels(),
            "position_subscribed": self.markets.position_subscribed,
            "price_subscriptions": sorted(self.markets.price_symbols),
            "connections": {
                "public_connected": health.public_connected,
                "private_connected": health.private_connected,
                "private_logged_in": health.private_logged_in,
                "last_public_message_age_s": health.last_public_message_age_s,
                "reconnects": health.reconnects,
            },
            "orders": self.orders_status()["counts"],
            "callbacks_pending": pending,
            "callbacks_refused": self.journal.refused_count(),
            "success_rates": {
                "placement": self.metrics.placement_success().as_dict(),
                "callback": self.metrics.callback_success().as_dict(),
            },
            "uptime_s": round(time.time() - self.started_at, 3),
            "exchange": self.exchange.venue,
        }
