"""The seed's StopLossTakeProfitMonitor: close a guarded position the moment SL or TP is crossed.

Runs on every price update (before entries: a stop is the most urgent thing we do). A hit
journals ``closing`` and sends a reduce-only close sized to what we hold, on the wire
before the price handler returns when the exchange can send synchronously; the log lines
follow the send. A stop (and a manual close) closes at market: its slippage is measured
and reported, never allowed to hold it up. A take-profit closes with a limit IOC no worse
than the target less ``take_profit.slippage_tolerance_percent``; what it does not fill is
closed at market at once, and one ``closed`` reports the whole position. A refused close
becomes ``close_failed`` (callback + operator alert) and is retried with backoff for as
long as the position is open. When the exchange's preset fired first, the position is
flat: we report that close once and never close twice. A feed silent for longer than
``check_interval_ms`` is replaced by REST prices for the guarded symbols
(:mod:`zoneguard.worker.feed_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.market import OrderInfo, OrderStatus
from zoneguard.domain.pricing import slippage_percent
from zoneguard.domain.triggers import GuardReason, TriggerIndex
from zoneguard.domain.values import Side, Symbol
from zoneguard.engine.close_policy import NextClose, after_refusal, first_close_limit
from zoneguard.engine.close_settlement import (
    CloseOutcome,
    SettleKind,
    needs_position,
    settle_close,
)
from zoneguard.exchange.errors import ExchangeError, PositionNotFound
from zoneguard.exchange.port import PlacedOrder
from zoneguard.worker.alerts import Alerter
from zoneguard.worker.callbacks import CallbackFactory
from zoneguard.worker.config import OrdersSection
from zoneguard.worker.exit_legs import ExitLegs
from zoneguard.worker.feed_watch import FeedWatch
from zoneguard.worker.logs import sltp_logger
from zoneguard.worker.markets import Markets
from zoneguard.worker.metrics import Metrics
from zoneguard.worker.order_queue import ENTERED, OrderQueue, WorkerOrder, entered
from zoneguard.worker.placement import (
    CLOSE_LIMIT,
    OrderPlacementService,
    backoff_s,
    close_limit,
)

log = sltp_logger()

CLOSE_CONFIRM_S = 2.0
"""How long to wait for the close's fill push before asking by REST."""

CLOSE_LOOKUP_ATTEMPTS = 5
"""Failed REST lookups of our close order before going by the position instead."""

MAX_CLOSE_LOOKUPS = 20
"""A position found flat with no exchange close heard of: how many of our latest close
attempts are asked for by client id (refused attempts never existed; 20 covers a long
outage of refusals without a flood of lookups)."""


class StopLossTakeProfitMonitor:
    def __init__(
        self,
        queue: OrderQueue,
        index: TriggerIndex,
        markets: Markets,
        placement: OrderPlacementService,
        callbacks: CallbackFactory,
        alerter: Alerter,
        metrics: Metrics,
        config: OrdersSection,
    ) -> None:
        self.queue = queue
        self.index = index
        self.markets = markets
        self.placement = placement
        self.callbacks = callbacks
        self.alerter = alerter
        self.metrics = metrics
        self.config = config
        self._closing: dict[str, asyncio.Task[None]] = {}
        self._close_fills: dict[str, asyncio.Future[OrderInfo]] = {}
        self._guarded_symbols: dict[Symbol, int] = {}
        self.feed_watch = FeedWatch(
            markets, index, self._guarded_symbols.keys, config, self.on_price, metrics
        )
        self._exchange_exits: dict[str, asyncio.Event] = {}
        self._side_tasks: set[asyncio.Task[object]] = set()
        self.on_holders_changed: Callable[[WorkerOrder], None] = lambda order: None
        """Set by the service: ``order`` holds more, less or nothing of its side's position
        (the shared exchange-side protection follows)."""
        self.legs = ExitLegs(
            queue,
            markets,
            placement,
            callbacks,
            alerter,
            config,
            start_close=lambda o, reason, level, price, tick_ns: self.start_close(
                o, reason, level, price, tick_ns, hit=True
            ),
            finish=self._closed,
            register=self._watch,
        )

    # -- guarding
    def guard(self, order: WorkerOrder, *, check_now: bool = True) -> None:
        """Watch the order's SL/TP from now on (idempotent); ``check_now``: act at once when
        the last price already crossed a level."""
        stop, take = self._watch(order)
        self.on_holders_changed(order)
        log.info(
            "SLTP guarding %s %s %s contracts=%s SL=%s %s=%s",
            order.order_id,
            order.symbol,
            order.side.value,
            self.legs.held(order),
            stop,
            "next" if self.legs.manages(order) else "TP",
            take,
        )
        quote = self.markets.quote(order.symbol)
        if quote is not None and check_now:  # the level may already be crossed
            self.on_price(order.symbol, quote.last, time.monotonic_ns())

    def _watch(self, order: WorkerOrder) -> tuple[Decimal | None, Decimal | None]:
        """Put ``order``'s levels in the trigger index (replacing earlier ones): the plan's
        SL/TP, or for exit legs the engine's stop and next level in favour."""
        if self.legs.manages(order):
            stop, take = self.legs.levels(order)
        else:
            stop, take = order.plan.stop_loss, order.plan.take_profit
        triggers = self.index.for_symbol(order.symbol)
        if not triggers.has_guard(order.order_id):
            self._guarded_symbols[order.symbol] = self._guarded_symbols.get(order.symbol, 0) + 1
        triggers.add_guard(order.order_id, order.side, stop, take)
        return stop, take

    def unguard(self, order: WorkerOrder) -> None:
        triggers = self.index.get(order.symbol)
        if triggers is not None and triggers.remove_guard(order.order_id):
            left = self._guarded_symbols.get(order.symbol, 1) - 1
            if left <= 0:
                self._guarded_symbols.pop(order.symbol, None)
            else:
                self._guarded_symbols[order.symbol] = left

    def is_closing(self, order: WorkerOrder) -> bool:
        """A close of ``order`` is on its way (all of it, or a take-profit rung)."""
        return order.order_id in self._closing or self.legs.busy(order)

    # -- the hot path
    def on_price(self, symbol: Symbol, price: Decimal, tick_ns: int) -> None:
        triggers = self.index.get(symbol)
        if triggers is None or not triggers.guard_count:
            return
        for hit in triggers.guards_at(price):
            order = self.queue.get(hit.position_id)
            self.unguard_id(symbol, hit.position_id)
            if order is None or order.order_id in self._closing:
                continue
            try:
                if self.legs.manages(order):
                    self.legs.on_price(order, price, tick_ns)
                    continue
                self.start_close(order, hit.reason.value, hit.level, price, tick_ns, hit=True)
            except Exception:
                # E.g. the journal could not record ``closing``: keep guarding, alert, and
                # try again shortly rather than leave the position unwatched.
                log.critical("SLTP close of %s could not start", order.order_id, exc_info=True)
                # A rung or a stop move that failed is not a close of everything: keep
                # watching, and the next price asks the engine again.
                step = self.legs.manages(order) and not self.legs.handed_over(order)
                self.alerter.fire(
                    "close_not_started",
                    f"an exit step of {order.order_id} could not start; still guarded"
                    if step
                    else f"closing {order.order_id} could not start; retrying",
                    dedup_key=f"close_not_started:{order.order_id}",
                    order_id=order.order_id,
                )
                self.guard(order, check_now=False)
                if not step:
                    asyncio.get_running_loop().call_later(1.0, self._retry_after_crash, order)

    def unguard_id(self, symbol: Symbol, position_id: str) -> None:
        order = self.queue.get(position_id)
        if order is not None:
            self.unguard(order)
        else:
            triggers = self.index.get(symbol)
            if triggers is not None:
                triggers.remove_guard(position_id)

    # -- closing
    def start_close(
        self,
        order: WorkerOrder,
        reason: str,
        level: Decimal | None,
        price: Decimal,
        tick_ns: int,
        *,
        hit: bool = False,
    ) -> None:
        """Note the close's client id, send it (at once when the exchange can), journal
        ``closing``, then log; ``hit``: the price crossed ``level`` (the line says so)."""
        if self.legs.manages(order):
            self.legs.hand_over(order)
            self.legs.stop_entries(order, "closing")
        order.close_reason = reason
        order.close_level = level
        if order.state is OrderState.PARTIALLY_FILLED:
            # Stop the entry's unfilled rest from adding to a position we are closing.
            order.extra["entry_was_working"] = True
            self._spawn(self.placement.cancel_entry(order), f"cancel the entry of {order.order_id}")
        moving = order.state is not OrderState.CLOSING
        if moving:
            # Noted (one append) before the close can exist on the exchange; the journal
            # commit follows the send (see zoneguard.worker.intents).
            self._next_close_id(order)
            if hit:
                self._limit_take_profit(order, reason, level)
            assert order.close_client_id is not None
            self.queue.note_sending(
                order, "close", order.close_attempt, order.close_client_id, reason
            )
        try:
            sent: Awaitable[PlacedOrder] | None = self.placement.start_close(
                order, order.filled_contracts
            )
        except Exception:  # _close sends it again, same client id: never doubled
            log.exception("SLTP close of %s not sent at once", order.order_id)
            sent = None
        event = (
            self.queue.move_sent(order, OrderState.CLOSING, reason, price=str(price))
            if moving
            else None
        )
        self._run_close(order, self._close(order, tick_ns, sent))
        if hit:
            limit = close_limit(order)
            log.warning(
                "SLTP %s hit for %s: price %s crossed %s%s",
                reason,
                order.order_id,
                price,
                level,
                "" if limit is None else f"; closing with a limit IOC at {limit}",
            )
        if event is not None:
            self.queue.log_move(event)

    def _limit_take_profit(self, order: WorkerOrder, reason: str, level: Decimal | None) -> None:
        """Make this close attempt the limit IOC the engine names for it (a take-profit's
        first attempt); what it does not fill is closed at market next (see :meth:`_close`)."""
        spec = self.markets.cached_spec(order.symbol)
        limit = first_close_limit(
            reason,
            order.side,
            level,
            self.config.take_profit.slippage_tolerance_percent,
            None if spec is None else spec.tick_size,
        )
        if limit is not None:
            order.extra[CLOSE_LIMIT] = {"attempt": order.close_attempt, "price": str(limit)}

    def _next_close_id(self, order: WorkerOrder) -> None:
        order.close_attempt += 1
        order.close_client_id = client_order_id_for(order.order_id, f"close{order.close_attempt}")
        self.queue.link_client_id(order, order.close_client_id)
        order.extra.setdefault("client_ids", []).append(order.close_client_id)

    def _close_done(self, order_id: str, task: asyncio.Task[None]) -> None:
        self._closing.pop(order_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.critical("SLTP close task of %s crashed", order_id, exc_info=task.exception())
            order = self.queue.get(order_id)
            if order is not None and not order.lifecycle.is_terminal:
                # Never leave a position unguarded: try again from the start.
                asyncio.get_running_loop().call_later(1.0, self._retry_after_crash, order)

    def _retry_after_crash(self, order: WorkerOrder) -> None:
        if order.lifecycle.is_terminal or order.order_id in self._closing:
            return
        quote = self.markets.quote(order.symbol)
        price = quote.last if quote else Decimal(0)
        self.start_close(order, order.close_reason or "stop_loss", order.close_level, price, 0)

    def resume_close(self, order: WorkerOrder) -> None:
        """Restart: the close sent before the crash exists on the exchange; wait for its
        outcome, then settle or close the rest, like any close."""
        self._run_close(order, self._close(order, 0, resumed=True))

    def _run_close(self, order: WorkerOrder, close: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(close)
        self._closing[order.order_id] = task
        task.add_done_callback(lambda t: self._close_done(order.order_id, t))

    async def _close(
        self,
        order: WorkerOrder,
        tick_ns: int,
        sent: Awaitable[PlacedOrder] | None = None,
        *,
        resumed: bool = False,
    ) -> None:
        """Close until flat; ``sent``: the first attempt, already sent by start_close;
        ``resumed``: the first attempt is ``close_order_id``, sent before a restart."""
        failures = 0
        while not order.lifecycle.is_terminal:
            if resumed:
                resumed = False
            else:
                try:
                    if sent is not None:
                        attempt, sent = sent, None
                        placed = await attempt
                    else:
                        placed = await self.placement.close(order, order.filled_contracts)
                except PositionNotFound:
                    if await self._settle_if_flat(order):
                        return
                    held = await self.placement.position_contracts(order.symbol, order.side)
                    order.filled_contracts = self._own_part(order, held)
                    self._retry_state(order)
                    continue
                except ExchangeError as exc:
                    step = after_refusal(
                        limited=close_limit(order) is not None, refusals=failures + 1
                    )
                    if step is NextClose.MARKET_NOW:
                        log.warning(
                            "SLTP take-profit IOC of %s refused (%s): closing at market",
                            order.order_id,
                            exc,
                        )
                        self._retry_state(order)
                        continue
                    failures += 1
                    await self._close_refused(order, exc, failures)
                    if await self._settle_if_flat(order):
                        return
                    await asyncio.sleep(backoff_s(min(failures, 6)))
                    self._retry_state(order)
                    continue
                if tick_ns:
                    elapsed_ns = time.monotonic_ns() - tick_ns
                    self.metrics.tick_to_close_ack.observe(elapsed_ns / 1e9)
                    order.extra["tick_to_close_ack_us"] = elapsed_ns // 1000
                    tick_ns = 0
                order.close_order_id = placed.order_id
                self.queue.link_exchange_id(order, placed.order_id)
                self.queue.save_facts(order)
            info = await self._await_close_final(order)
            if await self._settle_close(order, info):
                return
            self._retry_state(order)

    async def _settle_close(self, order: WorkerOrder, info: OrderInfo | None) -> bool:
        """Our close order is final (``info``; None: its outcome could not be learnt).
        True when the position is closed and reported; False: close what is left.

        A close that filled everything it was sent for, with no entry rest working, is the
        whole position. Anything else (a partial fill, an unknown outcome, an entry whose
        rest may have filled meanwhile) is settled by the position the exchange reports:
        a position is reported closed only when the exchange shows it flat."""
        managed = self.legs.manages(order)
        if managed:
            # A take-profit rung still closing changes what the position holds: settle
            # by the position once the rungs are over.
            await self.legs.settled(order)
        sent_for = order.filled_contracts
        limit = close_limit(order)
        if limit is not None and info is not None and info.filled_contracts < sent_for:
            log.warning(
                "SLTP take-profit IOC of %s at %s filled %s of %s contracts: the rest at market",
                order.order_id,
                limit,
                info.filled_contracts,
                sent_for,
            )
        if info is not None and info.filled_contracts > 0 and info.avg_fill_price is not None:
            order.extra.setdefault("closed_parts", []).append(
                [str(info.filled_contracts), str(info.avg_fill_price)]
            )
        whole = info is not None and info.filled_contracts >= sent_for
        entry_was_working = bool(order.extra.get("entry_was_working"))
        if entry_was_working:
            # The entry's rest may have filled while we closed: make its cancel final
            # before the position counts (the mark stays until that is done).
            final = await self.placement.cancel_entry(order)
            if final is not None and final.filled_contracts > (entered(order) or 0):
                order.extra[ENTERED] = str(final.filled_contracts)
            order.extra.pop("entry_was_working", None)
        shared = self._shared(order)
        if shared:
            await self._learn_outcome(order, info)
        outcome = CloseOutcome(whole, entry_was_working, managed, shared)
        position = None
        if needs_position(outcome):
            position = await self.placement.position_contracts(order.symbol, order.side)
            if not shared and self._shared(order):  # another signal claimed the side meanwhile
                await self._learn_outcome(order, info)
                outcome = CloseOutcome(whole, entry_was_working, managed, shared=True)
                position = await self.placement.position_contracts(order.symbol, order.side)
        outcome = CloseOutcome(
            outcome.whole,
            outcome.entry_was_working,
            outcome.managed,
            outcome.shared,
            closed_any=bool(order.extra.get("closed_parts")),
        )
        own = self._own_open(order) if outcome.shared else Decimal(0)
        settlement = settle_close(outcome, position, own)
        if settlement.kind is SettleKind.CLOSE_REST:
            log.warning(
                "SLTP close of %s left %s %scontracts open: closing them",
                order.order_id,
                settlement.quantity,
                "of its own " if outcome.shared else "",
            )
            order.filled_contracts = settlement.quantity
            return False
        if settlement.kind is SettleKind.CHECK_FLAT:
            return await self._settle_if_flat(order)  # flat, and not by our close
        self._closed(order, self._closed_parts_price(order), "worker")
        if not outcome.shared:  # the others' protection stays (the keeper follows)
            await self.placement.cancel_leftover_stops(order.symbol, order.side)
        return True

    def _shared(self, order: WorkerOrder) -> bool:
        """Other signals hold parts of this position: it settles by its own contracts."""
        return self.queue.shares_position(order) and entered(order) is not None

    def _own_open(self, order: WorkerOrder) -> Decimal:
        """What is still open of the order's own contracts: all its entries filled, less
        what its closes, its take-profit rungs and the exchange's partial closes took."""
        taken = sum(
            (Decimal(size) for size, _price in order.extra.get("closed_parts") or []), Decimal(0)
        )
        parts = (order.extra.get("exchange_parts") or {}).values()
        taken += sum((Decimal(size) for size, _price in parts), Decimal(0))
        legs = (order.extra.get("exit") or {}).get("legs") or []
        taken += sum((Decimal(leg.get("closed", "0")) for leg in legs), Decimal(0))
        return max(Decimal(0), (entered(order) or Decimal(0)) - taken)

    def _own_part(self, order: WorkerOrder, held: Decimal) -> Decimal:
        """What to close of a position holding ``held``: all of it when the order is alone
        on it, else its own open contracts (never more than is there)."""
        if not self._shared(order):
            return held
        return min(held, self._own_open(order))

    async def _learn_outcome(self, order: WorkerOrder, info: OrderInfo | None) -> None:
        """A close of a shared position whose outcome was not learnt: asked again until it
        is (what it filled joins the close's parts). Counting it closed or not could close
        another signal's contracts."""
        while info is None and not order.lifecycle.is_terminal:
            assert order.close_client_id is not None
            try:
                info = await self.placement.find(order.symbol, order.close_client_id)
            except ExchangeError as exc:
                log.warning("SLTP close of %s not found yet (%s)", order.order_id, exc)
            if info is not None and not info.status.is_final:
                info = None
            if info is None:
                await asyncio.sleep(backoff_s(3))
            elif info.filled_contracts > 0 and info.avg_fill_price is not None:
                order.extra.setdefault("closed_parts", []).append(
                    [str(info.filled_contracts), str(info.avg_fill_price)]
                )

    def _retry_state(self, order: WorkerOrder) -> None:
        """Next close attempt with a fresh client id, journaled before it is sent."""
        if order.state is OrderState.CLOSE_FAILED:
            self._next_close_id(order)
            self.queue.move(order, OrderState.CLOSING, f"retry {order.close_reason}")
        else:
            self._next_close_id(order)
            self.queue.save_facts(order)

    async def _await_close_final(self, order: WorkerOrder) -> OrderInfo | None:
        """Our close's final state: from the order push, else asked by REST every
        ``CLOSE_CONFIRM_S`` until it is final. None after a few lookups that failed: the
        caller then goes by the position. A close still working is never taken as over
        (a second close beside it could close what the first one also closes)."""
        assert order.close_client_id is not None
        assert order.close_order_id is not None
        cid = order.close_client_id
        future = self._close_fills.get(cid)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._close_fills[cid] = future
        lookup_failures = 0
        try:
            while True:
                try:
                    return await asyncio.wait_for(asyncio.shield(future), CLOSE_CONFIRM_S)
                except TimeoutError:
                    pass
                log.warning("SLTP no final push for close of %s: asking by REST", order.order_id)
                try:
                    info = await self.placement.get_order(order.symbol, order.close_order_id)
                except ExchangeError as exc:
                    lookup_failures += 1
                    log.warning("SLTP close of %s not found (%s)", order.order_id, exc)
                    if lookup_failures >= CLOSE_LOOKUP_ATTEMPTS:
                        return None
                    continue
                if info.status.is_final:
                    return info
        finally:
            self._close_fills.pop(cid, None)

    def exchange_part(self, order: WorkerOrder, info: OrderInfo) -> None:
        """Fill tracker: an exchange preset closed part of the position and stopped (its
        rest cancelled). Kept with the order (once per exchange order, pushes repeat) so
        the ``closed`` report covers those contracts too, at their price."""
        parts = order.extra.setdefault("exchange_parts", {})
        if info.order_id in parts or info.avg_fill_price is None:
            return
        parts[info.order_id] = [str(info.filled_contracts), str(info.avg_fill_price)]
        self.queue.save_facts(order)
        log.warning(
            "SLTP exchange preset closed %s of %s at %s; the rest stays guarded",
            info.filled_contracts,
            order.order_id,
            info.avg_fill_price,
        )

    @staticmethod
    def _closed_parts_price(order: WorkerOrder) -> Decimal | None:
        """The close of the whole position from every order that closed part of it (ours,
        and an exchange preset's that stopped short): ``filled_contracts`` becomes all they
        closed and the price their average, so the ``closed`` callback's size and PnL cover
        every contract, not the last order's only."""
        parts = order.extra.pop("closed_parts", None) or []
        parts += list((order.extra.pop("exchange_parts", None) or {}).values())
        fills = [(Decimal(size), Decimal(price)) for size, price in parts]
        total = sum((size for size, _ in fills), Decimal(0))
        if total <= 0:
            return None
        order.filled_contracts = total
        return sum((size * price for size, price in fills), Decimal(0)) / total

    def on_close_order(self, order: WorkerOrder, info: OrderInfo) -> None:
        """Fill tracker: a push about our close order."""
        if info.status is OrderStatus.FILLED or info.status is OrderStatus.CANCELLED:
            cid = info.client_order_id or order.close_client_id or ""
            future = self._close_fills.get(cid)
            if future is None:
                future = asyncio.get_running_loop().create_future()
                self._close_fills[cid] = future
            if not future.done():
                future.set_result(info)

    async def _close_refused(self, order: WorkerOrder, exc: ExchangeError, failures: int) -> None:
        self.metrics.close_failures.inc()
        order.last_error = str(exc)
        log.error("SLTP close of %s refused (attempt %d): %s", order.order_id, failures, exc)
        if order.state is OrderState.CLOSING:
            # The app hears ``close_failed`` once per position, not once per retry: a close
            # refused for minutes would otherwise flood it every backoff step.
            first = not order.extra.get("close_failed_reported")
            order.extra["close_failed_reported"] = True
            self.queue.move(
                order,
                OrderState.CLOSE_FAILED,
                "close refused",
                callback=self.callbacks.close_failed(order, exc.message, exc.code)
                if first
                else None,
                error=str(exc),
            )
            self.alerter.fire(
                "close_failed",
                f"closing {order.order_id} ({order.symbol} {order.side.value}) failed: {exc}; "
                "retrying until the position is flat",
                dedup_key=f"close_failed:{order.order_id}",
                order_id=order.order_id,
            )

    async def _settle_if_flat(self, order: WorkerOrder) -> bool:
        """The position is gone (preset fired, manual close): report it once and stop."""
        if order.lifecycle.is_terminal:
            return True
        await self.legs.settled(order)
        if order.extra.get("entry_was_working"):
            # Make the entry's rest final first: a position seen flat while it still works
            # could be reopened by it after we report ``closed``, with nobody guarding.
            await self.placement.cancel_entry(order)
        held = await self.placement.position_contracts(order.symbol, order.side)
        if held > 0:
            if self._shared(order):  # never more than its own, never more than is there
                order.filled_contracts = min(held, self._own_open(order)) or held
            return False
        known = order.extra.get("exchange_close")
        if not isinstance(known, dict):
            # The exchange's own close (preset) is usually pushed a moment later: give it
            # that moment, so the callback carries the real close order and price.
            waiter = self._exchange_exits.setdefault(order.order_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), CLOSE_CONFIRM_S)
            self._exchange_exits.pop(order.order_id, None)
            known = order.extra.get("exchange_close")
        if order.lifecycle.is_terminal:
            return True
        if isinstance(known, dict):
            order.close_order_id = known.get("order_id")
            order.close_reason = known.get("reason") or order.close_reason
            price = known.get("price")
            self._closed(order, Decimal(price) if price else None, "exchange")
        else:
            ours = await self._our_closes_price(order)
            if order.lifecycle.is_terminal:
                return True
            self._closed(order, ours, "worker" if ours is not None else "exchange")
        await self.placement.cancel_leftover_stops(order.symbol, order.side)
        return True

    async def _our_closes_price(self, order: WorkerOrder) -> Decimal | None:
        """Flat, and no exchange close heard of: our own close orders may have done it while
        their answers were lost (a reply cut by a crash, pushes dropped, lookups that
        lagged). Each attempt has its own client id, so the exchange is asked for each; what
        they filled is the close, at its average price (None: none of ours filled)."""
        first = max(1, order.close_attempt - MAX_CLOSE_LOOKUPS + 1)
        parts: list[list[str]] = []
        for attempt in range(first, order.close_attempt + 1):
            cid = client_order_id_for(order.order_id, f"close{attempt}")
            try:
                info = await self.placement.find(order.symbol, cid)
            except ExchangeError as exc:
                log.warning("SLTP close %s of %s could not be asked (%s)", cid, order.order_id, exc)
                continue
            if info is not None and info.filled_contracts > 0 and info.avg_fill_price is not None:
                parts.append([str(info.filled_contracts), str(info.avg_fill_price)])
                order.close_order_id = info.order_id
        if parts:
            order.extra["closed_parts"] = parts  # the exchange's word over what we heard
            log.warning(
                "SLTP %s found flat by its own close orders (%d of them filled)",
                order.order_id,
                len(parts),
            )
        return self._closed_parts_price(order)

    def closed_by_exchange(
        self, order: WorkerOrder, reason: str, price: Decimal | None, close_order_id: str
    ) -> None:
        """Fill tracker: the exchange's preset TP/SL closed our position."""
        order.extra["exchange_close"] = {
            "order_id": close_order_id,
            "reason": reason,
            "price": None if price is None else str(price),
        }
        waiter = self._exchange_exits.get(order.order_id)
        if waiter is not None:
            waiter.set()
        if order.order_id in self._closing or order.lifecycle.is_terminal:
            return  # our close task settles it (its close will find no position)
        self.unguard(order)
        if self.legs.manages(order):
            self.legs.hand_over(order, everything=True)
        level = order.plan.stop_loss if reason == "stop_loss" else order.plan.final_take_profit
        if order.state is OrderState.PARTIALLY_FILLED:
            # The entry's unfilled rest is still working and its presets are spent: the
            # close task cancels it, confirms the position flat (closing what the rest
            # filled meanwhile), then reports this close.
            self.start_close(order, reason, level, price or Decimal(0), 0)
            return
        order.close_order_id = close_order_id
        order.close_reason = reason
        order.close_level = level
        if order.state is OrderState.CLOSE_FAILED:
            self.queue.move(order, OrderState.CLOSING, "the exchange closed it")
        self._closed(order, price, "exchange")
        self._spawn(
            self.placement.cancel_leftover_stops(order.symbol, order.side),
            f"cancel leftover stops of {order.order_id}",
        )

    def _spawn(self, coro: Coroutine[Any, Any, object], what: str) -> None:
        """Run a side task (cancels after a close) with a reference kept and its failure
        logged: an exception nobody retrieves is an error nobody sees."""
        task = asyncio.get_running_loop().create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(lambda t: self._side_task_done(t, what))

    def _side_task_done(self, task: asyncio.Task[object], what: str) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("SLTP could not %s", what, exc_info=task.exception())

    def _closed(self, order: WorkerOrder, price: Decimal | None, closed_by: str) -> None:
        if order.lifecycle.is_terminal:
            return
        self.unguard(order)
        self.legs.forget(order)
        order.close_price = price
        slip: Decimal | None = None
        level = order.close_level
        if price is not None and level is not None and level > 0:
            slip = slippage_percent(order.side, level, price)
            tolerance = (
                self.config.take_profit.slippage_tolerance_percent
                if order.close_reason == GuardReason.TAKE_PROFIT.value
                else self.config.stop_loss.slippage_tolerance_percent
            )
            if slip > tolerance:
                log.warning(
                    "SLTP slippage on %s: closed at %s vs level %s (%.4f%% > %s%%)",
                    order.order_id,
                    price,
                    level,
                    slip,
                    tolerance,
                )
                order.extra["slippage_breach"] = True
        self.queue.move(
            order,
            OrderState.CLOSED,
            f"{order.close_reason} closed by {closed_by}",
            callback=self.callbacks.closed(order, closed_by=closed_by, slippage_percent=slip),
            close_price="" if price is None else str(price),
        )
        self.metrics.positions_closed.labels(order.close_reason or "unknown").inc()
        self.on_holders_changed(order)
        log.warning(
            "SLTP closed %s %s by %s at %s (reason %s)",
            order.order_id,
            order.symbol,
            closed_by,
            price,
            order.close_reason,
        )

    # -- silent feed
    def start_watchdog(self) -> None:
        self.feed_watch.start()

    def guarded(self) -> list[WorkerOrder]:
        return [o for o in self.queue if o.state in _MONITORED]

    async def stop(self) -> None:
        await self.feed_watch.stop()
        await self.legs.stop()
        tasks = [*self._closing.values(), *self._side_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_MONITORED = frozenset(
    {OrderState.PARTIALLY_FILLED, OrderState.OPEN, OrderState.CLOSING, OrderState.CLOSE_FAILED}
)

__all__ = ["Side", "StopLossTakeProfitMonitor"]
