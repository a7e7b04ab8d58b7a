"""Many lifecycles: handed out to slots running side by side, each slot a stack of its
own processes reused from one lifecycle to the next; progress as they finish, a tally at
the end, every finding with the command that replays its seed.

Lifecycle ``i`` of a run with seed ``S`` has seed ``S + i`` and the ``i``-th of the
selected ``scenario:side`` keys (cycling), so a run covers every key evenly and a single
lifecycle replays alone with ``--seed S+i --scenario KEY --lifecycles 1``.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from zoneguard.chaos.invariants import Finding, check_all
from zoneguard.chaos.lifecycle import LifecycleResult, LifecycleRun
from zoneguard.chaos.plan import PlanOptions, make_plan
from zoneguard.chaos.processes import ProcessFailed
from zoneguard.chaos.stack import SlotStack

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunOptions:
    seed: int
    lifecycles: int
    keys: list[str]
    plan: PlanOptions = field(default_factory=PlanOptions)
    parallel: int = 2
    keep_going: bool = False
    var_dir: Path = Path("var/chaos")
    recycle_every: int = 40
    """Lifecycles per stack before a fresh one (the exchange's order book-keeping grows)."""


@dataclass
class Reported:
    result: LifecycleResult
    finding: Finding
    logs: Path


@dataclass
class Tally:
    lifecycles: int = 0
    worker_kills: int = 0
    app_kills: int = 0
    disruptions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    keys: Counter[str] = field(default_factory=Counter)
    findings: list[Reported] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.lifecycles} lifecycles, {self.worker_kills} kills, "
            f"{len(self.findings)} findings"
        )

    def add(self, result: LifecycleResult) -> None:
        self.lifecycles += 1
        self.worker_kills += result.worker_kills
        self.app_kills += result.app_kills
        self.keys[result.plan.key] += 1
        self.outcomes[f"{result.plan.scenario}: {result.outcome}"] += 1
        for disruption in result.plan.disruptions:
            self.disruptions[disruption.kind] += 1


class Runner:
    def __init__(self, options: RunOptions, say: Say) -> None:
        self.options = options
        self.say = say
        self.tally = Tally()
        self._next = 0
        self._stop = False

    async def run(self) -> Tally:
        opts = self.options
        if opts.var_dir.exists():
            shutil.rmtree(opts.var_dir)  # a fresh journal per run: order ids start over
        opts.var_dir.mkdir(parents=True)
        slots = min(opts.parallel, opts.lifecycles)
        await asyncio.gather(*(self._slot(index) for index in range(slots)))
        return self.tally

    def _take(self) -> int | None:
        if self._stop or self._next >= self.options.lifecycles:
            return None
        index, self._next = self._next, self._next + 1
        return index

    async def _slot(self, slot: int) -> None:
        generation = 0
        while (index := self._take()) is not None:
            generation += 1
            root = self.options.var_dir / f"slot{slot}" / f"g{generation}"
            stack = SlotStack(root, with_app=self.options.plan.app_share > 0)
            runs: list[tuple[LifecycleRun, LifecycleResult]] = []
            clean = True
            try:
                await stack.start()
                while index is not None:
                    run, result = await self._one(index, stack, generation)
                    runs.append((run, result))
                    if result.findings:
                        clean = False
                        break  # a finding may leave the exchange dirty: a fresh stack
                    if len(runs) >= self.options.recycle_every:
                        break
                    index = self._take()
                clean = await self._recheck(runs, root) and clean
            except ProcessFailed as exc:
                clean = False
                self._stop = not self.options.keep_going
                self.say(f"slot {slot}: processes failed to start: {exc}")
            finally:
                await stack.close()
            if clean:
                shutil.rmtree(root, ignore_errors=True)

    async def _one(
        self, index: int, stack: SlotStack, generation: int
    ) -> tuple[LifecycleRun, LifecycleResult]:
        opts = self.options
        key = opts.keys[index % len(opts.keys)]
        plan = make_plan(opts.seed + index, key, opts.plan)
        run = LifecycleRun(plan, stack, stack_generation=generation)
        result = await run.run()
        self.tally.add(result)
        verdict = "ok" if not result.findings else f"{len(result.findings)} FINDING(S)"
        self.say(
            f"[{self.tally.lifecycles:>4}/{opts.lifecycles}] seed {plan.seed} "
            f"{plan.key}/{plan.variant} via {'app' if plan.via_app else 'worker'}: "
            f"{result.outcome}; {result.worker_kills} kills; {result.seconds:.1f}s {verdict}"
        )
        for finding in result.findings:
            self._report(result, finding, stack.root)
        return run, result

    def _report(self, result: LifecycleResult, finding: Finding, logs: Path) -> None:
        self.tally.findings.append(Reported(result, finding, logs))
        plan = result.plan
        dump = logs / f"finding-seed{plan.seed}.json"
        dump.write_bytes(orjson.dumps(_evidence_record(result), option=orjson.OPT_INDENT_2))
        self.say(f"  FINDING {finding}")
        self.say(f"    order {result.order_id}; plan: {plan.describe()}")
        for note in result.notes:
            self.say(f"    note {note}")
        self.say(f"    replay: {plan.replay()}")
        self.say(
            f"    logs: {logs}/ (worker/log/app.log, worker.log, sim.log, app.log, {dump.name})"
        )
        if not self.options.keep_going:
            self._stop = True

    async def _recheck(self, runs: list[tuple[LifecycleRun, LifecycleResult]], root: Path) -> bool:
        """Before a stack goes: look at each of its lifecycles again. A second entry or a
        second final callback that came after a lifecycle was judged is found here."""
        clean = True
        for run, result in runs:
            if result.evidence is None:
                continue
            evidence = await run.evidence(until_ms=result.window[1])
            evidence.position = None  # later lifecycles own the position and plans now
            evidence.plan_orders = []
            seen = {str(f) for f in result.findings}
            for finding in check_all(evidence):
                if str(finding) not in seen:
                    clean = False
                    late = Finding(finding.check, f"after the lifecycle ended: {finding.message}")
                    self._report(result, late, root)
        return clean


def _evidence_record(result: LifecycleResult) -> dict[str, Any]:
    """What a finding was judged on, for the person reading it later."""
    return {
        "plan": result.plan.describe(),
        "replay": result.plan.replay(),
        "order_id": result.order_id,
        "findings": [str(f) for f in result.findings],
        "notes": result.notes,
        "window_ms": list(result.window),
        "evidence": None if result.evidence is None else _plain(asdict(result.evidence)),
    }


def _plain(value: Any) -> Any:
    """JSON-ready: keys as text (rungs are numbered), sets as sorted lists, exact numbers
    (zones) as text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Decimal):
        return str(value)
    return value
