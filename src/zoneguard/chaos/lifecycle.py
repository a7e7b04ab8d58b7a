"""One lifecycle: a script run on a slot's processes while its plan's disruptions happen
beside it, then the evidence gathered and checked.

The script and the disruptions are separate tasks: a disruption waits for its step to
start, then for its delay, and acts whatever the script is doing (a kill in the middle of
a price move, a restart while the script waits for the exchange). The script only ever
waits for conditions the exchange or the receiver shows.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from zoneguard.chaos.clients import SimClient, Unreachable
from zoneguard.chaos.geometry import CONTRACTS, SYMBOL, Levels
from zoneguard.chaos.invariants import (
    CLOSE_SIDE,
    ENTRY_SIDE,
    EXCHANGE_EXITS,
    FINAL_STATUSES,
    ORDER_FINISHED,
    Evidence,
    Finding,
    check_all,
)
from zoneguard.chaos.plan import Disruption, LifecyclePlan
from zoneguard.chaos.processes import ProcessFailed
from zoneguard.chaos.scenarios import Script, script
from zoneguard.chaos.stack import SlotStack
from zoneguard.chaos.steps import StepFailed
from zoneguard.domain.client_ids import client_order_id_for

POLL_S = 0.05
STEP_TIMEOUT_S = 60.0
FINAL_TIMEOUT_S = 90.0
SETTLE_S = 20.0
"""After the final callback: how long the exchange may take to show everything settled
(the worker cancels leftovers after reporting) before what is left counts as found."""
MAX_ATTEMPTS = 64
RUNGS = 2
ZONES = 2
"""Entry zones of the ``pyramid`` scenario."""
"""Take-profit rungs of the ``ladder`` scenario."""
"""Client ids of this many entry attempts and closes are recognised as the worker's."""
SLOW_REPLY_MS = 500
HICCUP_DELAY_MS = 800

Row = dict[str, Any]


class Stuck(Exception):
    """A step waited for the exchange to show something that never came."""


@dataclass
class View:
    """The exchange's state as far as this lifecycle is concerned."""

    orders: list[Row]
    held: Decimal
    position: Row | None
    plan_orders: list[Row]
    time_ms: int

    @property
    def live_entry(self) -> Row | None:
        live = [
            o
            for o in self.orders
            if o.get("side") in ENTRY_SIDE.values() and o.get("state") != ORDER_FINISHED
        ]
        return live[-1] if live else None


@dataclass
class LifecycleResult:
    plan: LifecyclePlan
    order_id: str
    findings: list[Finding]
    outcome: str
    worker_kills: int
    app_kills: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    evidence: Evidence | None = None
    window: tuple[int, int] = (0, 0)


class LifecycleRun:
    def __init__(
        self,
        plan: LifecyclePlan,
        stack: SlotStack,
        *,
        stack_generation: int = 0,
        final_timeout_s: float = FINAL_TIMEOUT_S,
    ) -> None:
        self.plan = plan
        self.stack = stack
        self.stack_generation = stack_generation
        self.script: Script = script(plan.scenario, plan.variant)
        self.levels = Levels(plan.side)
        self.ladder = plan.scenario == "ladder" or (plan.scenario, plan.variant) == (
            "shared",
            "ladder",
        )
        """The signal carries a take-profit ladder and break-even (issue 9)."""
        self.trailing = plan.scenario == "trailing"
        """The signal carries a trailing stop instead of the take-profit (issue 9)."""
        self.pyramid = plan.scenario == "pyramid"
        """The signal enters in two zones (``entry_zones``, issue 9)."""

        self.final_timeout_s = final_timeout_s
        self.order_id = f"cz-{plan.seed}-{plan.scenario}-{plan.side}-g{stack_generation}"
        self.companion_id = f"{self.order_id}-c"
        """The ``shared`` scenario's other signal on the same side (placed on the worker)."""
        self.companion_held = Decimal(0)
        """Contracts of the position that are the companion's (not this lifecycle's)."""
        self.crossed: list[str] = []
        self.cancel_requested = False
        self.notes: list[str] = []
        self.findings: list[Finding] = []
        self.step_name = ""
        self._reached = [asyncio.Event() for _ in self.script.steps]
        self._start_ms = 0
        self._end_ms = 0
        self._step_deadline = 0.0
        self._cids = _worker_client_ids(self.order_id)

    @property
    def sim(self) -> SimClient:
        return self.stack.sim

    def adopt_order_id(self, order_id: str) -> None:
        """The id the app gave the signal: the worker's client ids follow from it, and its
        callbacks are passed on to the app."""
        self.order_id = order_id
        self._cids = _worker_client_ids(order_id)
        self.stack.receiver.forwarded.add(order_id)

    def note(self, text: str) -> None:
        self.notes.append(f"[{self.step_name}] {text}")

    def ended(self) -> bool:
        return self.stack.receiver.has_final(self.order_id, FINAL_STATUSES)

    async def pause(self, seconds: float, what: str) -> None:
        """A retry pause inside a step, bounded by the step's deadline."""
        if time.monotonic() > self._step_deadline:
            raise Stuck(f"waiting for {what} in step {self.step_name}")
        await asyncio.sleep(seconds)

    # -- what the exchange shows
    async def view(self) -> View:
        return self.view_of(await self.sim.state())

    def view_of(self, state: dict[str, Any], until_ms: int | None = None) -> View:
        close_side = CLOSE_SIDE[self.plan.side]
        ours = [
            o
            for o in state.get("orders", [])
            if o.get("client_order_id") in self._cids
            or (
                o.get("origin") in EXCHANGE_EXITS
                and o.get("symbol") == SYMBOL
                and o.get("side") == close_side
                and int(o.get("create_time") or 0) >= self._start_ms
                and (until_ms is None or int(o.get("create_time") or 0) <= until_ms)
            )
        ]
        ours.sort(key=lambda o: (int(o.get("create_time") or 0), str(o.get("order_id"))))
        position = next(
            (
                p
                for p in state.get("positions", [])
                if p.get("symbol") == SYMBOL and p.get("position_side") == self.plan.side
            ),
            None,
        )
        held = Decimal(str(position.get("current_amount", "0"))) if position else Decimal(0)
        held = max(Decimal(0), held - self.companion_held)  # this lifecycle's part
        plans = [p for p in state.get("plan_orders", []) if p.get("symbol") == SYMBOL]
        return View(ours, held, position, plans, int(state.get("time") or 0))

    async def until(
        self,
        what: str,
        check: Callable[[View | None], bool | Awaitable[bool]],
        *,
        within_s: float = STEP_TIMEOUT_S,
        use_view: bool = True,
    ) -> None:
        """Wait for ``check`` (given a fresh view of the exchange when ``use_view``) to hold,
        or for the lifecycle to end; raises :class:`Stuck` after ``within_s``."""
        deadline = time.monotonic() + within_s
        while not self.ended():
            view = await self.view() if use_view else None
            result = check(view)
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            if time.monotonic() > deadline:
                raise Stuck(f"{what}: not seen within {within_s:.0f}s (step {self.step_name})")
            await asyncio.sleep(POLL_S)

    # -- the run
    async def run(self) -> LifecycleResult:
        started = time.monotonic()
        kills_before = (self.stack.worker_kills, self.stack.app_kills)
        self._start_ms = int((await self.sim.state()).get("time") or 0)
        agents = [asyncio.create_task(self._disrupt(d)) for d in self.plan.disruptions]
        try:
            await self._play()
        finally:
            for reached in self._reached:
                reached.set()
            outcomes = await asyncio.gather(*agents, return_exceptions=True)
        for disruption, outcome in zip(self.plan.disruptions, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                self.findings.append(Finding("restart", f"{disruption.kind} went wrong: {outcome}"))
        evidence: Evidence | None = None
        try:
            await self.stack.ensure_up()
            evidence = await self._settle()
        except (ProcessFailed, Unreachable, RuntimeError) as exc:
            self.findings.append(Finding("restart", f"processes did not come back: {exc}"))
        return LifecycleResult(
            plan=self.plan,
            order_id=self.order_id,
            findings=self.findings,
            outcome=self._outcome(evidence),
            worker_kills=self.stack.worker_kills - kills_before[0],
            app_kills=self.stack.app_kills - kills_before[1],
            seconds=time.monotonic() - started,
            notes=self.notes,
            evidence=evidence,
            window=(self._start_ms, self._end_ms),
        )

    async def _play(self) -> None:
        for index, step in enumerate(self.script.steps):
            self.step_name = step.name
            self._step_deadline = time.monotonic() + max(STEP_TIMEOUT_S, self.final_timeout_s)
            self._reached[index].set()
            try:
                await step.run(self)
            except (Stuck, StepFailed) as exc:
                self.findings.append(Finding("stuck", str(exc)))
                return
            except Unreachable as exc:  # the sim itself: never killed, so a real problem
                self.findings.append(Finding("stuck", f"the exchange did not answer: {exc}"))
                return

    async def _disrupt(self, disruption: Disruption) -> None:
        await self._reached[disruption.step].wait()
        await asyncio.sleep(disruption.delay_ms / 1000)
        kind, stack = disruption.kind, self.stack
        if kind == "kill_worker":
            await stack.kill_worker(disruption.down_ms, disruption.again_ms)
        elif kind == "kill_app":
            await stack.kill_app(disruption.down_ms)
        elif kind == "drop_ws":
            await self.sim.faults({"drop_ws": "all"})
        elif kind == "slow_reply":
            reply = {"count": 1, "mode": "delay", "delay_ms": SLOW_REPLY_MS}
            await self.sim.faults({"order_response": reply})
        elif kind == "exchange_hiccup":
            reply = {"count": 1, "mode": disruption.mode}
            if disruption.mode == "delay":
                reply["delay_ms"] = HICCUP_DELAY_MS
            await self.sim.faults({"order_response": reply})
        elif kind == "lagging_reads":
            await self.sim.faults({"lookup_lag_ms": disruption.down_ms})
        elif kind == "thin_book":
            book = {"count": 1, "contracts": int(disruption.mode), "reduce_only": True}
            await self.sim.faults({"thin_book": book})
        elif kind == "refuse_cancels":
            await self.sim.faults({"reject_cancels": {"count": int(disruption.mode)}})
        elif kind == "receiver_down":
            await stack.receiver.go_down(disruption.mode)
            try:
                await asyncio.sleep(disruption.down_ms / 1000)
            finally:
                await stack.receiver.come_back()

    async def _settle(self) -> Evidence:
        """Gather the evidence until every check passes or :data:`SETTLE_S` is over; the
        last look is what is judged."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            evidence = await self.evidence()
            found = check_all(evidence)
            if not found or time.monotonic() > deadline:
                self.findings.extend(found)
                return evidence
            await asyncio.sleep(0.2)

    async def evidence(self, until_ms: int | None = None) -> Evidence:
        state = await self.sim.state()
        view = self.view_of(state, until_ms)
        self._end_ms = until_ms if until_ms is not None else view.time_ms
        app_order: Row | None = None
        if self.plan.via_app:
            try:
                status, body = await self.stack.app.order(self.order_id)
                app_order = body if status == 200 and isinstance(body, dict) else None
            except Unreachable:
                app_order = None
        return Evidence(
            order_id=self.order_id,
            side=self.plan.side,
            contracts=CONTRACTS,
            orders=view.orders,
            position=view.position,
            plan_orders=view.plan_orders,
            callbacks=self.stack.receiver.of(self.order_id),
            crossed=list(self.crossed),
            rung_ids=rung_client_ids(self.order_id),
            zones=self.levels.zones if self.pyramid else (),
            cancel_requested=self.cancel_requested,
            via_app=self.plan.via_app,
            app_order=app_order,
        )

    def _outcome(self, evidence: Evidence | None) -> str:
        bodies = [] if evidence is None else evidence.callbacks
        final = next((b for b in reversed(bodies) if b.get("status") in FINAL_STATUSES), None)
        if final is None:
            return "no final callback"
        text = str(final.get("status"))
        if final.get("reason") and text == "closed":
            text += f" {final.get('reason')} by {final.get('closed_by')}"
        return text


def _worker_client_ids(order_id: str) -> frozenset[str]:
    """The client ids the worker gives the entry attempts and closes of ``order_id``: how
    its orders are told apart from any other at the exchange."""
    return frozenset(
        client_order_id_for(order_id, f"{purpose}{n}")
        for purpose in ("entry", "close")
        for n in range(1, MAX_ATTEMPTS + 1)
    ).union(*rung_client_ids(order_id).values(), zone_client_ids(order_id))


def zone_client_ids(order_id: str) -> frozenset[str]:
    """The client ids of later entry zones' entries (``zone<k>.<attempt>``, see
    ``zoneguard.worker.zone_entries``)."""
    return frozenset(
        client_order_id_for(order_id, f"zone{k}.{n}")
        for k in range(1, ZONES + 1)
        for n in range(1, MAX_ATTEMPTS + 1)
    )


def rung_client_ids(order_id: str) -> dict[int, frozenset[str]]:
    """The client ids of each rung's closes (``tp<k>.<attempt>``, see
    ``zoneguard.worker.exit_legs``), by rung (1-based)."""
    return {
        k: frozenset(
            client_order_id_for(order_id, f"tp{k}.{n}") for n in range(1, MAX_ATTEMPTS + 1)
        )
        for k in range(1, RUNGS + 1)
    }
