"""What a seed chooses for one lifecycle: the variant, the way in (worker or app), and
every disruption (which step, how long after it starts, how long the process stays down).

All draws are made in one fixed order whatever the options, so the same seed and
scenario give the same choices: ``zoneguard chaos --seed S --scenario X`` replays them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from zoneguard.chaos.geometry import CONTRACTS
from zoneguard.chaos.scenarios import script, variants

Kind = Literal[
    "kill_worker",
    "drop_ws",
    "exchange_hiccup",
    "kill_app",
    "receiver_down",
    "slow_reply",
    "lagging_reads",
    "thin_book",
    "refuse_cancels",
]
HICCUPS = ("503", "drop", "delay")
"""``order_response`` faults: executed, but the reply is a 503, lost, or late."""
RECEIVER_DOWN = ("503", "closed")
"""The callback receiver answers 503, or its port is closed."""


@dataclass(frozen=True, slots=True)
class Disruption:
    kind: Kind
    step: int
    """Index of the script step at whose start the delay begins."""
    delay_ms: int
    down_ms: int = 0
    """kill_worker / kill_app: pause before the restart; receiver_down: how long;
    lagging_reads: how far order lookups lag."""
    again_ms: int | None = None
    """kill_worker: kill the new process again this long after starting it (it may still be
    resuming), then start it once more."""
    mode: str = ""
    """exchange_hiccup: 503/drop/delay; receiver_down: 503/closed; thin_book: contracts
    the next close finds; refuse_cancels: how many."""

    def describe(self, step_names: tuple[str, ...]) -> str:
        where = f"{step_names[self.step]}+{self.delay_ms}ms"
        extra = f" down {self.down_ms}ms" if self.down_ms else ""
        if self.again_ms is not None:
            extra += f", again {self.again_ms}ms into the restart"
        if self.mode:
            extra += f" ({self.mode})"
        return f"{self.kind}@{where}{extra}"


@dataclass(frozen=True, slots=True)
class PlanOptions:
    kills_per_lifecycle: int = 2
    app_share: float = 0.25
    """Share of lifecycles sent through the app (0: the app is not used)."""


@dataclass(frozen=True, slots=True)
class LifecyclePlan:
    seed: int
    scenario: str
    side: str
    variant: str
    via_app: bool
    disruptions: tuple[Disruption, ...]
    refusals: int
    """close_refused: closes the exchange refuses before it takes one."""
    partial: int
    """partial_fill: contracts of the first fill."""
    options: PlanOptions

    @property
    def key(self) -> str:
        return f"{self.scenario}:{self.side}"

    @property
    def worker_kills(self) -> int:
        return sum(
            1 + (d.again_ms is not None) for d in self.disruptions if d.kind == "kill_worker"
        )

    def replay(self) -> str:
        """The command that makes the same choices again."""
        opts = self.options
        return (
            f"zoneguard chaos --seed {self.seed} --scenario {self.key} --lifecycles 1 "
            f"--kills-per-lifecycle {opts.kills_per_lifecycle} --app-share {opts.app_share:g}"
        )

    def describe(self) -> str:
        names = tuple(step.name for step in script(self.scenario, self.variant).steps)
        way = "app" if self.via_app else "worker"
        chaos = "; ".join(d.describe(names) for d in self.disruptions) or "none"
        return f"{self.key}/{self.variant} via {way}; {chaos}"


def make_plan(seed: int, key: str, options: PlanOptions) -> LifecyclePlan:
    """The choices of lifecycle ``seed`` for ``key`` (``scenario:side``)."""
    scenario, _, side = key.partition(":")
    rng = random.Random(f"zoneguard-chaos:{seed}:{key}")
    variant = rng.choice(variants(scenario))
    n_steps = len(script(scenario, variant).steps)
    via_app = rng.random() < options.app_share

    def point() -> tuple[int, int]:
        return rng.randrange(1, n_steps), rng.randint(0, 600)

    chosen: list[Disruption] = []
    drop_ws, drop_at = rng.random() < 0.3, point()
    if drop_ws:
        chosen.append(Disruption("drop_ws", *drop_at))
    hiccup, hiccup_at, hiccup_mode = rng.random() < 0.3, point(), rng.choice(HICCUPS)
    if hiccup:
        chosen.append(Disruption("exchange_hiccup", *hiccup_at, mode=hiccup_mode))
    app_kill, app_at, app_down = rng.random() < 0.5, point(), rng.randint(0, 1000)
    if via_app and app_kill:
        chosen.append(Disruption("kill_app", *app_at, down_ms=app_down))
    receiver_down = scenario == "callback_down" or rng.random() < 0.1
    down_at, down_for, down_mode = point(), rng.randint(500, 4000), rng.choice(RECEIVER_DOWN)
    if receiver_down:
        chosen.append(Disruption("receiver_down", *down_at, down_ms=down_for, mode=down_mode))
    refusals = rng.randint(1, 4)
    partial = rng.randint(1, CONTRACTS - 1)
    lag, lag_at, lag_ms = rng.random() < 0.2, point(), rng.randint(200, 1500)
    if lag:  # order lookups miss orders younger than this (reads lagging the writes)
        chosen.append(Disruption("lagging_reads", *lag_at, down_ms=lag_ms))
    thin, thin_at, thin_contracts = rng.random() < 0.2, point(), rng.randint(1, CONTRACTS - 1)
    if thin:  # the next close finds only part of the liquidity it needs
        chosen.append(Disruption("thin_book", *thin_at, mode=str(thin_contracts)))
    refuse, refuse_at, refused = rng.random() < 0.2, point(), rng.randint(1, 3)
    if refuse:  # the next cancels are refused (timeout, operator and leftover cancels)
        chosen.append(Disruption("refuse_cancels", *refuse_at, mode=str(refused)))
    for _ in range(options.kills_per_lifecycle):  # last: their number changes no other draw
        step, delay = point()
        down = rng.choice((0, rng.randint(0, 1500)))
        again = rng.randint(0, 1500) if rng.random() < 0.2 else None
        if rng.random() < 0.25:  # the next order's reply is late: a kill then leaves it unheard
            chosen.append(Disruption("slow_reply", step, 0, mode="delay"))
        chosen.append(Disruption("kill_worker", step, delay, down, again))
    return LifecyclePlan(
        seed=seed,
        scenario=scenario,
        side=side,
        variant=variant,
        via_app=via_app,
        disruptions=tuple(sorted(chosen, key=lambda d: (d.step, d.delay_ms))),
        refusals=refusals,
        partial=partial,
        options=options,
    )
