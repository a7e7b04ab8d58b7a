"""What a chaos seed chooses: the same seed the same choices (the replay promise), the
scenario filter, and price levels that put each step where the script says."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from zoneguard.chaos.geometry import BACKSTOP_OFFSET_PERCENT, Levels
from zoneguard.chaos.plan import PlanOptions, make_plan
from zoneguard.chaos.scenarios import SCENARIOS, all_keys, script, select, variants


def test_the_same_seed_makes_the_same_choices_and_others_differ() -> None:
    options = PlanOptions(kills_per_lifecycle=3, app_share=0.5)
    assert make_plan(7, "stop_loss:short", options) == make_plan(7, "stop_loss:short", options)
    others = {make_plan(seed, "stop_loss:short", options).disruptions for seed in range(20)}
    assert len(others) == 20


def test_the_number_of_kills_changes_no_other_choice() -> None:
    one = make_plan(11, "partial_fill:long", PlanOptions(kills_per_lifecycle=1))
    three = make_plan(11, "partial_fill:long", PlanOptions(kills_per_lifecycle=3))
    assert (one.variant, one.via_app, one.refusals, one.partial) == (
        three.variant,
        three.via_app,
        three.refusals,
        three.partial,
    )
    others = [d for d in one.disruptions if d.kind not in ("kill_worker", "slow_reply")]
    assert others == [d for d in three.disruptions if d.kind not in ("kill_worker", "slow_reply")]
    assert sum(d.kind == "kill_worker" for d in three.disruptions) == 3


def test_every_disruption_lands_on_a_step_after_the_reset() -> None:
    for seed in range(50):
        for key in all_keys():
            plan = make_plan(seed, key, PlanOptions())
            steps = script(plan.scenario, plan.variant).steps
            assert all(1 <= d.step < len(steps) for d in plan.disruptions)
            assert plan.worker_kills >= 2
            if plan.scenario == "callback_down":
                assert any(d.kind == "receiver_down" for d in plan.disruptions)
            if not plan.via_app:
                assert all(d.kind != "kill_app" for d in plan.disruptions)


def test_no_app_and_no_kills_when_asked() -> None:
    plans = [make_plan(s, "cancel:long", PlanOptions(0, app_share=0.0)) for s in range(30)]
    assert not any(plan.via_app for plan in plans)
    assert not any(d.kind == "kill_worker" for plan in plans for d in plan.disruptions)


def test_the_replay_command_names_seed_scenario_and_options() -> None:
    plan = make_plan(1008, "partial_fill:long", PlanOptions(3, 0.25))
    assert plan.replay() == (
        "zoneguard chaos --seed 1008 --scenario partial_fill:long --lifecycles 1 "
        "--kills-per-lifecycle 3 --app-share 0.25"
    )


def test_select_reads_names_and_sides() -> None:
    assert select([]) == all_keys()
    assert len(all_keys()) == 2 * len(SCENARIOS) == 24
    assert select(["timeout"]) == ["timeout:long", "timeout:short"]
    assert select(["cancel:short", "cancel"]) == ["cancel:short", "cancel:long"]
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        select(["nope"])
    with pytest.raises(ValueError, match="unknown side 'up'"):
        select(["cancel:up"])


@pytest.mark.parametrize("side", ["long", "short"])
def test_levels_sit_where_the_steps_need_them(side: str) -> None:
    levels = Levels(side)
    sign = levels.sign
    low, high = levels.zone
    assert low < high
    assert low <= levels.entry <= high
    assert not low <= levels.base <= high, "the lifecycle starts outside the zone"
    assert sign * (levels.stop_loss - (low if sign > 0 else high)) < 0, "stop beyond the zone"
    assert sign * (levels.take_profit - levels.base) > 0, "target beyond the start"
    offset = 1 + sign * BACKSTOP_OFFSET_PERCENT / 100
    preset_stop = levels.stop_loss * (2 - offset)
    preset_take = levels.take_profit * offset
    # past the level, short of the exchange's preset: only the worker closes there
    assert sign * (levels.past_stop - levels.stop_loss) < 0
    assert sign * (levels.past_stop - preset_stop) > 0
    assert sign * (levels.past_take - levels.take_profit) > 0
    assert sign * (levels.past_take - preset_take) < 0
    # one move past the preset: the exchange fires first
    assert sign * (levels.past_preset_stop - preset_stop) < 0
    assert sign * (levels.past_preset_take - preset_take) > 0
    # trading through the entry stays clear of the stop
    through = levels.through(levels.entry)
    assert sign * (through - levels.entry) < 0
    assert sign * (through - levels.stop_loss) > 0
    assert levels.entry % Decimal("0.1") == 0


def test_every_variant_builds_a_script_that_ends_waiting_for_the_final_callback() -> None:
    """(The ``shared`` scenario opens another signal first and closes it last, once this
    lifecycle's final callback came.)"""
    for name in SCENARIOS:
        for variant in variants(name):
            names = [s.name for s in script(name, variant).steps]
            if name == "shared":
                assert names[1] == "open_companion" and names[-1] == "close_companion"
                names = [n for n in names if not n.endswith("_companion")]
            assert names[:2] == ["reset", "submit"]
            assert names[-1] == "await_final"


def test_the_cli_refuses_an_unknown_scenario_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zoneguard.cli", "chaos", "--scenario", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "zoneguard chaos: error: Invalid value for --scenario: unknown scenario 'nope'; "
        "known: take_profit, stop_loss, timeout, cancel, partial_fill, close_refused, "
        "preset_first, callback_down, ladder, trailing, pyramid, shared"
    ]
    assert done.stdout == ""
