"""A short seeded ``zoneguard chaos`` run: every scenario, long and short, against the real
sim, worker and app processes, the worker SIGKILLed at least once in each lifecycle.
Zero findings expected; a finding fails the test with the command that replays it."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoneguard.chaos.plan import PlanOptions, make_plan
from zoneguard.chaos.runner import Runner, RunOptions
from zoneguard.chaos.scenarios import all_keys

SEED = 42
"""Chosen so the 24 lifecycles (the ladder's and the trailing stop's among them) also go
through the app, kill it once, and drop the sockets, hiccup the exchange and take the
receiver down along the way."""

pytestmark = pytest.mark.slow


@pytest.mark.timeout(240)
async def test_a_short_seeded_chaos_run_finds_nothing(tmp_path: Path) -> None:
    keys = all_keys()
    plan_options = PlanOptions(kills_per_lifecycle=1, app_share=0.25)
    plans = [make_plan(SEED + i, key, plan_options) for i, key in enumerate(keys)]
    assert sum(plan.via_app for plan in plans) >= 1
    assert any(d.kind == "kill_app" for plan in plans for d in plan.disruptions)
    lines: list[str] = []
    options = RunOptions(
        seed=SEED,
        lifecycles=len(keys),
        keys=keys,
        plan=plan_options,
        parallel=2,
        keep_going=True,
        var_dir=tmp_path / "chaos",
    )

    tally = await Runner(options, lines.append).run()

    report = "\n".join(lines)
    assert tally.findings == [], report
    assert tally.lifecycles == len(keys) == 24, report
    assert set(tally.keys) == set(keys), report
    assert tally.worker_kills >= len(keys), report
    assert tally.app_kills >= 1, report
    assert tally.line() == f"24 lifecycles, {tally.worker_kills} kills, 0 findings"
