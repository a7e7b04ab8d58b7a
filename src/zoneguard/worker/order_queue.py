"""The seed's OrderQueue: every order the worker owns, in memory and in the journal.

Each transition goes to the journal (with the callback it causes, in one transaction)
before the worker acts on it; the in-memory copy is what the hot path reads. After a
crash, :meth:`OrderQueue.load` rebuilds every unfinished order from the journal.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from zoneguard.domain.entry_plan import entry_zones_payload
from zoneguard.domain.exit_plan import exits_payload
from zoneguard.domain.lifecycle import (
    TERMINAL_STATES,
    Lifecycle,
    LifecycleEvent,
    OrderState,
)
from zoneguard.domain.plan import OrderPlan, restore_plan
from zoneguard.domain.values import Side, Symbol
from zoneguard.worker.intents import Intent, IntentKind, IntentLog
from zoneguard.worker.journal import Journal, OutboxItem, hash_payload
from zoneguard.worker.outbox import build_callback_body

log = logging.getLogger("zoneguard.worker.orders")

ACTIVE_STATES = frozenset(
    {
        OrderState.PLACING,
        OrderState.PLACED,
        OrderState.PARTIALLY_FILLED,
        OrderState.OPEN,
        OrderState.CLOSING,
        OrderState.CLOSE_FAILED,
    }
)
"""States in which the order owns (or is about to own) the exchange position of its side."""

GUARDED_STATES = frozenset(
    {OrderState.PARTIALLY_FILLED, OrderState.OPEN, OrderState.CLOSING, OrderState.CLOSE_FAILED}
)
"""States with contracts on the exchange: the seed's ``monitored_positions``."""


_CLOSE_FROM = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.CLOSE_FAILED})
"""States a close is sent from (start_close): an intent line finds the order in one of them."""


ENTRY_INDEX = "entry_index"
"""Fact (in ``WorkerOrder.extra``) of a plan with several entry zones: the zone (1-based)
the order's first entry (``entry_*`` facts) serves."""


ENTERED = "entered"
"""Fact (in ``WorkerOrder.extra``): contracts the order's own entries have filled in all
(every zone), kept apart from ``filled_contracts`` which a close re-uses for what is left
to close. A position shared with other signals settles by it (see ``sltp``)."""


def entered(order: WorkerOrder) -> Decimal | None:
    value = order.extra.get(ENTERED)
    return None if value is None else Decimal(str(value))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class WorkerOrder:
    """One signal from arrival to its final state, plus what the exchange told us about it.

    Everything but ``plan`` and ``lifecycle`` is a *fact* journaled in the order's data, so
    a restarted worker knows which exchange orders to ask about.
    """

    plan: OrderPlan
    lifecycle: Lifecycle
    zone_low: Decimal
    zone_high: Decimal
    contracts: Decimal
    deadline_ms: int
    created_ms: int
    monitor_only: bool = False
    entry_attempt: int = 0
    entry_client_id: str | None = None
    entry_order_id: str | None = None
    entry_limit_price: Decimal | None = None
    filled_contracts: Decimal = Decimal(0)
    entry_price: Decimal | None = None
    close_attempt: int = 0
    close_client_id: str | None = None
    close_order_id: str | None = None
    close_reason: str | None = None
    close_level: Decimal | None = None
    close_price: Decimal | None = None
    armed: bool = True
    timed_out: bool = False
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    preset_levels: tuple[Decimal | None, Decimal | None] | None = None
    """The exchange-side (stop, take) for the entry, derived from the plan once (not a fact:
    recomputed after a restart)."""

    @property
    def order_id(self) -> str:
        return self.plan.id

    @property
    def symbol(self) -> Symbol:
        return self.plan.symbol

    @property
    def side(self) -> Side:
        return self.plan.side

    @property
    def state(self) -> OrderState:
        return self.lifecycle.state

    def facts(self) -> dict[str, Any]:
        """The journaled data of this order (text for every number: exact on reload)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "zone_low": str(self.zone_low),
            "zone_high": str(self.zone_high),
            "contracts": str(self.contracts),
            "deadline_ms": self.deadline_ms,
            "monitor_only": self.monitor_only,
            "entry_attempt": self.entry_attempt,
            "entry_client_id": self.entry_client_id,
            "entry_order_id": self.entry_order_id,
            "entry_limit_price": text(self.entry_limit_price),
            "filled_contracts": str(self.filled_contracts),
            "entry_price": text(self.entry_price),
            "close_attempt": self.close_attempt,
            "close_client_id": self.close_client_id,
            "close_order_id": self.close_order_id,
            "close_reason": self.close_reason,
            "close_level": text(self.close_level),
            "close_price": text(self.close_price),
            "armed": self.armed,
            "timed_out": self.timed_out,
            "last_error": self.last_error,
            "extra": self.extra,
        }

    def restore_facts(self, data: Mapping[str, Any]) -> None:
        def dec(key: str) -> Decimal | None:
            value = data.get(key)
            return None if value is None else Decimal(str(value))

        self.entry_attempt = int(data.get("entry_attempt", 0))
        self.entry_client_id = data.get("entry_client_id")
        self.entry_order_id = data.get("entry_order_id")
        self.entry_limit_price = dec("entry_limit_price")
        self.filled_contracts = dec("filled_contracts") or Decimal(0)
        self.entry_price = dec("entry_price")
        self.close_attempt = int(data.get("close_attempt", 0))
        self.close_client_id = data.get("close_client_id")
        self.close_order_id = data.get("close_order_id")
        self.close_reason = data.get("close_reason")
        self.close_level = dec("close_level")
        self.close_price = dec("close_price")
        self.armed = bool(data.get("armed", True))
        self.timed_out = bool(data.get("timed_out", False))
        self.last_error = data.get("last_error")
        self.extra = dict(data.get("extra") or {})

    def summary(self) -> dict[str, Any]:
        """What the status endpoints show of this order."""
        plan = self.plan
        return {
            "id": plan.id,
            "symbol": plan.symbol,
            "side": plan.side.value,
            "state": self.state.value,
            "entry_zone_min": str(plan.entry_zone_min),
            "entry_zone_max": str(plan.entry_zone_max),
            "quantity": str(plan.quantity),
            "leverage": plan.leverage,
            "stop_loss": None if plan.stop_loss is None else str(plan.stop_loss),
            "take_profit": None if plan.take_profit is None else str(plan.take_profit),
            "contracts": str(self.contracts),
            "filled_contracts": str(self.filled_contracts),
            "entry_price": None if self.entry_price is None else str(self.entry_price),
            "exchange_order_id": self.entry_order_id,
            "close_order_id": self.close_order_id,
            "close_reason": self.close_reason,
            "close_price": None if self.close_price is None else str(self.close_price),
            "timeout_at_ms": self.deadline_ms,
            "created_ms": self.created_ms,
            "monitor_only": self.monitor_only,
            "last_error": self.last_error,
            **self._exit_summary(),
            **self._entry_summary(),
        }

    def _entry_summary(self) -> dict[str, Any]:
        """With several entry zones: each zone, its size and where its entry stands
        (``waiting``, ``working``, ``filled``, or ``dropped`` unentered); empty for a seed plan."""
        plan = self.plan
        if not plan.entry_zones:
            return {}
        saved = (self.extra.get("zones") or {}).get("zones") or []
        orders = self.extra.get("zone_orders") or {}
        first = self.extra.get(ENTRY_INDEX)
        zones = []
        for index, zone in enumerate(plan.entry_zones, start=1):
            state = saved[index - 1] if index <= len(saved) else {}
            facts = orders.get(str(index)) or {}
            filled = Decimal(str(state.get("filled", "0")))
            if state.get("over"):
                stage = "filled" if filled > 0 else "dropped"
            else:
                stage = "working" if state.get("sent") else "waiting"
            ours = index == first
            zones.append(
                {
                    "index": index,
                    "min": str(zone.min),
                    "max": str(zone.max),
                    "size_percent": str(zone.size_percent),
                    "contracts": state.get("size"),
                    "state": stage,
                    "filled_contracts": str(filled),
                    "entry_price": state.get("average_price"),
                    "client_order_id": self.entry_client_id if ours else facts.get("client_id"),
                    "exchange_order_id": self.entry_order_id if ours else facts.get("order_id"),
                }
            )
        return {**entry_zones_payload(plan.entry_zones), "entry_progress": zones}

    def _exit_summary(self) -> dict[str, Any]:
        """The plan's exit legs and where they stand (each rung's size, sent, closed; the
        stop now and why): empty for a seed plan."""
        plan = self.plan
        if not plan.has_exit_legs:
            return {}
        state = self.extra.get("exit") or {}
        saved = state.get("legs") or []
        rungs = []
        for index, target in enumerate(plan.targets, start=1):
            rung: dict[str, Any] = {
                "index": index,
                "price": str(target.price),
                "size_percent": str(target.size_percent),
            }
            if index <= len(saved):
                rung.update(saved[index - 1])
            rungs.append(rung)
        return {
            **exits_payload(plan.take_profits, plan.break_even, plan.trailing_stop),
            "exit_progress": {
                "take_profits": rungs,
                "held_contracts": state.get("held"),
                "stop_loss": state.get(
                    "stop", None if plan.stop_loss is None else str(plan.stop_loss)
                ),
                "stop_reason": state.get("stop_reason", "stop_loss"),
            },
        }


@dataclass(frozen=True, slots=True)
class Callback:
    """A callback to enqueue with a transition: its URL, status and the seed's body fields."""

    url: str
    status: str
    fields: dict[str, Any]


class OrderQueue:
    """Orders by id, by client order id and by exchange position; journal-backed."""

    def __init__(self, journal: Journal, intents: IntentLog | None = None) -> None:
        self.journal = journal
        self.intents = intents or IntentLog(journal.path.with_name("intents.log"))
        self._orders: dict[str, WorkerOrder] = {}
        self._by_client_id: dict[str, str] = {}
        self._by_exchange_id: dict[str, str] = {}
        self._position_owners: dict[tuple[Symbol, Side], dict[str, None]] = {}
        """Orders that own (or are about to own) part of each venue position, oldest first."""
        self._by_state: dict[OrderState, dict[str, WorkerOrder]] = {s: {} for s in OrderState}
        self._live_by_side: dict[tuple[Symbol, Side], dict[str, None]] = {}
        self._finished: dict[str, int] = {}  # order_id -> when it finished, oldest first
        self.on_callback_enqueued: list[Any] = []
        self.on_finished: list[Callable[[WorkerOrder], None]] = []
        """Called once an order reaches a final state (after it is journaled)."""

    # -- lookup
    def get(self, order_id: str) -> WorkerOrder | None:
        return self._orders.get(order_id)

    def by_client_id(self, client_order_id: str | None) -> WorkerOrder | None:
        if client_order_id is None:
            return None
        order_id = self._by_client_id.get(client_order_id)
        return None if order_id is None else self._orders.get(order_id)

    def by_exchange_id(self, exchange_order_id: str) -> WorkerOrder | None:
        order_id = self._by_exchange_id.get(exchange_order_id)
        return None if order_id is None else self._orders.get(order_id)

    def live_on_side(self, symbol: Symbol, side: Side) -> list[WorkerOrder]:
        """The unfinished orders on ``symbol``/``side``, oldest first."""
        ids = self._live_by_side.get((symbol, side)) or {}
        return [order for order_id in ids if (order := self._orders.get(order_id)) is not None]

    def position_owners(self, symbol: Symbol, side: Side) -> list[WorkerOrder]:
        """The orders sharing the venue's position of ``symbol``/``side``, oldest first."""
        ids = self._position_owners.get((symbol, side)) or {}
        return [order for order_id in ids if (order := self._orders.get(order_id)) is not None]

    def shares_position(self, order: WorkerOrder) -> bool:
        """Another order owns part of ``order``'s venue position (several signals on one
        symbol and side): each then closes only its own contracts."""
        owners = self._position_owners.get((order.symbol, order.side)) or {}
        return any(owner != order.order_id for owner in owners)

    def in_states(self, states: Iterable[OrderState]) -> list[WorkerOrder]:
        """The orders in ``states``, without walking the waiting ones (there may be 100k)."""
        return [order for state in states for order in self._by_state[state].values()]

    def __iter__(self) -> Iterator[WorkerOrder]:
        return iter(list(self._orders.values()))

    def __len__(self) -> int:
        return len(self._orders)

    # -- links the fill tracker uses to recognise pushes
    def link_client_id(self, order: WorkerOrder, client_order_id: str) -> None:
        self._by_client_id[client_order_id] = order.order_id

    def link_exchange_id(self, order: WorkerOrder, exchange_order_id: str) -> None:
        self._by_exchange_id[exchange_order_id] = order.order_id

    def claim_position(self, order: WorkerOrder) -> None:
        self._position_owners.setdefault((order.symbol, order.side), {})[order.order_id] = None

    def release_position(self, order: WorkerOrder) -> None:
        key = (order.symbol, order.side)
        owners = self._position_owners.get(key)
        if owners is not None:
            owners.pop(order.order_id, None)
            if not owners:
                del self._position_owners[key]

    # -- writes
    def add(self, order: WorkerOrder, first_event: LifecycleEvent) -> None:
        """Journal a new order (durable before the HTTP answer), then hold it in memory."""
        payload = order.plan.to_payload()
        self.journal.add_order(
            order.order_id,
            order.symbol,
            payload,
            hash_payload(payload),
            order.state.value,
            order.created_ms,
            first_event.to_dict(),
            data=order.facts(),
        )
        self._orders[order.order_id] = order
        self._by_state[order.state][order.order_id] = order
        self._index_links(order)

    def move(
        self,
        order: WorkerOrder,
        to: OrderState,
        reason: str,
        *,
        callback: Callback | None = None,
        log_now: bool = True,
        **data: str,
    ) -> LifecycleEvent:
        """Transition ``order`` and journal it, with its facts and callback, atomically.

        ``log_now=False`` leaves the log line to the caller (:meth:`log_move`): the hot
        path journals, sends the order, and only then spends time on logging."""
        at_ms = now_ms()
        # Built first: a bad body must not leave a half-made move.
        items = self._outbox_items(order, callback, at_ms)
        event = order.lifecycle.transition(to, at_ms, reason, **data)
        try:
            self.journal.record(
                order.order_id,
                event.to_dict(),
                state=to.value,
                data=order.facts(),  # every fact, every time: replace, no read-merge
                callbacks=items,
            )
        except BaseException:
            order.lifecycle.retract(event)  # not journaled: not happened
            raise
        self._by_state[event.from_state or to].pop(order.order_id, None)
        self._by_state[to][order.order_id] = order
        if log_now:
            self.log_move(event)
        if to in TERMINAL_STATES:
            self._finished[order.order_id] = at_ms
            self.release_position(order)
            live = self._live_by_side.get((order.symbol, order.side))
            if live is not None:
                live.pop(order.order_id, None)
                if not live:
                    del self._live_by_side[(order.symbol, order.side)]
            for finished in self.on_finished:
                finished(order)
        if items:
            for listener in self.on_callback_enqueued:
                listener()
        return event

    def note_sending(
        self, order: WorkerOrder, kind: IntentKind, attempt: int, client_order_id: str, reason: str
    ) -> None:
        """The hot path's write-ahead line, before a request goes out ahead of its journal
        commit (see :mod:`zoneguard.worker.intents`)."""
        self.intents.note(Intent(order.order_id, kind, attempt, client_order_id, reason, now_ms()))

    def move_sent(
        self, order: WorkerOrder, to: OrderState, reason: str, *, price: str
    ) -> LifecycleEvent | None:
        """Journal the move of an order whose request is already on the wire. A failure
        cannot unsend it: the intent line is kept for the next start and the operator is
        told (CRITICAL); None then, the order staying where it was in memory."""
        try:
            event = self.move(order, to, reason, log_now=False, price=price)
        except Exception:
            self.intents.hold()
            log.critical(
                "order %s: sent, but the journal refused the move to %s", order.order_id, to.value,
                exc_info=True,
            )  # fmt: skip
            return None
        self.intents.journaled()
        return event

    @staticmethod
    def log_move(event: LifecycleEvent) -> None:
        log.info(
            "order %s %s -> %s (%s)",
            event.order_id,
            event.from_state.value if event.from_state else "-",
            event.to_state.value,
            event.reason,
        )

    def save_facts(self, order: WorkerOrder, *callbacks: Callback) -> None:
        """Journal facts learnt without a state change (e.g. an exchange id, a partial
        close): a self-move is not in the table, so facts ride on the next transition; this
        writes them now, with the callbacks that report them, in one transaction."""
        at_ms = now_ms()
        items = [
            item for callback in callbacks for item in self._outbox_items(order, callback, at_ms)
        ]
        self.journal.replace_data(order.order_id, order.facts(), callbacks=items)
        if items:
            for listener in self.on_callback_enqueued:
                listener()

    @staticmethod
    def _outbox_items(
        order: WorkerOrder, callback: Callback | None, at_ms: int
    ) -> list[OutboxItem]:
        if callback is None:
            return []
        event_id = uuid.uuid4().hex
        body = build_callback_body(callback.status, callback.fields, event_id=event_id, at_ms=at_ms)
        return [OutboxItem(event_id, order.order_id, callback.url, body, at_ms)]

    # -- restart
    def load(self) -> tuple[list[WorkerOrder], list[tuple[str, str]]]:
        """Rebuild every unfinished order from the journal (the worker's restart).

        Returns the orders and, apart, ``(order_id, problem)`` for each one the journal
        cannot explain: one bad record must not keep every other position unguarded."""
        restored: list[WorkerOrder] = []
        unreadable: list[tuple[str, str]] = []
        for stored in self.journal.open_orders([s.value for s in TERMINAL_STATES]):
            try:
                order = self._rebuild(stored.order_id, stored.payload, stored.data)
            except Exception as exc:
                log.critical("order %s cannot be rebuilt from the journal", stored.order_id)
                unreadable.append((stored.order_id, f"{type(exc).__name__}: {exc}"))
                continue
            order.created_ms = stored.created_ms
            self._orders[order.order_id] = order
            self._by_state[order.state][order.order_id] = order
            self._index_links(order)
            restored.append(order)
        self._fold_intents()
        return restored, unreadable

    def _fold_intents(self) -> None:
        """Requests sent just before a crash whose journal commit never happened: journal
        them now (``placing``/``closing`` with their client id), so reconciliation asks the
        exchange about them instead of sending a second one under a new id."""
        for intent in self.intents.read():
            order = self._orders.get(intent.order_id)
            if order is None:
                continue
            if intent.kind == "entry":
                if order.state is OrderState.WAITING_ZONE and order.entry_attempt < intent.attempt:
                    order.entry_attempt = intent.attempt
                    order.entry_client_id = intent.client_order_id
                    order.entry_order_id = None
                    order.entry_limit_price = None
                    self._remember_client_id(order, intent.client_order_id)
                    self.claim_position(order)
                    self.move(order, OrderState.PLACING, "sent just before a crash (intent log)")
            elif order.state in _CLOSE_FROM and order.close_attempt < intent.attempt:
                if order.state is OrderState.PARTIALLY_FILLED:
                    order.extra["entry_was_working"] = True
                order.close_attempt = intent.attempt
                order.close_client_id = intent.client_order_id
                order.close_reason = intent.reason
                self._remember_client_id(order, intent.client_order_id)
                self.move(order, OrderState.CLOSING, f"{intent.reason} (intent log)")
        self.intents.clear()

    def _remember_client_id(self, order: WorkerOrder, client_order_id: str) -> None:
        self.link_client_id(order, client_order_id)
        order.extra.setdefault("client_ids", []).append(client_order_id)

    def _rebuild(
        self, order_id: str, payload: Mapping[str, Any], data: Mapping[str, Any]
    ) -> WorkerOrder:
        events = [LifecycleEvent.from_dict(e) for e in self.journal.events(order_id)]
        order = WorkerOrder(
            plan=restore_plan(payload),
            lifecycle=Lifecycle.replay(events),
            zone_low=Decimal(str(data["zone_low"])),
            zone_high=Decimal(str(data["zone_high"])),
            contracts=Decimal(str(data["contracts"])),
            deadline_ms=int(data["deadline_ms"]),
            created_ms=0,
            monitor_only=bool(data.get("monitor_only", False)),
        )
        order.restore_facts(data)
        return order

    def forget_finished_before(self, cutoff_ms: int) -> int:
        """Drop from memory the orders that finished before ``cutoff_ms`` (the journal keeps
        them); returns how many. A finished order stays a while, so late pushes about it
        are still recognised, then goes: a worker running for months must not carry every
        order it ever had, nor walk them."""
        gone: set[str] = set()
        for order_id, finished_ms in list(self._finished.items()):
            if finished_ms >= cutoff_ms:
                break
            del self._finished[order_id]
            order = self._orders.pop(order_id, None)
            if order is not None:
                self._by_state[order.state].pop(order_id, None)
                gone.add(order_id)
        if gone:
            self._by_client_id = {
                cid: oid for cid, oid in self._by_client_id.items() if oid not in gone
            }
            self._by_exchange_id = {
                xid: oid for xid, oid in self._by_exchange_id.items() if oid not in gone
            }
        return len(gone)

    def rebuild_stored(self, order_id: str) -> WorkerOrder | None:
        """A journaled order as it stands there (one no longer held in memory)."""
        stored = self.journal.get_order(order_id)
        if stored is None:
            return None
        order = self._rebuild(order_id, stored.payload, stored.data)
        order.created_ms = stored.created_ms
        return order

    def _index_links(self, order: WorkerOrder) -> None:
        if not order.lifecycle.is_terminal:
            self._live_by_side.setdefault((order.symbol, order.side), {})[order.order_id] = None
        for cid in order.extra.get("client_ids", []):
            self._by_client_id[cid] = order.order_id
        for cid in (order.entry_client_id, order.close_client_id):
            if cid:
                self._by_client_id[cid] = order.order_id
        for xid in (order.entry_order_id, order.close_order_id):
            if xid:
                self._by_exchange_id[xid] = order.order_id
        if order.state in ACTIVE_STATES:
            self.claim_position(order)
