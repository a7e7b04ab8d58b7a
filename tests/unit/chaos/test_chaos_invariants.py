"""The chaos harness's checks on hand-made evidence: a clean lifecycle passes every check,
and each check catches the failure it exists for (and only the checks concerned fire)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from zoneguard.chaos.invariants import (
    CHECKS,
    Evidence,
    check_all,
    check_app_matches,
    check_callbacks_match_exchange,
    check_crossed_closed,
    check_no_flip,
    check_nothing_open,
    check_one_entry,
    check_one_final_callback,
    check_outcome,
    check_partial_closes,
)

ORDER_ID = "cz-1-take_profit-long-g1"


def order(
    order_id: str,
    side: int,
    *,
    size: int = 10,
    deal: int = 10,
    price: str = "64512.3",
    state: int = 4,
    origin: str = "limit",
    cid: str = "",
    at: int = 1,
) -> dict[str, Any]:
    """A row of ``/_sim/state``'s ``orders``."""
    return {
        "order_id": order_id,
        "client_order_id": cid,
        "symbol": "BTCUSDT",
        "side": side,
        "size": str(size),
        "deal_size": str(deal),
        "deal_avg_price": price if deal else "0",
        "price": price,
        "state": state,
        "origin": origin,
        "create_time": at,
    }


ENTRY = order("101", 1, price="64512.3", cid="zgentry1", at=1)
CLOSE = order("102", 3, price="65715", origin="market", cid="zgclose1", at=2)
FLAT = {"symbol": "BTCUSDT", "position_side": "long", "current_amount": "0"}


def callback(status: str, event: str, **fields: Any) -> dict[str, Any]:
    return {"order_id": ORDER_ID, "status": status, "event_id": event, **fields}


PLACED = callback("placed", "e1", exchange_order_id="101", entry_price=64512.3)
FILLED = callback("filled", "e2", exchange_order_id="101", filled_contracts=10)
CLOSED = callback(
    "closed",
    "e3",
    position_id=ORDER_ID,
    close_order_id="102",
    reason="take_profit",
    close_price=65715.0,
    closed_by="worker",
)
APP_ORDER = {
    "id": ORDER_ID,
    "status": "closed",
    "exchange_order_id": "101",
    "entry_price": "64512.3",
    "filled_contracts": "10",
    "close_order_id": "102",
    "close_price": "65715",
}


def clean(**changes: Any) -> Evidence:
    """A long that entered, crossed its take-profit and was closed by the worker."""
    base = Evidence(
        order_id=ORDER_ID,
        side="long",
        contracts=10,
        orders=[ENTRY, CLOSE],
        position=FLAT,
        plan_orders=[],
        callbacks=[PLACED, FILLED, CLOSED],
        crossed=["take_profit"],
        via_app=True,
        app_order=APP_ORDER,
    )
    return replace(base, **changes)


def fired(evidence: Evidence) -> set[str]:
    return {finding.check for finding in check_all(evidence)}


def test_a_clean_lifecycle_passes_every_check() -> None:
    assert check_all(clean()) == []


def test_a_timeout_without_entry_and_a_cancel_pass() -> None:
    timeout = callback("timeout", "t1", reason="Entry zone not reached within timeout")
    assert check_all(clean(orders=[], callbacks=[timeout], crossed=[], via_app=False)) == []
    unfilled = order("201", 1, deal=0, cid="zgentry1")
    cancelled = callback("cancelled", "c1")
    placed = callback("placed", "p1", exchange_order_id="201")
    evidence = clean(
        orders=[unfilled],
        callbacks=[placed, cancelled],
        crossed=[],
        cancel_requested=True,
        via_app=False,
    )
    assert check_all(evidence) == []


def test_a_re_priced_entry_after_an_unfilled_cancel_is_one_entry() -> None:
    cancelled_unfilled = order("100", 1, deal=0, cid="zgentry1", at=0)
    entry = {**ENTRY, "client_order_id": "zgentry2"}
    placed_first = callback("placed", "e0", exchange_order_id="100")
    evidence = clean(orders=[cancelled_unfilled, entry, CLOSE])
    evidence.callbacks = [placed_first, *evidence.callbacks]
    assert check_one_entry(evidence) == []
    assert check_all(evidence) == []


@pytest.mark.parametrize(
    ("orders", "says"),
    [
        ([ENTRY, order("103", 1, cid="zgentry2", at=3), CLOSE], "2 entry orders filled"),
        ([ENTRY, order("103", 1, deal=0, cid="zgentry1", at=3), CLOSE], "used by two entry"),
        (
            [
                order("100", 1, deal=0, state=2, cid="zgentry1"),
                order("103", 1, deal=0, state=2, cid="zgentry2", at=3),
            ],
            "2 entry orders live at once",
        ),
        ([ENTRY, order("103", 4, deal=0), CLOSE], "opening order(s) on the other side"),
        ([order("101", 1, size=12, deal=12), CLOSE], "12 contracts entered for a signal of 10"),
    ],
)
def test_one_entry_catches_a_duplicate_order(orders: list[dict[str, Any]], says: str) -> None:
    problems = check_one_entry(clean(orders=orders))
    assert any(says in p for p in problems), problems


def test_one_entry_catches_an_entry_after_a_filled_one() -> None:
    second = order("103", 1, deal=0, cid="zgentry2", at=3)
    problems = check_one_entry(clean(orders=[ENTRY, second, CLOSE]))
    assert any("followed it" in p for p in problems), problems


def test_no_flip_catches_a_close_bigger_than_the_position() -> None:
    big = order("102", 3, size=20, deal=20, price="65715", origin="market", cid="zgclose1")
    assert check_no_flip(clean(orders=[ENTRY, big]))
    assert "no_flip" in fired(clean(orders=[ENTRY, big]))
    twice = [ENTRY, CLOSE, order("104", 3, price="65715", origin="take_profit", at=5)]
    assert check_no_flip(clean(orders=twice)), "a preset closing what the worker closed"


def test_crossed_closed_catches_a_stop_that_did_not_close() -> None:
    still_open = clean(
        orders=[ENTRY],
        position={**FLAT, "current_amount": "10"},
        callbacks=[PLACED, FILLED],
        crossed=["stop_loss"],
    )
    problems = check_crossed_closed(still_open)
    assert any("0 of 10 contracts closed" in p for p in problems), problems
    assert any("no closed callback" in p for p in problems), problems


def test_crossed_closed_catches_a_close_reported_with_the_wrong_level() -> None:
    problems = check_crossed_closed(clean(crossed=["stop_loss", "take_profit"]))
    assert problems == [
        "stop_loss crossed first, but closed was reported with reason 'take_profit'"
    ]


def test_crossed_closed_catches_a_partly_closed_position() -> None:
    part = order("102", 3, deal=6, price="65715", origin="market", cid="zgclose1")
    assert check_crossed_closed(clean(orders=[ENTRY, part]))


def test_nothing_open_catches_a_position_an_order_and_a_plan_left() -> None:
    assert check_nothing_open(clean(position={**FLAT, "current_amount": "3"}))
    resting = order("105", 1, deal=0, state=2, cid="zgentry2", at=4)
    assert any(
        "still working" in p for p in check_nothing_open(clean(orders=[*clean().orders, resting]))
    )
    plan = {"order_id": "9", "symbol": "BTCUSDT", "side": 3, "state": 1}
    assert any("plan" in p for p in check_nothing_open(clean(plan_orders=[plan])))
    spent = {**plan, "state": 2}
    other_side = {**plan, "side": 2}
    assert check_nothing_open(clean(plan_orders=[spent, other_side])) == []


def test_one_final_callback_catches_none_two_and_one_too_early() -> None:
    assert check_one_final_callback(clean(callbacks=[PLACED, FILLED]))
    again = callback("closed", "e4", reason="take_profit", close_order_id="102", closed_by="worker")
    assert any(
        "2 final" in p
        for p in check_one_final_callback(clean(callbacks=[*clean().callbacks, again]))
    )
    late = callback("close_failed", "e5")
    problems = check_one_final_callback(clean(callbacks=[PLACED, FILLED, CLOSED, late]))
    assert any("after the final" in p for p in problems), problems


def test_one_final_callback_accepts_a_repeat_and_catches_a_changed_repeat() -> None:
    assert check_one_final_callback(clean(callbacks=[PLACED, FILLED, CLOSED, CLOSED])) == []
    changed = {**CLOSED, "close_price": 1.0}
    problems = check_one_final_callback(clean(callbacks=[PLACED, FILLED, CLOSED, changed]))
    assert problems == ["event e3 came back with another body"]


def test_one_final_callback_catches_one_fact_under_two_event_ids() -> None:
    filled_again = {**FILLED, "event_id": "e2b"}
    assert check_one_final_callback(clean(callbacks=[PLACED, FILLED, filled_again, CLOSED]))
    placed_again = {**PLACED, "event_id": "e1b"}
    assert check_one_final_callback(clean(callbacks=[PLACED, placed_again, FILLED, CLOSED]))


def test_outcome_catches_a_wrong_final_status() -> None:
    timeout = callback("timeout", "t1")
    problems = check_outcome(clean(callbacks=[PLACED, FILLED, timeout]))
    assert problems == ["ended 'timeout', expected 'closed' (10 contracts were entered)"]
    failed = callback("failed", "f1", error="boom", error_code=40027)
    assert check_outcome(clean(callbacks=[failed])) == ["failed: boom (code 40027)"]
    cancelled_then = clean(orders=[], callbacks=[callback("timeout", "t")], cancel_requested=True)
    assert check_outcome(cancelled_then) == [
        "ended 'timeout', expected 'cancelled' (nothing was entered)"
    ]


def test_callbacks_match_exchange_catches_wrong_ids_sizes_prices_and_closer() -> None:
    wrong_id = {**PLACED, "exchange_order_id": "999"}
    assert check_callbacks_match_exchange(clean(callbacks=[wrong_id, FILLED, CLOSED]))
    wrong_size = {**FILLED, "filled_contracts": 7}
    assert check_callbacks_match_exchange(clean(callbacks=[PLACED, wrong_size, CLOSED]))
    wrong_price = {**CLOSED, "close_price": 65000.0}
    problems = check_callbacks_match_exchange(clean(callbacks=[PLACED, FILLED, wrong_price]))
    assert any("averaged 65715" in p for p in problems), problems
    by_exchange = {**CLOSED, "closed_by": "exchange"}
    problems = check_callbacks_match_exchange(clean(callbacks=[PLACED, FILLED, by_exchange]))
    assert any("no preset" in p for p in problems), problems
    unknown_close = {**CLOSED, "close_order_id": "555"}
    assert check_callbacks_match_exchange(clean(callbacks=[PLACED, FILLED, unknown_close]))


def test_a_preset_close_reported_by_the_exchange_passes() -> None:
    preset = order("102", 3, price="65781.4", origin="take_profit", at=2)
    closed = {**CLOSED, "closed_by": "exchange", "close_price": 65781.4}
    app = {**APP_ORDER, "close_price": "65781.4"}
    assert (
        check_all(clean(orders=[ENTRY, preset], callbacks=[PLACED, FILLED, closed], app_order=app))
        == []
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "monitoring"),
        ("exchange_order_id", "999"),
        ("entry_price", "64000"),
        ("filled_contracts", "9"),
        ("close_price", "1"),
        ("close_order_id", "555"),
    ],
)
def test_app_matches_catches_each_field_that_drifts(field: str, value: str) -> None:
    assert check_app_matches(clean(app_order={**APP_ORDER, field: value})), field
    assert fired(clean(app_order={**APP_ORDER, field: value})) == {"app_matches"}


def test_app_matches_catches_an_unknown_order_and_is_quiet_without_the_app() -> None:
    assert check_app_matches(clean(app_order=None)) == ["the app does not know the order"]
    assert check_app_matches(clean(app_order=None, via_app=False)) == []


def test_every_check_is_listed_once() -> None:
    checks: list[Callable[[Evidence], list[str]]] = [check for _name, check in CHECKS]
    assert len(set(checks)) == len(CHECKS) == 9


# -- a ladder (issue 9): TP1 closed half on its own, the final close the rest

TP1 = order("103", 3, size=5, deal=5, price="65400", origin="limit", cid="zgtp1", at=2)
REST = order("104", 3, size=5, deal=5, price="66000", origin="market", cid="zgclose1", at=3)
PART = callback(
    "partially_closed",
    "e4",
    take_profit_index=1,
    closed_quantity=5,
    remaining_quantity=5,
    close_price=65400.0,
)
LADDER_CLOSED = {**CLOSED, "close_order_id": "104", "close_price": 66000.0, "filled_contracts": 5}


def ladder(**changes: Any) -> Evidence:
    base: dict[str, Any] = {
        "orders": [ENTRY, TP1, REST],
        "callbacks": [PLACED, FILLED, PART, LADDER_CLOSED],
        "rung_ids": {1: frozenset({"zgtp1"}), 2: frozenset({"zgtp2"})},
        "via_app": False,
    }
    return clean(**{**base, **changes})


def test_a_ladder_whose_parts_add_up_passes() -> None:
    assert check_all(ladder()) == []


def test_a_part_that_misreports_its_rung_is_caught() -> None:
    wrong_size = {**PART, "closed_quantity": 4}
    assert fired(ladder(callbacks=[PLACED, FILLED, wrong_size, LADDER_CLOSED])) == {
        "partial_closes"
    }
    wrong_price = {**PART, "close_price": 65300.0}
    assert check_partial_closes(ladder(callbacks=[PLACED, FILLED, wrong_price, LADDER_CLOSED]))


def test_parts_and_closed_that_do_not_add_up_are_caught() -> None:
    short = {**LADDER_CLOSED, "filled_contracts": 4}
    problems = check_partial_closes(ladder(callbacks=[PLACED, FILLED, PART, short]))
    assert problems == ["partial closes and closed report 9 contracts; 10 were entered"]


def test_a_rung_reported_twice_under_two_events_is_caught() -> None:
    again = {**PART, "event_id": "e5"}
    problems = check_partial_closes(ladder(callbacks=[PLACED, FILLED, PART, again, LADDER_CLOSED]))
    assert any("reported twice" in p for p in problems), problems


def test_closed_is_held_to_the_closes_the_parts_did_not_report() -> None:
    """Without the rung's own report, its fill counts in the final close's average."""
    assert "callbacks_match_exchange" in fired(ladder(callbacks=[PLACED, FILLED, LADDER_CLOSED]))


# -- several entry zones (the pyramid scenario) ------------------------------------------------

ZONE_1 = order("101", 1, size=5, deal=5, price="64600", cid="zgentry1", at=1)
ZONE_2 = order("103", 1, size=5, deal=5, price="64100", cid="zgzone2", at=2)
PYRAMID_FILLS = [
    callback("placed", "z1", exchange_order_id="101"),
    callback(
        "filled",
        "z2",
        exchange_order_id="101",
        entry_index=1,
        zone_filled_contracts=5,
        filled_contracts=5,
    ),
    callback("placed", "z3", exchange_order_id="103"),
    callback(
        "filled",
        "z4",
        exchange_order_id="103",
        entry_index=2,
        zone_filled_contracts=5,
        filled_contracts=10,
    ),
    CLOSED,
]


def pyramid(**changes: Any) -> Evidence:
    """A long entered in two zones of five contracts, closed whole at its target."""
    zones = [(Decimal("64500"), Decimal("64700")), (Decimal("64000"), Decimal("64200"))]
    app = {**APP_ORDER, "entry_price": "64350", "filled_contracts": "10"}
    base = clean(orders=[ZONE_1, ZONE_2, CLOSE], zones=zones, app_order=app)
    base.callbacks = list(PYRAMID_FILLS)
    return replace(base, **changes)


def test_a_clean_pyramid_passes_every_check() -> None:
    assert check_all(pyramid()) == []


def test_two_entries_filled_in_one_zone_are_a_finding() -> None:
    double = order("104", 1, size=5, deal=5, price="64110", cid="zgzone2b", at=3)
    problems = check_one_entry(pyramid(orders=[ZONE_1, ZONE_2, double, CLOSE]))
    assert any("filled for zone 2" in p for p in problems), problems


def test_a_zone_filled_twice_reported_is_a_finding() -> None:
    evidence = pyramid()
    again = {**PYRAMID_FILLS[3], "event_id": "z5"}
    evidence.callbacks = [*PYRAMID_FILLS[:4], again, CLOSED]
    assert any("filled reported" in p for p in check_one_final_callback(evidence))


def test_a_zone_fill_or_a_position_the_exchange_does_not_show_is_a_finding() -> None:
    evidence = pyramid()
    wrong = {**PYRAMID_FILLS[3], "zone_filled_contracts": 4, "filled_contracts": 9}
    evidence.callbacks = [*PYRAMID_FILLS[:3], wrong, CLOSED]
    problems = check_callbacks_match_exchange(evidence)
    assert any("filled of zone 2 reports 4" in p for p in problems), problems
    assert any("position of 9" in p for p in problems), problems


def test_the_apps_totals_must_be_the_whole_position() -> None:
    app = {**APP_ORDER, "entry_price": "64600", "filled_contracts": "5"}
    problems = check_app_matches(pyramid(app_order=app))
    assert any("averaged" in p for p in problems), problems
    assert any("filled_contracts 5" in p for p in problems), problems
