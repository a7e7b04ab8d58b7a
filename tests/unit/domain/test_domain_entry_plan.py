"""The plan's entry zones (issue 9's contract): ``entry_zones`` read exactly, in place of the
seed's one zone, every mistake named by its JSON path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from zoneguard.domain.entry_plan import EntryZonePlan
from zoneguard.domain.errors import PlanValidationError
from zoneguard.domain.plan import PlanDefaults, parse_plan, restore_plan

D = Decimal
DEFAULTS = PlanDefaults()
BASE: dict[str, Any] = {
    "id": "pyramid-1",
    "symbol": "BTCUSDT",
    "side": "long",
    "quantity": 0.03,
    "stop_loss": 60000,
    "take_profit": 70000,
}
ZONES = [
    {"min": 65000, "max": 65500, "size_percent": 50},
    {"min": "63000", "max": "63500", "size_percent": 30},
    {"min": 61500, "max": 62000, "size_percent": 20},
]


def refused(**changes: Any) -> dict[str, str]:
    with pytest.raises(PlanValidationError) as caught:
        parse_plan({**BASE, **changes}, DEFAULTS)
    return {error.field: error.message for error in caught.value.errors}


def test_zones_are_read_exactly_and_their_span_is_the_plans_zone() -> None:
    plan = parse_plan({**BASE, "entry_zones": ZONES}, DEFAULTS)
    assert plan.entry_zones == (
        EntryZonePlan(D(65000), D(65500), D(50)),
        EntryZonePlan(D(63000), D(63500), D(30)),
        EntryZonePlan(D(61500), D(62000), D(20)),
    )
    assert (plan.entry_zone_min, plan.entry_zone_max) == (D(61500), D(65500))
    assert plan.has_exit_legs  # the engine's guard grows with each zone's fills


def test_the_payload_carries_the_zones_instead_of_the_seed_zone_and_restores() -> None:
    plan = parse_plan({**BASE, "entry_zones": ZONES}, DEFAULTS)
    payload = plan.to_payload()
    assert "entry_zone_min" not in payload and "entry_zone_max" not in payload
    assert payload["entry_zones"] == [
        {"min": "65000", "max": "65500", "size_percent": "50"},
        {"min": "63000", "max": "63500", "size_percent": "30"},
        {"min": "61500", "max": "62000", "size_percent": "20"},
    ]
    assert restore_plan(payload) == plan


def test_a_seed_plan_keeps_its_payload() -> None:
    seed = {**BASE, "entry_zone_min": 65000, "entry_zone_max": 65500}
    payload = parse_plan(seed, DEFAULTS).to_payload()
    assert "entry_zones" not in payload
    assert payload["entry_zone_min"] == "65000"


@pytest.mark.parametrize(
    ("zones", "field", "words"),
    [
        ([], "entry_zones", "1..10 zones"),
        ("65000", "entry_zones", "must be an array"),
        ([{"min": 1, "max": 2, "size_percent": 50}] * 11, "entry_zones", "got 11"),
        ([{**ZONES[0], "size_percent": 60}, ZONES[1]], "entry_zones", "add up to 90"),
        ([{"max": 65500, "size_percent": 100}], "entry_zones[0].min", "is required"),
        ([{"min": 66000, "max": 65500, "size_percent": 100}], "entry_zones[0].min", "<="),
        ([{**ZONES[0], "size_percent": 0}, ZONES[1]], "entry_zones[0].size_percent", "> 0"),
        ([{**ZONES[0], "sz": 1}], "entry_zones[0].sz", "unknown field"),
        (["x"], "entry_zones[0]", "must be an object"),
        (
            [ZONES[0], {"min": 65400, "max": 66000, "size_percent": 50}],
            "entry_zones[1]",
            "overlaps entry_zones[0]",
        ),
    ],
)
def test_a_bad_zone_is_named_by_its_path(zones: Any, field: str, words: str) -> None:
    errors = refused(entry_zones=zones)
    assert field in errors, errors
    assert words in errors[field]


def test_zones_and_the_seed_zone_together_are_refused() -> None:
    errors = refused(entry_zones=ZONES, entry_zone_min=65000, entry_zone_max=65500)
    assert "not both" in errors["entry_zone_min"]
    assert "not both" in errors["entry_zone_max"]


def test_the_stop_is_judged_against_the_lowest_zone_widened() -> None:
    errors = refused(entry_zones=ZONES, stop_loss=61450)
    assert "lowest entry_zones min" in errors["stop_loss"]
    short = refused(side="short", entry_zones=ZONES, stop_loss=65550, take_profit=60000)
    assert "highest entry_zones max" in short["stop_loss"]
