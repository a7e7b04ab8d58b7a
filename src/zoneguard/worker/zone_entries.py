"""The shell around the engine's entry ladder, for plans with several entry zones
(pyramiding: ``entry_zones``). A seed plan never comes here.

The engine (:class:`zoneguard.engine.entries.EntryLadder`) decides which zone may place its
entry and what has filled; this module carries that out:

* Each zone is watched in the trigger index under its own key (``<order id>#<k>``), so a
  price update still costs O(log n + triggered).
* The first zone the price enters becomes the order's entry through the seed's path
  (``entry_zone.py``: same write-ahead send, re-pricing, restart and reconciliation); the
  zone it serves is journaled first (``entry_index``).
* A later zone places its own post-only entry (client id from ``zone<k>.<attempt>``,
  journaled before it is sent) once the position exists (the order holds contracts and is
  not closing). A zone entered while the first entry is still unfilled waits until then.
  Its fills grow the position: the order's ``filled_contracts`` and ``entry_price`` (the
  size-weighted average) are the sum of every zone, and the guard re-sizes its legs.
* Entries stop at the first take-profit, at a close, at the operator's cancel and at the
  deadline: zones never entered are dropped, entries still working are cancelled, and a
  close settles only once they are final (what they filled is closed too).

Where the ladder stands is kept in the order's facts (``zones``, each zone's client ids in
``zone_orders``), so a restart resumes each zone's entry by its client id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.market import OrderInfo
from zoneguard.domain.plan import widen_zone
from zoneguard.domain.pricing import maker_entry_price
from zoneguard.domain.triggers import TriggerIndex
from zoneguard.engine.entries import EntryLadder, EntryZone, ZoneSpec
from zoneguard.engine.entry_policy import RefusalStep, on_post_only_refused
from zoneguard.engine.resume import LookupStep, after_entry_lookup
from zoneguard.exchange.errors import ExchangeError, PostOnlyWouldCross
from zoneguard.exchange.port import OrderRequest, PlacedOrder
from zoneguard.worker.alerts import Alerter
from zoneguard.worker.callbacks import CallbackFactory, ZoneFill
from zoneguard.worker.markets import Markets
from zoneguard.worker.order_queue import ENTERED, ENTRY_INDEX, OrderQueue, WorkerOrder, now_ms
from zoneguard.worker.placement import OrderPlacementService, backoff_s, post_only_entry
from zoneguard.worker.tasks import TaskSet

if TYPE_CHECKING:
    from zoneguard.worker.entry_zone import EntryZoneMonitor
    from zoneguard.worker.sltp import StopLossTakeProfitMonitor

log = logging.getLogger("zoneguard.worker.zones")

ZONES = "zones"
"""Fact: the engine's ladder snapshot (each zone's size, sent, filled, average, over)."""
ZONE_ORDERS = "zone_orders"
"""Fact: per zone (``"k"``), its entry's ``attempt``, ``client_id``, ``order_id``; ``armed``
False while it waits for the price to leave it first; ``unknown``: the last attempt could
not be found after a restart (the same client id goes again); ``reported``: its ``filled``
callback is journaled."""

_HOLDING = frozenset({OrderState.PARTIALLY_FILLED, OrderState.OPEN})
_FIRST_WORKING = frozenset({OrderState.PLACING, OrderState.PLACED})
LIVE_CHECK_S = 5.0
"""A working zone entry is asked about by REST this often when no push came."""


def zone_key(order_id: str, index: int) -> str:
    """The trigger index's key of zone ``index`` of ``order_id`` (ids never hold ``#``)."""
    return f"{order_id}#{index}"


def split_key(key: str) -> tuple[str, int]:
    order_id, _, index = key.rpartition("#")
    return order_id, int(index)


class ZoneEntries:
    def __init__(
        self,
        queue: OrderQueue,
        index: TriggerIndex,
        markets: Markets,
        placement: OrderPlacementService,
        callbacks: CallbackFactory,
        alerter: Alerter,
        entry: EntryZoneMonitor,
        sltp: StopLossTakeProfitMonitor,
        *,
        tolerance_percent: Decimal,
        immediate_if_in_zone: bool,
    ) -> None:
        self.queue = queue
        self.index = index
        self.markets = markets
        self.placement = placement
        self.callbacks = callbacks
        self.alerter = alerter
        self.entry = entry
        self.sltp = sltp
        self.tolerance_percent = tolerance_percent
        self.immediate_if_in_zone = immediate_if_in_zone
        self.ladders: dict[str, EntryLadder] = {}
        self._owner: dict[str, tuple[str, int]] = {}
        """Client and exchange ids of zone entries -> (order id, zone)."""
        self._working: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._cancelling: set[tuple[str, int]] = set()
        self._finals: dict[tuple[str, int], asyncio.Future[OrderInfo]] = {}
        self._deferred: dict[str, set[int]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks = TaskSet(log)
        queue.on_finished.append(self.forget)

    @staticmethod
    def manages(order: WorkerOrder) -> bool:
        return bool(order.plan.entry_zones)

    # -- the ladder of an order
    def adopt(self, order: WorkerOrder, spec: ContractSpec) -> None:
        """A new order: size its zones in whole lots of the contract and note them in its
        facts (journaled with the order)."""
        ladder = EntryLadder(self._specs(order), order.contracts, spec.lot_size)
        self.ladders[order.order_id] = ladder
        order.extra[ZONES] = ladder.snapshot()
        order.extra[ZONE_ORDERS] = {}

    def _specs(self, order: WorkerOrder) -> list[ZoneSpec]:
        specs = []
        for zone in order.plan.entry_zones:
            low, high = widen_zone(zone.min, zone.max, self.tolerance_percent)
            specs.append(ZoneSpec(low, high, zone.size_percent))
        return specs

    def _ladder(self, order: WorkerOrder) -> EntryLadder:
        ladder = self.ladders.get(order.order_id)
        if ladder is None:
            ladder = EntryLadder.restored(self._specs(order), order.extra.get(ZONES) or {})
            self.ladders[order.order_id] = ladder
        return ladder

    def _facts(self, order: WorkerOrder, index: int) -> dict[str, Any]:
        zones: dict[str, dict[str, Any]] = order.extra.setdefault(ZONE_ORDERS, {})
        return zones.setdefault(str(index), {})

    def _note(self, order: WorkerOrder, ladder: EntryLadder) -> None:
        order.extra[ZONES] = ladder.snapshot()

    @staticmethod
    def first_index(order: WorkerOrder) -> int | None:
        index = order.extra.get(ENTRY_INDEX)
        return index if isinstance(index, int) else None

    # -- arming (the order waits for its first zone, or holds and may add)
    def arm(self, order: WorkerOrder, *, arriving: bool = False, check_now: bool = True) -> None:
        """Watch every zone that may still place its entry; ``arriving``: a zone the price
        is in already waits for it to leave first (``immediate_if_in_zone: false``)."""
        ladder = self._ladder(order)
        if ladder.expired:
            return
        self._arm_deadline(order)
        quote = self.markets.quote(order.symbol)
        inside_now = False
        changed = False
        for number, zone in enumerate(ladder.zones, start=1):
            if zone.sent or zone.over:
                continue
            inside = quote is not None and zone.low <= quote.last <= zone.high
            facts = self._facts(order, number)
            if arriving and not self.immediate_if_in_zone and (inside or quote is None):
                changed = changed or facts.get("armed", True) is not False
                facts["armed"] = False
            if facts.get("armed", True) is False:
                self.entry.hold_until_outside(order.symbol, zone_key(order.order_id, number), zone)
                continue
            self.index.for_symbol(order.symbol).add_entry(
                zone_key(order.order_id, number), zone.low, zone.high
            )
            inside_now = inside_now or inside
        if changed:
            self.queue.save_facts(order)
        if inside_now and check_now and quote is not None:
            self.entry.on_price(order.symbol, quote.last, time.monotonic_ns())

    def armed_outside(self, key: str, low: Decimal, high: Decimal) -> None:
        """A zone that waited for the price to leave it first: seen outside, now armed."""
        order_id, number = split_key(key)
        order = self.queue.get(order_id)
        if order is None or order.lifecycle.is_terminal:
            return
        self._facts(order, number)["armed"] = True
        self.queue.save_facts(order)
        ladder = self._ladder(order)
        zone = ladder.zones[number - 1]
        if not (zone.sent or zone.over or ladder.expired):
            self.index.for_symbol(order.symbol).add_entry(key, low, high)

    def _disarm(self, order: WorkerOrder) -> None:
        triggers = self.index.get(order.symbol)
        for number in range(1, len(order.plan.entry_zones) + 1):
            key = zone_key(order.order_id, number)
            if triggers is not None:
                triggers.remove_entry(key)
            self.entry.release(order.symbol, key)
        self._deferred.pop(order.order_id, None)

    # -- the hot path: the trigger index says the price is in a zone
    def on_zone(self, key: str, price: Decimal, tick_ns: int) -> None:
        order_id, number = split_key(key)
        order = self.queue.get(order_id)
        if order is None or order.lifecycle.is_terminal:
            return
        ladder = self._ladder(order)
        state = order.state
        if state is OrderState.WAITING_ZONE:
            intent = ladder.enter(number)
            if intent is None:
                return
            zone = ladder.zones[number - 1]
            order.zone_low, order.zone_high = zone.low, zone.high
            order.contracts = intent.quantity
            order.extra[ENTRY_INDEX] = number
            self._note(order, ladder)
            # The zone the entry serves is journaled before its client id can exist.
            self.queue.save_facts(order)
            self.entry.trigger(order, price, tick_ns)
            return
        if state in _FIRST_WORKING and not ladder.expired:
            # No position yet: this zone adds to one once the first entry has filled.
            self._deferred.setdefault(order_id, set()).add(number)
            return
        if not self._may_add(order, ladder):
            return
        intent = ladder.enter(number)
        if intent is not None:
            self._send(order, ladder, number, tick_ns)

    def _may_add(self, order: WorkerOrder, ladder: EntryLadder) -> bool:
        return (
            order.state in _HOLDING and not ladder.expired and not self.sltp.legs.handed_over(order)
        )

    def on_holding(self, order: WorkerOrder) -> None:
        """The order holds contracts now: the zones entered meanwhile may add to them."""
        deferred = self._deferred.pop(order.order_id, None)
        if deferred:
            self.arm(order, check_now=True)

    # -- a later zone's entry
    def _send(self, order: WorkerOrder, ladder: EntryLadder, number: int, tick_ns: int) -> None:
        """Journal the zone's client id and where the ladder stands, then put the entry on
        the wire (when all it needs is at hand), then follow it in a task."""
        cid = self._next_client_id(order, number)
        self._note(order, ladder)
        self.queue.save_facts(order)
        sent = None
        spec = self.markets.cached_spec(order.symbol)
        zone = ladder.zones[number - 1]
        price = None if spec is None else self._limit(order, zone, spec)
        if spec is not None and price is not None:
            sent = self.placement.start_submit(self._request(order, zone, cid, price))
            self._facts(order, number)["limit"] = str(price)
        log.info(
            "order %s: zone %d entered -> placing its entry of %s contracts",
            order.order_id,
            number,
            zone.size,
        )
        self._follow(order, number, self._work(order, number, sent, tick_ns))

    def _next_client_id(self, order: WorkerOrder, number: int) -> str:
        facts = self._facts(order, number)
        if not (facts.pop("unknown", False) and facts.get("client_id")):
            facts["attempt"] = int(facts.get("attempt", 0)) + 1
            facts["client_id"] = client_order_id_for(
                order.order_id, f"zone{number}.{facts['attempt']}"
            )
            facts["order_id"] = None
        cid = str(facts["client_id"])
        self._owner[cid] = (order.order_id, number)
        self.queue.link_client_id(order, cid)
        return cid

    def _limit(self, order: WorkerOrder, zone: EntryZone, spec: ContractSpec) -> Decimal | None:
        quote = self.markets.quote(order.symbol)
        if quote is None:
            return None
        return maker_entry_price(
            order.side, zone.low, zone.high, quote.last, quote.bid, quote.ask, spec.tick_size
        )

    @staticmethod
    def _request(order: WorkerOrder, zone: EntryZone, cid: str, price: Decimal) -> OrderRequest:
        """A post-only limit entry for the zone's size. No preset SL/TP: the position's
        exchange-side protection is already in place (whole-position), and a preset could
        replace a stop that break-even or a trailing stop has moved."""
        return post_only_entry(order, zone.size, price, cid)

    def _follow(self, order: WorkerOrder, number: int, work: Coroutine[Any, Any, None]) -> None:
        key = (order.order_id, number)
        failure = f"entry of zone {number} of {order.order_id} crashed"
        task = self._tasks.spawn(work, failure, logging.CRITICAL)
        self._working[key] = task
        task.add_done_callback(lambda done: self._work_done(key, done))

    def _work_done(self, key: tuple[str, int], task: asyncio.Task[Any]) -> None:
        if self._working.get(key) is task:
            del self._working[key]

    async def _work(
        self,
        order: WorkerOrder,
        number: int,
        sent: Awaitable[PlacedOrder] | None,
        tick_ns: int,
    ) -> None:
        """Place the zone's entry (re-priced while the post-only is refused), then follow it
        until it is final."""
        facts = self._facts(order, number)
        ladder = self._ladder(order)
        zone = ladder.zones[number - 1]
        reprices = 0
        try:
            while True:
                if sent is None:
                    spec = await self.markets.spec(order.symbol)
                    price = self._limit(order, zone, spec)
                    if price is None or ladder.expired:
                        self._ended_unfilled(order, number, "the price left the zone")
                        return
                    facts["limit"] = str(price)
                    sent = self.placement.start_submit(
                        self._request(order, zone, str(facts["client_id"]), price)
                    )
                try:
                    placed = await sent
                    break
                except PostOnlyWouldCross:
                    sent = None
                    reprices += 1
                    step = on_post_only_refused(
                        reprices, timed_out=ladder.expired, cancel_requested=False
                    )
                    if step is not RefusalStep.REPRICE:
                        self._ended_unfilled(order, number, "maker-only refused repeatedly")
                        return
                    self._next_client_id(order, number)
                    self.queue.save_facts(order)
        except ExchangeError as exc:
            self._refused(order, number, exc)
            return
        facts["order_id"] = placed.order_id
        self._owner[placed.order_id] = (order.order_id, number)
        self.queue.link_exchange_id(order, placed.order_id)
        limit = facts.get("limit")
        self.queue.save_facts(
            order,
            self.callbacks.zone_placed(
                order,
                number,
                contracts=zone.size,
                price=None if limit is None else Decimal(limit),
                client_order_id=facts["client_id"],
                exchange_order_id=placed.order_id,
            ),
        )
        if tick_ns:
            facts["tick_to_ack_us"] = (time.monotonic_ns() - tick_ns) // 1000
        await self._until_final(order, number)

    async def _until_final(self, order: WorkerOrder, number: int) -> None:
        """Follow the zone's entry: its pushes, else a REST look every ``LIVE_CHECK_S``."""
        facts = self._facts(order, number)
        key = (order.order_id, number)
        failures = 0
        while not order.lifecycle.is_terminal:
            future = self._finals.setdefault(key, asyncio.get_running_loop().create_future())
            try:
                info = await asyncio.wait_for(asyncio.shield(future), LIVE_CHECK_S)
            except TimeoutError:
                try:
                    info = await self.placement.get_order(order.symbol, str(facts["order_id"]))
                except ExchangeError as exc:
                    failures += 1
                    log.warning("zone %d entry of %s not read (%s)", number, order.order_id, exc)
                    await asyncio.sleep(backoff_s(min(failures, 6)))
                    continue
                self.apply(order, number, info)
            if info.status.is_final:
                self._finals.pop(key, None)
                return

    def owns(self, exchange_or_client_id: str | None) -> bool:
        return exchange_or_client_id is not None and exchange_or_client_id in self._owner

    def on_order(self, info: OrderInfo) -> None:
        """Fill tracker: a push about a zone's entry order."""
        owner = self._owner.get(info.client_order_id or "") or self._owner.get(info.order_id)
        if owner is None:
            return
        order = self.queue.get(owner[0])
        if order is None:
            return
        facts = self._facts(order, owner[1])
        if info.client_order_id not in (None, facts.get("client_id")):
            return  # an earlier attempt, refused as post-only: nothing of it filled
        self.apply(order, owner[1], info)
        if info.status.is_final:
            future = self._finals.get(owner)
            if future is not None and not future.done():
                future.set_result(info)

    def apply(self, order: WorkerOrder, number: int, info: OrderInfo) -> None:
        """What the exchange says of zone ``number``'s entry: its fills grow the position
        (journaled with ``filled`` once the entry is final), an unfilled end lets the zone
        wait for the price again."""
        ladder = self._ladder(order)
        zone = ladder.zones[number - 1]
        facts = self._facts(order, number)
        if not facts.get("order_id") and info.order_id:
            # Its push may come before the answer to the request (a slow reply).
            facts["order_id"] = info.order_id
            self._owner[info.order_id] = (order.order_id, number)
            self.queue.link_exchange_id(order, info.order_id)
        final = info.status.is_final
        filled = info.filled_contracts
        if filled > zone.filled:
            price = info.avg_fill_price or zone.average_price or info.price
            ladder.on_fill(number, filled, price, final)
        elif final and not zone.over:
            if zone.filled == 0:
                ladder.on_refused(number)
            else:
                ladder.on_fill(number, zone.filled, None, True)
        else:
            return
        self._note(order, ladder)
        self._sum_up(order, ladder)
        report = []
        if final and zone.filled > 0 and not facts.get("reported"):
            facts["reported"] = True
            report.append(self.callbacks.filled(order, zone=self._zone_fill(order, number)))
        self.queue.save_facts(order, *report)
        if zone.filled > 0:
            log.warning(
                "order %s: zone %d filled %s contracts; the position holds %s at %s",
                order.order_id,
                number,
                zone.filled,
                order.filled_contracts,
                order.entry_price,
            )
        if order.state in _HOLDING and not self.sltp.legs.handed_over(order):
            self.sltp.guard(order)  # the guard grows with the position
        if final and zone.filled == 0 and self._may_add(order, ladder):
            self.arm(order, check_now=False)

    def first_entry_fill(self, order: WorkerOrder, info: OrderInfo) -> None:
        """The fill tracker's word on the first entry (the seed's path): the zone it serves
        takes the fill, and the order's totals are the sum of every zone."""
        number = self.first_index(order)
        if number is None:
            return
        ladder = self._ladder(order)
        zone = ladder.zones[number - 1]
        if info.filled_contracts > zone.filled:
            price = info.avg_fill_price or zone.average_price or info.price
            ladder.on_fill(number, info.filled_contracts, price, info.status.is_final)
        elif info.status.is_final and zone.filled > 0:
            ladder.on_fill(number, zone.filled, None, True)
        self._note(order, ladder)
        self._sum_up(order, ladder)

    def first_report(self, order: WorkerOrder) -> ZoneFill | None:
        """The first entry's zone and fill, for its ``filled`` callback."""
        number = self.first_index(order)
        if number is None:
            return None
        self._facts(order, number)["reported"] = True
        return self._zone_fill(order, number)

    def _zone_fill(self, order: WorkerOrder, number: int) -> ZoneFill:
        ladder = self._ladder(order)
        zone = ladder.zones[number - 1]
        first = number == self.first_index(order)
        exchange_id = order.entry_order_id if first else self._facts(order, number).get("order_id")
        return ZoneFill(
            number,
            exchange_id,
            zone.filled,
            zone.average_price,
            ladder.filled,
            ladder.average_entry,
        )

    def first_back(self, order: WorkerOrder) -> None:
        """The first entry ended with nothing filled and the order waits again: its zone
        may place again (any zone may now be the first)."""
        number = self.first_index(order)
        if number is not None:
            self._ladder(order).on_refused(number)
            self._note(order, self._ladder(order))

    def first_live_again(self, order: WorkerOrder) -> None:
        """A first-entry attempt surfaced live after the order went back to waiting."""
        number = self.first_index(order)
        if number is None:
            return
        ladder = self._ladder(order)
        ladder.zones[number - 1].sent = True
        self._note(order, ladder)
        self._disarm(order)

    def _sum_up(self, order: WorkerOrder, ladder: EntryLadder) -> None:
        """The order's position is every zone's fills at their size-weighted average (the
        entry ``closed`` and its PnL are reckoned from, also for a zone that filled while
        the position closed); once a close owns the position, ``filled_contracts`` is the
        close's own count (it settles by the exchange's position)."""
        order.extra[ENTERED] = str(ladder.filled)
        order.entry_price = ladder.average_entry or order.entry_price
        if order.state in (OrderState.CLOSING, OrderState.CLOSE_FAILED):
            return
        if self.sltp.legs.handed_over(order):
            return
        order.filled_contracts = ladder.filled

    def _ended_unfilled(
        self, order: WorkerOrder, number: int, why: str, *, check_now: bool = False
    ) -> None:
        """The zone's entry is over with nothing filled: the zone waits for its price
        again; ``check_now``: placed at once if the price is in it already (an entry that
        never reached the venue), else on the next price inside (one that ended there)."""
        log.info("order %s: zone %d entry ended unfilled (%s)", order.order_id, number, why)
        ladder = self._ladder(order)
        ladder.on_refused(number)
        self._note(order, ladder)
        self.queue.save_facts(order)
        if self._may_add(order, ladder):
            self.arm(order, check_now=check_now)

    def _refused(self, order: WorkerOrder, number: int, exc: ExchangeError) -> None:
        """The exchange refused the zone's entry for good: the zone is over; the position
        and its guard stay as they are."""
        ladder = self._ladder(order)
        ladder.give_up(number)
        self._note(order, ladder)
        self.queue.save_facts(order)
        self.alerter.fire(
            "placement_failed",
            f"entry of zone {number} of {order.order_id} refused by the exchange: {exc}",
            dedup_key=f"zone_refused:{order.order_id}:{number}",
            order_id=order.order_id,
        )

    # -- the end of entering
    def stop_entering(self, order: WorkerOrder, why: str) -> None:
        """No zone enters any more (first take-profit, close, cancel, deadline): the ones
        never entered are dropped, working entries other than the first are cancelled
        (the seed's path cancels the first's rest)."""
        if not self.manages(order):
            return
        ladder = self._ladder(order)
        if ladder.expired:
            return
        cancels = ladder.on_deadline()
        self._note(order, ladder)
        self._disarm(order)
        timer = self._timers.pop(order.order_id, None)
        if timer is not None:
            timer.cancel()
        if not order.lifecycle.is_terminal:
            self.queue.save_facts(order)
        first = self.first_index(order)
        for cancel in cancels:
            if cancel.zone_index != first:
                self._cancel(order, cancel.zone_index)
        log.info("order %s: entries stopped (%s)", order.order_id, why)

    def _cancel(self, order: WorkerOrder, number: int) -> None:
        key = (order.order_id, number)
        if key in self._cancelling:
            return
        self._cancelling.add(key)
        self._tasks.spawn(
            self._cancel_until_final(order, number),
            f"cancel of zone {number} of {order.order_id} failed",
        )

    async def _cancel_until_final(self, order: WorkerOrder, number: int) -> None:
        """Cancel the zone's entry until the exchange shows it final; what it filled
        meanwhile joins the position (which a close then settles)."""
        facts = self._facts(order, number)
        attempt = 0
        try:
            while (order.order_id, number) in self._working:
                order_id = facts.get("order_id")
                try:
                    await self.placement.exchange.cancel_order(
                        order.symbol,
                        order_id=order_id,
                        client_order_id=None if order_id else facts.get("client_id"),
                    )
                except ExchangeError as exc:
                    log.info("cancel of zone %d of %s: %s", number, order.order_id, exc)
                try:
                    info = (
                        await self.placement.get_order(order.symbol, order_id)
                        if order_id
                        else await self.placement.find(order.symbol, str(facts["client_id"]))
                    )
                except ExchangeError:
                    info = None
                if info is not None:
                    self.on_order(info)
                    if info.status.is_final:
                        return
                attempt += 1
                await asyncio.sleep(backoff_s(min(attempt, 6)))
        finally:
            self._cancelling.discard((order.order_id, number))

    async def settled(self, order: WorkerOrder) -> None:
        """Wait until no zone entry of ``order`` works on the exchange (a close settles by
        the position only then)."""
        self.stop_entering(order, "closing")
        while tasks := [
            task for (owner, _), task in self._working.items() if owner == order.order_id
        ]:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _arm_deadline(self, order: WorkerOrder) -> None:
        if order.order_id in self._timers:
            return
        delay = max(0.0, (order.deadline_ms - now_ms()) / 1000)
        self._timers[order.order_id] = asyncio.get_running_loop().call_later(
            delay, self._deadline, order.order_id
        )

    def _deadline(self, order_id: str) -> None:
        self._timers.pop(order_id, None)
        order = self.queue.get(order_id)
        if order is None or order.lifecycle.is_terminal:
            return
        if order.state is OrderState.WAITING_ZONE:
            return  # the seed's timeout ends the order (and every zone with it)
        self.stop_entering(order, "timeout")

    # -- restart
    def resume(self, order: WorkerOrder) -> None:
        """After a restart: follow each zone entry the journal says was sent (by its client
        id), and watch the zones that may still place."""
        if not self.manages(order) or order.lifecycle.is_terminal:
            return
        ladder = self._ladder(order)
        first = self.first_index(order)
        for number, zone in enumerate(ladder.zones, start=1):
            facts = self._facts(order, number)
            if number == first or not zone.sent or zone.over or not facts.get("client_id"):
                continue
            cid = str(facts["client_id"])
            self._owner[cid] = (order.order_id, number)
            self.queue.link_client_id(order, cid)
            if facts.get("order_id"):
                self._owner[str(facts["order_id"])] = (order.order_id, number)
                self.queue.link_exchange_id(order, str(facts["order_id"]))
            self._follow(order, number, self._resume_zone(order, number))
        if order.deadline_ms <= now_ms() and order.state is not OrderState.WAITING_ZONE:
            self.stop_entering(order, "timeout (while the worker was down)")
        elif self._may_add(order, ladder):
            self.arm(order, check_now=True)

    async def _resume_zone(self, order: WorkerOrder, number: int) -> None:
        """A zone entry sent before the crash: found by its client id, it is followed; not
        found, the zone waits for the price again, and the same client id goes next."""
        facts = self._facts(order, number)
        if not facts.get("order_id"):
            found = await self._look_up(order, number, str(facts["client_id"]))
            if found is None:
                facts["unknown"] = True
                self._ended_unfilled(
                    order, number, "not found on the exchange after a restart", check_now=True
                )
                return
            facts["order_id"] = found.order_id
            self._owner[found.order_id] = (order.order_id, number)
            self.queue.link_exchange_id(order, found.order_id)
            self.apply(order, number, found)
            if found.status.is_final:
                return
        await self._until_final(order, number)

    async def _look_up(self, order: WorkerOrder, number: int, cid: str) -> OrderInfo | None:
        """The zone's entry by its client id, as the engine's restart rule asks: a lookup
        that fails says nothing (asked again); one that finds nothing is asked again while
        the venue's reads may lag."""
        started = time.monotonic()
        failures = 0
        while True:
            try:
                found = await self.placement.find(order.symbol, cid)
            except ExchangeError as exc:
                failures += 1
                log.warning("zone %d of %s not looked up (%s)", number, order.order_id, exc)
                await asyncio.sleep(backoff_s(min(failures, 6)))
                continue
            waited_s = time.monotonic() - started
            step = after_entry_lookup(found=found is not None, accepted=False, waited_s=waited_s)
            if step is not LookupStep.ASK_AGAIN:
                return found
            failures += 1
            await asyncio.sleep(backoff_s(min(failures, 6)))

    # -- life
    def forget(self, order: WorkerOrder) -> None:
        """The order is over (queue hook): nothing of its zones stays watched."""
        if not self.manages(order):
            return
        self._disarm(order)
        self.ladders.pop(order.order_id, None)
        timer = self._timers.pop(order.order_id, None)
        if timer is not None:
            timer.cancel()
        for ident in [i for i, (owner, _) in self._owner.items() if owner == order.order_id]:
            del self._owner[ident]

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self._tasks.cancel_all()
