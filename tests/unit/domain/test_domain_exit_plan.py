"""The plan's exit legs (issue 9's contract): ``take_profits``, ``break_even`` and
``trailing_stop`` read exactly, every mistake named by its JSON path, and a seed plan's
payload left exactly as it was."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from zoneguard.domain.errors import PlanValidationError
from zoneguard.domain.exit_plan import BreakEvenPlan, TakeProfitTarget, TrailingPlan
from zoneguard.domain.plan import PlanDefaults, parse_plan, restore_plan

D = Decimal
DEFAULTS = PlanDefaults()
BASE: dict[str, Any] = {
    "id": "ladder-1",
    "symbol": "BTCUSDT",
    "side": "long",
    "entry_zone_min": 65000,
    "entry_zone_max": 65500,
    "quantity": 0.01,
    "stop_loss": 64000,
}
LADDER = [{"price": 66000, "size_percent": 50}, {"price": 67000, "size_percent": 50}]


def refused(**changes: Any) -> dict[str, str]:
    with pytest.raises(PlanValidationError) as caught:
        parse_plan({**BASE, **changes}, DEFAULTS)
    return {error.field: error.message for error in caught.value.errors}


def test_a_ladder_with_break_even_and_a_trailing_stop_is_read_exactly() -> None:
    plan = parse_plan(
        {
            **BASE,
            "take_profits": [
                {"price": "66000.5", "size_percent": 33.33},
                {"price": 67000, "size_percent": "33.33"},
                {"price": 68000, "size_percent": 33.34},
            ],
            "break_even": {"after_take_profit": 1, "offset_percent": 0.1},
            "trailing_stop": {"activation_percent": 2, "callback_percent": 0.5},
        },
        DEFAULTS,
    )
    assert plan.take_profits == (
        TakeProfitTarget(D("66000.5"), D("33.33")),
        TakeProfitTarget(D(67000), D("33.33")),
        TakeProfitTarget(D(68000), D("33.34")),
    )
    assert plan.break_even == BreakEvenPlan(1, None, D("0.1"))
    assert plan.trailing_stop == TrailingPlan(D("0.5"), None, D(2))
    assert plan.has_exit_legs and plan.final_take_profit == D(68000)
    assert restore_plan(plan.to_payload()) == plan, "the journal gives back the same plan"


def test_a_seed_plan_keeps_the_seeds_payload_and_one_target_of_100_percent() -> None:
    plan = parse_plan({**BASE, "take_profit": 68000}, DEFAULTS)
    assert not plan.has_exit_legs
    assert "take_profits" not in plan.to_payload()
    assert plan.targets == (TakeProfitTarget(D(68000), D(100)),)


def test_a_short_ladder_falls() -> None:
    short = {**BASE, "side": "short", "stop_loss": 66000}
    plan = parse_plan(
        {
            **short,
            "take_profits": [
                {"price": 64000, "size_percent": 50},
                {"price": 63000, "size_percent": 50},
            ],
        },
        DEFAULTS,
    )
    assert [t.price for t in plan.take_profits] == [D(64000), D(63000)]
    with pytest.raises(PlanValidationError) as caught:
        parse_plan({**short, "take_profits": LADDER}, DEFAULTS)
    fields = {error.field for error in caught.value.errors}
    assert {"take_profits[0].price", "take_profits[1].price"} <= fields


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"take_profits": "66000"}, "take_profits", "must be an array"),
        ({"take_profits": []}, "take_profits", "1..10"),
        ({"take_profits": [LADDER[0]] * 11}, "take_profits", "1..10"),
        ({"take_profits": [LADDER[0], 5]}, "take_profits[1]", "must be an object"),
        ({"take_profits": [{"price": 66000}]}, "take_profits[0].size_percent", "required"),
        ({"take_profits": [{"price": -1, "size_percent": 100}]}, "take_profits[0].price", "> 0"),
        (
            {"take_profits": [{"price": 66000, "size_percent": 100, "qty": 1}]},
            "take_profits[0].qty",
            "unknown field",
        ),
        (
            {"take_profits": [{"price": 66000, "size_percent": 101}]},
            "take_profits[0].size_percent",
            "at most 100",
        ),
        (
            {"take_profits": [{**LADDER[0], "size_percent": 60}, LADDER[1]]},
            "take_profits",
            "add up to 110, not 100",
        ),
        (
            {"take_profits": [LADDER[1], LADDER[0]]},
            "take_profits[1].price",
            "above take_profits[0].price",
        ),
        (
            {"take_profits": [{"price": 65550, "size_percent": 100}]},
            "take_profits[0].price",
            "above entry_zone_max widened",
        ),
        ({"take_profits": LADDER, "take_profit": 68000}, "take_profits", "not both"),
        ({"take_profits": LADDER, "break_even": {}}, "break_even", "one of"),
        (
            {"take_profits": LADDER, "break_even": {"after_take_profit": 2}},
            "break_even.after_take_profit",
            "must be 1..1",
        ),
        (
            {"take_profit": 68000, "break_even": {"after_take_profit": 1}},
            "break_even.after_take_profit",
            "ladder of 2 or more",
        ),
        (
            {"break_even": {"after_take_profit": 1.5}, "take_profits": LADDER},
            "break_even.after_take_profit",
            "whole number",
        ),
        ({"break_even": {"trigger_percent": 100}}, "break_even.trigger_percent", "below 100"),
        (
            {"break_even": {"trigger_percent": 1, "offset_percent": -0.1}},
            "break_even.offset_percent",
            ">= 0",
        ),
        ({"trailing_stop": {"callback_percent": 1}}, "trailing_stop", "one of"),
        (
            {"trailing_stop": {"activation_percent": 1}},
            "trailing_stop.callback_percent",
            "required",
        ),
        (
            {"trailing_stop": {"activation_price": 65550, "callback_percent": 1}},
            "trailing_stop.activation_price",
            "above entry_zone_max widened",
        ),
        ({"trailing_stop": [1]}, "trailing_stop", "must be an object"),
    ],
)
def test_each_mistake_is_named_by_its_path(changes: dict[str, Any], field: str, words: str) -> None:
    errors = refused(**changes)
    assert field in errors, errors
    assert words in errors[field]


def test_break_even_by_a_move_needs_no_ladder_and_an_offset_may_be_zero() -> None:
    plan = parse_plan(
        {**BASE, "take_profit": 68000, "break_even": {"trigger_percent": 1.5}}, DEFAULTS
    )
    assert plan.break_even == BreakEvenPlan(None, D("1.5"), D(0))
    assert plan.has_exit_legs
