"""The shell around the engine's exit guard, for positions whose plan has a take-profit
ladder, break-even or a trailing stop (a seed plan keeps the seed's guard in ``sltp.py``).

The engine (:class:`zoneguard.engine.exits.ExitGuard`) decides; this module carries its
intents out, journal first:

* A take-profit rung that closes part of the position is a reduce-only limit IOC at the
  target less the take-profit tolerance, then a market order for what it did not fill (the
  seed's take-profit rule, per rung). Each attempt is journaled (its client id) before it
  is sent; after a restart the same client id is sent again, which the exchange refuses to
  double. Its fill is journaled with the ``partially_closed`` callback, in one transaction.
* The close of everything left (the stop, break-even, trailing stop, or the last rung when
  it closes all that is held) is handed to the seed's close (``start_close``): the same
  write-ahead send, settled by the exchange's position, one ``closed``.
* A stop that moves is journaled with its ``stop_moved`` callback (for a trailing stop at
  most once a second per position, the last level always reported), then the exchange-side
  backstop follows: the new whole-position stop is placed before the old one is cancelled.

Where the guard stands (``held``, the stop, each rung's progress, the trailing best) is kept
in the order's facts under ``exit``, so a restart resumes with the same quantities and a
stop no looser than the last one reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.market import OrderInfo, OrderOrigin
from zoneguard.domain.stop_rules import stop_crossed
from zoneguard.engine.close_policy import (
    RUNG_REFUSALS,
    TAKE_PROFIT,
    NextClose,
    after_fill,
    after_refusal,
    first_close_limit,
)
from zoneguard.engine.exits import ExitGuard, guard_for_plan
from zoneguard.engine.intents import Close, ExitReason, Intent, MoveStop
from zoneguard.exchange.errors import DuplicateClientOrderId, ExchangeError, PositionNotFound
from zoneguard.exchange.port import OrderRequest, PlacedOrder, StopRequest
from zoneguard.worker.alerts import Alerter
from zoneguard.worker.callbacks import CallbackFactory, realized_pnl
from zoneguard.worker.config import OrdersSection
from zoneguard.worker.markets import Markets
from zoneguard.worker.order_queue import OrderQueue, WorkerOrder
from zoneguard.worker.placement import OrderPlacementService, backoff_s, reduce_only_request
from zoneguard.worker.tasks import TaskSet

if TYPE_CHECKING:
    from zoneguard.worker.shared_backstop import SharedBackstop

log = logging.getLogger("zoneguard.worker.exits")

_CLOSING = frozenset({OrderState.CLOSING, OrderState.CLOSE_FAILED})

EXIT = "exit"
"""The order's fact (in ``WorkerOrder.extra``) holding the guard's snapshot."""

STOP_REPORT_EVERY_MS = 1000
"""A trailing stop's ``stop_moved`` at most this often per position."""

FINAL_CONFIRM_S = 2.0
"""How long to wait for a rung's final push before asking by REST."""

BACKSTOP_EVERY_S = 1.0
"""The exchange-side stop follows ours at most this often per position (a trailing stop
in a fast market moves on every new best; each follow is three REST calls)."""

StartClose = Callable[[WorkerOrder, str, Decimal | None, Decimal, int], None]
"""``sltp.start_close(order, reason, level, price, tick_ns)``: close all that is left."""
Finish = Callable[[WorkerOrder, Decimal | None, str], None]
"""``sltp._closed(order, price, closed_by)``: report the position closed."""


@dataclass(frozen=True, slots=True)
class _Rung:
    """One rung's close, as the guard asked for it: whose, for what, at which target."""

    order: WorkerOrder
    guard: ExitGuard
    close: Close
    level: Decimal

    @property
    def index(self) -> int:
        assert self.close.take_profit_index is not None
        return self.close.take_profit_index


@dataclass(slots=True)
class _StopReport:
    """The throttle of one position's ``stop_moved``."""

    last_ms: int = 0
    timer: asyncio.TimerHandle | None = None


class ExitLegs:
    def __init__(
        self,
        queue: OrderQueue,
        markets: Markets,
        placement: OrderPlacementService,
        callbacks: CallbackFactory,
        alerter: Alerter,
        config: OrdersSection,
        start_close: StartClose,
        finish: Finish,
        register: Callable[[WorkerOrder], object],
    ) -> None:
        self.queue = queue
        self.markets = markets
        self.placement = placement
        self.callbacks = callbacks
        self.alerter = alerter
        self.config = config
        self._start_close = start_close
        self._finish = finish
        self._register = register
        self.guards: dict[str, ExitGuard] = {}
        self._handed_over: set[str] = set()
        self._learning: set[str] = set()
        """Orders whose guard waits for the contract's grid (one task each)."""
        self._legs: dict[str, dict[int, asyncio.Task[None]]] = {}
        self._leg_owner: dict[str, str] = {}
        self._finals: dict[str, asyncio.Future[OrderInfo]] = {}
        self._reports: dict[str, _StopReport] = {}
        self._backstops: dict[str, asyncio.Task[None]] = {}
        self._backstop_at: dict[str, Decimal] = {}
        self._tasks = TaskSet(log)
        self.stop_entries: Callable[[WorkerOrder, str], None] = lambda order, why: None
        """Set by the service: no more entry zone may add to ``order`` (``zone_entries``)."""
        self.entries_settled: Callable[[WorkerOrder], Awaitable[None]] = _nothing_working
        """Set by the service: wait until no entry zone of ``order`` works on the exchange."""
        self.shared: SharedBackstop | None = None
        """Set by the service: the exchange-side protection of positions several signals
        share (this guard's own follow is for a signal alone on its side)."""

    # -- the guard of an order
    @staticmethod
    def manages(order: WorkerOrder) -> bool:
        return order.plan.has_exit_legs

    def levels(self, order: WorkerOrder) -> tuple[Decimal | None, Decimal | None]:
        """The (stop, level in favour) to watch for ``order``, building its guard on first
        use (from the journal's snapshot after a restart). Without the contract's grid yet,
        the stop alone is watched (the journaled one, else the plan's) until it is known."""
        guard = self._guard_for(order)
        if guard is None:
            if order.order_id not in self._learning:
                self._learning.add(order.order_id)
                self._spawn(self._build_when_known(order), f"learn the grid of {order.symbol}")
            return self._saved_stop(order)[0], None
        if order.order_id in self._handed_over:
            return None, None
        return guard.trigger_levels()

    def _guard_for(self, order: WorkerOrder) -> ExitGuard | None:
        if order.state in _CLOSING:
            # The seed's close owns it (sent before a restart, or refused and retried).
            self._handed_over.add(order.order_id)
        guard = self.guards.get(order.order_id)
        if guard is not None:
            if order.order_id not in self._handed_over:
                if order.entry_price is not None:
                    guard.entry = order.entry_price
                guard.grow_to(order.filled_contracts)
            return guard
        spec = self.markets.cached_spec(order.symbol)
        if spec is None or order.entry_price is None or order.filled_contracts <= 0:
            return None
        guard = self._build(order, spec)
        self.guards[order.order_id] = guard
        saved = order.extra.get(EXIT)
        if isinstance(saved, dict) and "held" in saved:
            # Not closing: nothing but the rungs noted as pending can be on its way (a
            # close of everything journals ``closing`` first), and the stop is live.
            in_flight = _pending_quantity(saved)
            guard.restore({**saved, "stopped": False, "closing": str(in_flight)})
            if order.order_id not in self._handed_over:
                guard.grow_to(order.filled_contracts)
                self._resume_pending(order, guard, saved)
        else:
            self._save(order, guard)
        return guard

    async def _build_when_known(self, order: WorkerOrder) -> None:
        """Learn the contract's grid, asking again with backoff while the exchange cannot
        say (the stop alone is watched meanwhile), then watch all of the guard's levels."""
        attempt = 0
        try:
            while not order.lifecycle.is_terminal:
                try:
                    await self.markets.spec(order.symbol)
                    break
                except ExchangeError as exc:
                    attempt += 1
                    log.warning(
                        "SLTP grid of %s unknown (%s): %s guarded by its stop alone for now",
                        order.symbol,
                        exc,
                        order.order_id,
                    )
                    await asyncio.sleep(backoff_s(min(attempt, 6)))
        finally:
            self._learning.discard(order.order_id)
        if not order.lifecycle.is_terminal and order.order_id not in self.guards:
            self._register(order)

    def _build(self, order: WorkerOrder, spec: ContractSpec) -> ExitGuard:
        assert order.entry_price is not None
        return guard_for_plan(
            order.plan, order.filled_contracts, order.entry_price, spec.lot_size, spec.tick_size
        )

    def held(self, order: WorkerOrder) -> Decimal:
        """What this position holds by our count (the entry's fills less the rungs closed)."""
        guard = self.guards.get(order.order_id)
        return order.filled_contracts if guard is None else guard.held

    def busy(self, order: WorkerOrder) -> bool:
        """A rung's close is on its way for ``order``."""
        return bool(self._legs.get(order.order_id))

    async def settled(self, order: WorkerOrder) -> None:
        """Wait until no rung's close of ``order`` is on its way: the position the exchange
        shows then is the one to settle by."""
        await self.entries_settled(order)
        while legs := [task for task in self._legs.get(order.order_id, {}).values()]:
            await asyncio.gather(*legs, return_exceptions=True)

    def forget(self, order: WorkerOrder) -> None:
        """The order is over: nothing of it stays in memory."""
        order_id = order.order_id
        self.guards.pop(order_id, None)
        self._handed_over.discard(order_id)
        report = self._reports.pop(order_id, None)
        if report is not None and report.timer is not None:
            report.timer.cancel()
        self._backstop_at.pop(order_id, None)
        for cid in [cid for cid, owner in self._leg_owner.items() if owner == order_id]:
            del self._leg_owner[cid]

    def handed_over(self, order: WorkerOrder) -> bool:
        """The seed's close owns the position (all that is left is being closed)."""
        return order.order_id in self._handed_over

    def hand_over(self, order: WorkerOrder, *, everything: bool = False) -> None:
        """The seed's close owns the position from now on (a manual close; ``everything``:
        the exchange closed it all): the guard decides nothing more, and the close is
        sized to what the guard holds and is not already closing (all it holds)."""
        if order.order_id in self._handed_over:
            return
        self._handed_over.add(order.order_id)
        guard = self.guards.get(order.order_id)
        if guard is not None and order.state not in _CLOSING:
            order.filled_contracts = guard.held if everything else guard.free

    # -- prices
    def on_price(self, order: WorkerOrder, price: Decimal, tick_ns: int) -> None:
        """A watched level of ``order`` was crossed: ask the guard, carry its intents out,
        and watch its next levels."""
        guard = self._guard_for(order)
        if order.order_id in self._handed_over:
            return
        if guard is None:
            self._stop_without_grid(order, price, tick_ns)
            return
        self._carry_out(order, guard, guard.on_price(price), price, tick_ns)
        if order.order_id not in self._handed_over and not order.lifecycle.is_terminal:
            self._register(order)

    def _stop_without_grid(self, order: WorkerOrder, price: Decimal, tick_ns: int) -> None:
        """No guard yet (the contract's grid is being learnt, e.g. just after a restart),
        and the price crossed the stop watched meanwhile: a stop needs no grid, so close
        everything left now, settled by the position; else keep watching."""
        stop, reason = self._saved_stop(order)
        if not stop_crossed(order.side, stop, price):
            self._register(order)
            return
        saved = order.extra.get(EXIT)
        if isinstance(saved, dict) and saved.get("held") is not None:
            # What is held less the rungs that were on their way: the close then settles
            # by the exchange's position, so whatever those rungs did not close goes too.
            order.filled_contracts = Decimal(saved["held"]) - _pending_quantity(saved)
        self._handed_over.add(order.order_id)
        self._start_close(order, reason, stop, price, tick_ns)

    def _saved_stop(self, order: WorkerOrder) -> tuple[Decimal | None, str]:
        """The stop as last journaled (break-even or trailing may have moved it), else the
        plan's, with its reason."""
        saved = order.extra.get(EXIT)
        if isinstance(saved, dict) and saved.get("stop") is not None:
            return Decimal(saved["stop"]), str(saved.get("stop_reason") or "stop_loss")
        return order.plan.stop_loss, ExitReason.STOP_LOSS.value

    def _carry_out(
        self,
        order: WorkerOrder,
        guard: ExitGuard,
        intents: list[Intent],
        price: Decimal,
        tick_ns: int,
    ) -> None:
        for intent in intents:
            if isinstance(intent, Close):
                self._close(order, guard, intent, price, tick_ns)
            elif isinstance(intent, MoveStop):
                self._move_stop(order, guard, intent)

    # -- closing
    def _close(
        self, order: WorkerOrder, guard: ExitGuard, close: Close, price: Decimal, tick_ns: int
    ) -> None:
        if order.order_id in self._handed_over:
            return  # the seed's close settles everything left by the position
        index = close.take_profit_index
        everything = close.quantity >= guard.held and guard.closing == close.quantity
        if index is None or everything:
            # All that is left: the seed's close (write-ahead send, settled by the position).
            # Its own journal entry (``closing``) records the hand-over; the guard's snapshot
            # is not journaled ahead of it: a crash in between must find the guard live.
            self._handed_over.add(order.order_id)
            level = guard.stop if index is None else guard.legs[index - 1].price
            order.filled_contracts = close.quantity
            self._start_close(order, close.reason.value, level, price, tick_ns)
            return
        leg = guard.legs[index - 1]
        self.stop_entries(order, f"take-profit {index}")
        pending = self._next_attempt(order, close, limit=self._limit(order, leg.price))
        self._save(order, guard)
        log.warning(
            "SLTP take-profit %d of %s hit at %s: closing %s of %s contracts",
            index,
            order.order_id,
            price,
            close.quantity,
            guard.held,
        )
        # Journaled above; on the wire now when the venue can send at once.
        first = self.placement.start_submit(self._leg_request(order, pending))
        if order.state is OrderState.PARTIALLY_FILLED:
            # The ladder has begun: the entry's rest must not add to what it shares out.
            self._spawn(self.placement.cancel_entry(order), f"cancel the entry of {order.order_id}")
        self._start_leg(_Rung(order, guard, close, leg.price), pending, first)

    def _limit(self, order: WorkerOrder, target: Decimal) -> Decimal | None:
        spec = self.markets.cached_spec(order.symbol)
        return first_close_limit(
            TAKE_PROFIT,
            order.side,
            target,
            self.config.take_profit.slippage_tolerance_percent,
            None if spec is None else spec.tick_size,
        )

    def _next_attempt(
        self,
        order: WorkerOrder,
        close: Close,
        *,
        limit: Decimal | None,
        quantity: Decimal | None = None,
    ) -> dict[str, Any]:
        """Name the rung's next close attempt (a fresh client id) and note it in the
        facts; the caller journals it before it is sent."""
        state = order.extra.setdefault(EXIT, {})
        attempt = int(state.get("attempts", 0)) + 1
        state["attempts"] = attempt
        assert close.take_profit_index is not None
        pending: dict[str, Any] = {
            "index": close.take_profit_index,
            "quantity": str(close.quantity),
            "to_close": str(close.quantity if quantity is None else quantity),
            "client_id": client_order_id_for(
                order.order_id, f"tp{close.take_profit_index}.{attempt}"
            ),
            "limit": None if limit is None else str(limit),
            "filled": "0",
            "cost": "0",
            "exchange_order_id": None,
        }
        state.setdefault("pending", {})[str(close.take_profit_index)] = pending
        self._leg_owner[pending["client_id"]] = order.order_id
        self.queue.link_client_id(order, pending["client_id"])
        return pending

    def _start_leg(
        self, rung: _Rung, pending: dict[str, Any], first: Awaitable[PlacedOrder] | None = None
    ) -> None:
        task = asyncio.get_running_loop().create_task(self._run_leg(rung, pending, first))
        self._legs.setdefault(rung.order.order_id, {})[rung.index] = task
        task.add_done_callback(lambda t: self._leg_ended(rung, t))

    def _leg_ended(self, rung: _Rung, task: asyncio.Task[None]) -> None:
        order = rung.order
        legs = self._legs.get(order.order_id, {})
        if legs.get(rung.index) is task:
            del legs[rung.index]
        if not legs:
            self._legs.pop(order.order_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.critical(
                "SLTP take-profit close of %s crashed", order.order_id, exc_info=task.exception()
            )
            self.alerter.fire(
                "close_failed",
                f"a take-profit close of {order.order_id} crashed; the stop still guards it",
                dedup_key=f"leg_crashed:{order.order_id}",
                order_id=order.order_id,
            )

    async def _run_leg(
        self, rung: _Rung, pending: dict[str, Any], first: Awaitable[PlacedOrder] | None
    ) -> None:
        """Close one rung: the IOC at the target, then what it left at market; retried on
        refusals; every attempt's client id journaled before it is sent. ``first``: the
        first attempt, already sent."""
        order, close = rung.order, rung.close
        refusals = 0
        while True:
            cid = pending["client_id"]
            request = self._leg_request(order, pending)
            try:
                if first is not None:
                    sent, first = first, None
                    placed = await sent
                else:
                    placed = await self.placement.submit(request)
            except PositionNotFound:
                log.warning("SLTP take-profit of %s: no position left to close", order.order_id)
                break
            except ExchangeError as exc:
                log.error("SLTP take-profit close of %s refused: %s", order.order_id, exc)
                limited = pending["limit"] is not None
                if not limited:
                    refusals += 1
                step = after_refusal(limited=limited, refusals=refusals, limit=RUNG_REFUSALS)
                if step is NextClose.GIVE_UP:
                    break
                if step is NextClose.RETRY_LATER:
                    await asyncio.sleep(backoff_s(refusals))
                # A refused order never existed: the next attempt, at market, has its own id.
                pending = self._follow_up(order, close, pending, Decimal(pending["to_close"]))
                continue
            pending["exchange_order_id"] = placed.order_id
            self.queue.link_exchange_id(order, placed.order_id)
            info = await self._final(order, cid, placed.order_id)
            if info.filled_contracts > 0 and info.avg_fill_price is not None:
                pending["filled"] = str(Decimal(pending["filled"]) + info.filled_contracts)
                pending["cost"] = str(
                    Decimal(pending["cost"]) + info.filled_contracts * info.avg_fill_price
                )
                pending["last_order_id"] = info.order_id
            to_close = Decimal(pending["to_close"])
            filled = min(info.filled_contracts, to_close)
            limited = pending["limit"] is not None
            step = after_fill(limited=limited, sent_for=to_close, filled=filled)
            if step is NextClose.DONE:
                break
            rest = to_close - filled
            # The IOC left ``rest``: at market now (the seed's take-profit rule).
            pending = self._follow_up(order, close, pending, rest)
        self._leg_done(rung, pending)

    def _follow_up(
        self, order: WorkerOrder, close: Close, pending: dict[str, Any], quantity: Decimal
    ) -> dict[str, Any]:
        """The rung's next attempt, at market for ``quantity``, carrying what the earlier
        ones filled; journaled before it is sent."""
        carried = {key: pending.get(key) for key in ("filled", "cost", "last_order_id")}
        follow = self._next_attempt(order, close, limit=None, quantity=quantity)
        follow.update(carried)
        self.queue.save_facts(order)
        return follow

    @staticmethod
    def _leg_request(order: WorkerOrder, pending: dict[str, Any]) -> OrderRequest:
        limit = pending["limit"]
        return reduce_only_request(
            order,
            Decimal(pending["to_close"]),
            pending["client_id"],
            None if limit is None else Decimal(limit),
        )

    async def _final(self, order: WorkerOrder, cid: str, exchange_id: str) -> OrderInfo:
        """The rung's order once final: its push, else asked by REST until it is."""
        future = self._finals.get(cid)
        if future is None:
            future = self._finals[cid] = asyncio.get_running_loop().create_future()
        failures = 0
        try:
            while True:
                try:
                    return await asyncio.wait_for(asyncio.shield(future), FINAL_CONFIRM_S)
                except TimeoutError:
                    pass
                try:
                    info = await self.placement.get_order(order.symbol, exchange_id)
                except ExchangeError as exc:
                    failures += 1
                    log.warning("SLTP take-profit close %s not found yet (%s)", cid, exc)
                    await asyncio.sleep(backoff_s(min(failures, 6)))
                    continue
                if info.status.is_final:
                    return info
        finally:
            self._finals.pop(cid, None)

    def owns(self, client_order_id: str | None) -> bool:
        return client_order_id is not None and client_order_id in self._leg_owner

    def on_order(self, info: OrderInfo) -> None:
        """Fill tracker: a push about a rung's close order."""
        if not info.status.is_final or info.client_order_id is None:
            return
        future = self._finals.get(info.client_order_id)
        if future is None:
            future = self._finals[info.client_order_id] = asyncio.get_running_loop().create_future()
        if not future.done():
            future.set_result(info)

    def _leg_done(self, rung: _Rung, pending: dict[str, Any]) -> None:
        """A rung's close is over: what it filled leaves the guard, journaled with its
        ``partially_closed`` (or, when it was the last of the position, ``closed``)."""
        order, guard, close, level = rung.order, rung.guard, rung.close, rung.level
        filled = Decimal(pending["filled"])
        cost = Decimal(pending["cost"])
        price = cost / filled if filled > 0 else None
        intents = guard.on_closed(close, filled)
        state = order.extra.setdefault(EXIT, {})
        state.get("pending", {}).pop(str(close.take_profit_index), None)
        if order.lifecycle.is_terminal:
            return
        assert close.take_profit_index is not None
        if filled < Decimal(pending["quantity"]):
            self.alerter.fire(
                "close_failed",
                f"take-profit {close.take_profit_index} of {order.order_id} closed {filled} of "
                f"{pending['quantity']} contracts; the rest stays guarded",
                dedup_key=f"leg_short:{order.order_id}:{close.take_profit_index}",
                order_id=order.order_id,
            )
        if guard.flat and order.order_id not in self._handed_over:
            self._handed_over.add(order.order_id)
            order.close_reason = ExitReason.TAKE_PROFIT.value
            order.close_level = level
            order.close_order_id = pending.get("last_order_id")
            order.filled_contracts = filled
            self._save(order, guard, write=False)  # journaled with ``closed``, at once
            self._finish(order, price, "worker")
            return
        self._save(order, guard, write=False)
        part = None if price is None else realized_pnl(order, filled, price)
        if part is not None:
            state["realized_pnl"] = str(Decimal(state.get("realized_pnl", "0")) + part)
        report = (
            self.callbacks.partially_closed(
                order,
                close_order_id=pending.get("last_order_id"),
                take_profit_index=close.take_profit_index,
                closed=filled,
                remaining=guard.held,
                price=price,
            )
            if filled > 0
            else None
        )
        self.queue.save_facts(order, *([report] if report is not None else []))
        if filled > 0:
            log.warning(
                "SLTP take-profit %d of %s closed %s contracts at %s; %s left",
                close.take_profit_index,
                order.order_id,
                filled,
                price,
                guard.held,
            )
        quote = self.markets.quote(order.symbol)
        self._carry_out(order, guard, intents, quote.last if quote else level, 0)
        if order.order_id not in self._handed_over and not order.lifecycle.is_terminal:
            self._register(order)
            if quote is not None:  # the next rung or the stop may be crossed already
                self.on_price(order, quote.last, 0)

    def _resume_pending(self, order: WorkerOrder, guard: ExitGuard, saved: dict[str, Any]) -> None:
        """Restart: each rung's close noted before the crash is sent again under the same
        client id (the exchange refuses a double; 40050 proves it exists and it is looked
        up), then settled as any other."""
        for pending in list((saved.get("pending") or {}).values()):
            index = int(pending["index"])
            close = Close(Decimal(pending["quantity"]), ExitReason.TAKE_PROFIT, index)
            self._leg_owner[pending["client_id"]] = order.order_id
            self.queue.link_client_id(order, pending["client_id"])
            log.warning(
                "SLTP resuming take-profit %d of %s (%s)",
                index,
                order.order_id,
                pending["client_id"],
            )
            self._start_leg(_Rung(order, guard, close, guard.legs[index - 1].price), pending)

    # -- the stop
    def _move_stop(self, order: WorkerOrder, guard: ExitGuard, move: MoveStop) -> None:
        """Journal the new stop with its ``stop_moved`` (a trailing stop's at most once a
        second, the last level always), then let the exchange-side backstop follow."""
        log.warning(
            "SLTP stop of %s moved to %s (%s)", order.order_id, move.level, move.reason.value
        )
        report = self._reports.setdefault(order.order_id, _StopReport())
        now = _now_ms()
        wait_ms = report.last_ms + STOP_REPORT_EVERY_MS - now
        if move.reason is ExitReason.TRAILING_STOP and wait_ms > 0:
            if report.timer is None:
                report.timer = asyncio.get_running_loop().call_later(
                    wait_ms / 1000, self._report_stop, order
                )
        else:
            self._report_stop(order)
        self._follow_backstop(order)

    def _report_stop(self, order: WorkerOrder) -> None:
        report = self._reports.setdefault(order.order_id, _StopReport())
        report.timer = None
        guard = self.guards.get(order.order_id)
        if guard is None or guard.stop is None or order.lifecycle.is_terminal:
            return
        if order.order_id in self._handed_over and order.state is OrderState.CLOSING:
            return
        report.last_ms = _now_ms()
        state = order.extra.setdefault(EXIT, {})
        if state.get("reported_stop") == str(guard.stop):
            return
        state["reported_stop"] = str(guard.stop)
        self._save(order, guard, write=False)
        self.queue.save_facts(
            order, self.callbacks.stop_moved(order, guard.stop, guard.stop_reason.value)
        )

    def stop_of(self, order: WorkerOrder) -> Decimal | None:
        """The stop guarding ``order`` now: its guard's (moved by break-even or a trailing
        stop), else the journaled one, else the plan's."""
        guard = self.guards.get(order.order_id)
        if guard is not None:
            return guard.stop
        if self.manages(order):
            return self._saved_stop(order)[0]
        return order.plan.stop_loss

    def _follow_backstop(self, order: WorkerOrder) -> None:
        if not self.placement.backstop.enabled:
            return
        if self.shared is not None and self.shared.manages(order.symbol, order.side):
            self.shared.refresh(order.symbol, order.side)
            return
        task = self._backstops.get(order.order_id)
        if task is None or task.done():
            self._backstops[order.order_id] = self._tasks.spawn(
                self._backstop(order), "SLTP backstop update failed"
            )

    async def _backstop(self, order: WorkerOrder) -> None:
        """Move the exchange's whole-position stop after ours: place the new one first,
        then cancel any other stop of this side, so the position is never without one and
        never under two that could both fire. Repeats until it matches the latest stop."""
        while not order.lifecycle.is_terminal:
            if self.shared is not None and self.shared.manages(order.symbol, order.side):
                self.shared.refresh(order.symbol, order.side)  # another signal joined
                return
            guard = self.guards.get(order.order_id)
            if guard is None or guard.stop is None:
                return
            spec = await self.markets.spec(order.symbol)
            target = self.placement.backstop_stop(order.side, guard.stop, spec)
            if self._backstop_at.get(order.order_id) == target:
                return
            # Named by its level: a stop only tightens, so a level is never wanted twice,
            # and a restart that places it again is refused as the same order.
            cid = client_order_id_for(order.order_id, f"sl{target}")
            try:
                await self.placement.exchange.place_stop(
                    StopRequest(
                        symbol=order.symbol,
                        position_side=order.side,
                        origin=OrderOrigin.STOP_LOSS,
                        trigger_price=target,
                        client_order_id=cid,
                    )
                )
            except DuplicateClientOrderId:
                pass  # placed before a restart: it is there
            except ExchangeError as exc:
                log.warning(
                    "SLTP exchange-side stop of %s not moved to %s (%s); our stop guards it",
                    order.order_id,
                    target,
                    exc,
                )
                return
            self._backstop_at[order.order_id] = target
            try:
                stops = await self.placement.exchange.open_stops(order.symbol)
                for stop in stops:
                    if (
                        stop.position_side is order.side
                        and stop.origin is OrderOrigin.STOP_LOSS
                        and stop.trigger_price != target
                    ):
                        await self.placement.exchange.cancel_stop(
                            order.symbol, order_id=stop.order_id
                        )
            except ExchangeError as exc:
                log.info(
                    "SLTP older exchange-side stops of %s not cancelled: %s", order.order_id, exc
                )
            log.info("SLTP exchange-side stop of %s now at %s", order.order_id, target)
            await asyncio.sleep(BACKSTOP_EVERY_S)  # then follow the latest level, if it moved

    # -- the journal
    def _save(self, order: WorkerOrder, guard: ExitGuard, *, write: bool = True) -> None:
        """Put the guard's snapshot in the order's facts; ``write``: journal them now."""
        state = order.extra.setdefault(EXIT, {})
        state.update(guard.snapshot())
        if write:
            self.queue.save_facts(order)

    # -- tasks
    def _spawn(self, coro: Coroutine[Any, Any, object], what: str) -> None:
        self._tasks.spawn(coro, f"SLTP could not {what}")

    async def stop(self) -> None:
        for report in self._reports.values():
            if report.timer is not None:
                report.timer.cancel()
        await self._tasks.cancel_all(*(t for legs in self._legs.values() for t in legs.values()))


async def _nothing_working(order: WorkerOrder) -> None:
    """No entry zones: nothing to wait for."""


def _pending_quantity(saved: dict[str, Any]) -> Decimal:
    """Contracts of the rung closes a snapshot notes as on their way."""
    pending = saved.get("pending") or {}
    return sum((Decimal(p["quantity"]) for p in pending.values()), Decimal(0))


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000
