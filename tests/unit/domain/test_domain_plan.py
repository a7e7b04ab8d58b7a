"""parse_plan: the seed's place-order payload in, an exact OrderPlan or every bad field out."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoneguard.domain.errors import FieldError, PlanValidationError
from zoneguard.domain.plan import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    OrderPlan,
    PlanDefaults,
    decimal_text,
    parse_plan,
    widen_zone,
)
from zoneguard.domain.values import Side

DEFAULTS = PlanDefaults()

# The seed's own example (step 3 of the flow and the curl test).
SEED_PAYLOAD: dict[str, Any] = {
    "id": "test-order-123",
    "symbol": "BTCUSDT",
    "side": "long",
    "entry_zone_min": 65000,
    "entry_zone_max": 65500,
    "quantity": 0.01,
    "leverage": 10,
    "stop_loss": 64000,
    "take_profit": 68000,
    "timeout_seconds": 300,
    "callback_url": "http://trading-app:8080/api/orders/callback",
    "metadata": {"strategy": "high_conviction"},
}


def payload(**changes: Any) -> dict[str, Any]:
    body = dict(SEED_PAYLOAD)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


_DROP = object()


def refused(body: Any, defaults: PlanDefaults = DEFAULTS) -> dict[str, str]:
    with pytest.raises(PlanValidationError) as caught:
        parse_plan(body, defaults)
    return {error.field: error.message for error in caught.value.errors}


def test_seed_payload_parses_exactly() -> None:
    plan = parse_plan(SEED_PAYLOAD, DEFAULTS)
    assert plan == OrderPlan(
        id="test-order-123",
        symbol="BTCUSDT",
        side=Side.LONG,
        entry_zone_min=Decimal("65000"),
        entry_zone_max=Decimal("65500"),
        quantity=Decimal("0.01"),
        leverage=10,
        stop_loss=Decimal("64000"),
        take_profit=Decimal("68000"),
        timeout_seconds=300,
        callback_url="http://trading-app:8080/api/orders/callback",
        metadata={"strategy": "high_conviction"},
    )
    assert str(plan.quantity) == "0.01"  # float went through str(), not binary expansion


def test_minimal_payload_takes_defaults() -> None:
    body = {
        "id": "test-123",
        "symbol": "btcusdt",
        "side": "SHORT",
        "entry_zone_min": "65000",
        "entry_zone_max": "65500",
        "quantity": "0.01",
    }
    plan = parse_plan(body, PlanDefaults(timeout_seconds=120, leverage=3))
    assert (plan.symbol, plan.side, plan.leverage, plan.timeout_seconds) == (
        "BTCUSDT",
        Side.SHORT,
        3,
        120,
    )
    assert plan.stop_loss is None
    assert plan.take_profit is None
    assert plan.callback_url is None
    assert dict(plan.metadata) == {}


def test_null_optional_fields_are_absent() -> None:
    plan = parse_plan(
        payload(stop_loss=None, take_profit=None, callback_url=None, metadata=None), DEFAULTS
    )
    assert (plan.stop_loss, plan.take_profit, plan.callback_url) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.1, "0.1"),
        (65000.0, "65000"),
        ("65000.50", "65000.5"),
        (" 65000 ", "65000"),
        ("6.5e4", "65000"),
        (1e-07, "0.0000001"),
        (Decimal("0.30"), "0.3"),
    ],
)
def test_numbers_become_exact_canonical_decimals(raw: object, expected: str) -> None:
    plan = parse_plan(payload(quantity=raw), DEFAULTS)
    assert decimal_text(plan.quantity) == expected
    assert plan.quantity == Decimal(expected)


@pytest.mark.parametrize(
    "raw",
    [
        True,
        False,
        "",
        "   ",
        "nan",
        "NaN",
        "Infinity",
        "-inf",
        float("nan"),
        float("inf"),
        "1_000",
        "0x10",
        "12abc",
        [1],
        {"v": 1},
        Decimal("NaN"),
        10**80,
        "1e999",
    ],
)
def test_non_numbers_are_refused(raw: object) -> None:
    errors = refused(payload(quantity=raw))
    assert list(errors) == ["quantity"]


@pytest.mark.parametrize("value", [0, -1, "-0.01", "0"])
def test_prices_and_quantity_must_be_positive(value: object) -> None:
    errors = refused(
        payload(entry_zone_min=value, entry_zone_max=value, quantity=value, stop_loss=value)
    )
    assert set(errors) == {"entry_zone_min", "entry_zone_max", "quantity", "stop_loss"}
    assert "must be > 0" in errors["quantity"]


def test_too_many_decimal_places_are_refused() -> None:
    assert "decimal places" in refused(payload(quantity="0.0000000000000000001"))["quantity"]


def test_required_fields_are_all_reported_at_once() -> None:
    errors = refused({})
    assert set(errors) == {
        "id",
        "symbol",
        "side",
        "entry_zone_min",
        "entry_zone_max",
        "quantity",
    }
    assert all(message == "is required" for message in errors.values())


def test_unknown_keys_are_refused_by_name() -> None:
    errors = refused(payload(stop_los=64000, extra=1))
    assert errors == {"stop_los": "unknown field", "extra": "unknown field"}


def test_payload_must_be_an_object() -> None:
    assert refused([SEED_PAYLOAD]) == {"payload": "must be a JSON object"}


@pytest.mark.parametrize(
    "bad_id", ["", "a" * 65, "order 1", "order/1", "ordre-é", 123, None, "id\n"]
)
def test_bad_ids_are_refused(bad_id: object) -> None:
    assert list(refused(payload(id=bad_id))) == ["id"]


@pytest.mark.parametrize("good_id", ["a", "a" * 64, "order-1.2:3_x", "ORDER"])
def test_good_ids_are_kept_verbatim(good_id: str) -> None:
    assert parse_plan(payload(id=good_id), DEFAULTS).id == good_id


@pytest.mark.parametrize("bad_symbol", ["B", "X" * 31, "BTC-USDT", "BTC_USDT", "", 5, "btcuß"])
def test_bad_symbols_are_refused(bad_symbol: object) -> None:
    assert list(refused(payload(symbol=bad_symbol))) == ["symbol"]


@pytest.mark.parametrize("bad_side", ["buy", "", "longg", 1, None, "ſhort"])
def test_bad_sides_are_refused(bad_side: object) -> None:
    assert list(refused(payload(side=bad_side))) == ["side"]


def test_zone_must_not_be_inverted() -> None:
    errors = refused(payload(entry_zone_min=65500, entry_zone_max=65000))
    assert list(errors) == ["entry_zone_min"]
    assert "entry_zone_max" in errors["entry_zone_min"]


def test_zone_of_zero_width_is_accepted() -> None:
    plan = parse_plan(payload(entry_zone_min=65000, entry_zone_max=65000), DEFAULTS)
    assert plan.entry_zone_min == plan.entry_zone_max


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("leverage", 1, True),
        ("leverage", 200, True),
        ("leverage", 0, False),
        ("leverage", 201, False),
        ("leverage", 2.5, False),
        ("leverage", "10", True),
        ("leverage", 10.0, True),
        ("leverage", True, False),
        ("timeout_seconds", 1, True),
        ("timeout_seconds", 604800, True),
        ("timeout_seconds", 0, False),
        ("timeout_seconds", 604801, False),
        ("timeout_seconds", -5, False),
    ],
)
def test_integer_ranges(field: str, value: object, ok: bool) -> None:
    if ok:
        plan = parse_plan(payload(**{field: value}), DEFAULTS)
        assert getattr(plan, field) == int(Decimal(str(value)))
        assert type(getattr(plan, field)) is int
    else:
        assert list(refused(payload(**{field: value}))) == [field]


def test_long_stop_loss_must_clear_the_widened_zone() -> None:
    low, _ = widen_zone(Decimal(65000), Decimal(65500), Decimal("0.1"))
    assert low == Decimal("64935")
    errors = refused(payload(stop_loss="64935"))
    assert list(errors) == ["stop_loss"]
    assert "below entry_zone_min" in errors["stop_loss"]
    assert "for a long" in errors["stop_loss"]
    assert parse_plan(payload(stop_loss="64934.9"), DEFAULTS).stop_loss == Decimal("64934.9")


def test_long_take_profit_must_be_above_the_widened_zone() -> None:
    # The entry may fill up to 65500 * 1.001 = 65565.5: a TP at or under it could fire at once.
    assert list(refused(payload(take_profit=65500))) == ["take_profit"]
    assert list(refused(payload(take_profit="65565.5"))) == ["take_profit"]
    assert parse_plan(payload(take_profit="65565.6"), DEFAULTS).take_profit == Decimal("65565.6")


def test_short_exits_are_mirrored() -> None:
    short = {"side": "short", "stop_loss": 66000, "take_profit": 64000}
    plan = parse_plan(payload(**short), DEFAULTS)
    assert (plan.stop_loss, plan.take_profit) == (Decimal(66000), Decimal(64000))
    _, high = widen_zone(Decimal(65000), Decimal(65500), Decimal("0.1"))
    assert high == Decimal("65565.5")
    assert list(refused(payload(**{**short, "stop_loss": "65565.5"}))) == ["stop_loss"]
    assert parse_plan(payload(**{**short, "stop_loss": "65565.6"}), DEFAULTS)
    assert list(refused(payload(**{**short, "take_profit": 65000}))) == ["take_profit"]
    low, _ = widen_zone(Decimal(65000), Decimal(65500), Decimal("0.1"))
    assert list(refused(payload(**{**short, "take_profit": str(low)}))) == ["take_profit"]


def test_long_exits_on_the_wrong_side_are_both_reported() -> None:
    errors = refused(payload(stop_loss=68000, take_profit=64000))
    assert set(errors) == {"stop_loss", "take_profit"}


def test_stop_loss_equal_to_take_profit_is_refused() -> None:
    errors = refused(payload(stop_loss=66000, take_profit=66000))
    assert "must differ from take_profit" in errors["stop_loss"]


def test_zero_tolerance_makes_the_zone_edge_the_limit() -> None:
    defaults = PlanDefaults(tolerance_percent=Decimal(0))
    plan = parse_plan(payload(stop_loss="64999.9"), defaults)
    assert plan.stop_loss == Decimal("64999.9")
    assert list(refused(payload(stop_loss="65000"), defaults)) == ["stop_loss"]


@pytest.mark.parametrize(
    "url",
    [
        "http://trading-app:8080/api/orders/callback",
        "https://example.org/cb?x=1",
        "HTTP://127.0.0.1/",
    ],
)
def test_good_callback_urls(url: str) -> None:
    assert parse_plan(payload(callback_url=url), DEFAULTS).callback_url == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://host/x",
        "http://",
        "http:///path",
        "trading-app:8080/cb",
        "http://host:99999/",
        "http://host/a b",
        "http://host/\n",
        5,
        "http://" + "a" * 3000,
    ],
)
def test_bad_callback_urls(url: object) -> None:
    assert list(refused(payload(callback_url=url))) == ["callback_url"]


def test_metadata_is_a_private_read_only_copy() -> None:
    meta: dict[str, Any] = {"strategy": "x", "levels": [1, 2], "nested": {"a": 1}}
    plan = parse_plan(payload(metadata=meta), DEFAULTS)
    meta["strategy"] = "changed"
    meta["levels"].append(3)
    assert plan.metadata["strategy"] == "x"
    assert plan.metadata["levels"] == (1, 2)
    with pytest.raises(TypeError):
        plan.metadata["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.metadata["nested"]["a"] = 2


@pytest.mark.parametrize(
    "meta", [[1, 2], "text", 3, {"x": float("nan")}, {"x": {1, 2}}, {1: "int key"}]
)
def test_bad_metadata_is_refused(meta: object) -> None:
    assert list(refused(payload(metadata=meta))) == ["metadata"]


@pytest.mark.parametrize(
    ("depth", "ok"),
    [(MAX_METADATA_DEPTH, True), (MAX_METADATA_DEPTH + 1, False), (900, False), (5000, False)],
)
def test_metadata_nesting_limit(depth: int, ok: bool) -> None:
    nested: dict[str, Any] = {}
    innermost = nested
    for _ in range(depth - 1):
        innermost["k"] = {}
        innermost = innermost["k"]
    if ok:
        assert parse_plan(payload(metadata=nested), DEFAULTS).to_payload()["metadata"] == nested
    else:
        assert "nest" in refused(payload(metadata=nested))["metadata"]


def test_metadata_size_limit() -> None:
    overhead = len(json.dumps({"k": ""}, separators=(",", ":")))
    just_fits = {"k": "x" * (MAX_METADATA_BYTES - overhead)}
    assert parse_plan(payload(metadata=just_fits), DEFAULTS).metadata["k"] == just_fits["k"]
    too_big = {"k": "x" * (MAX_METADATA_BYTES - overhead + 1)}
    assert "bytes" in refused(payload(metadata=too_big))["metadata"]


def test_error_text_names_each_field() -> None:
    with pytest.raises(PlanValidationError) as caught:
        parse_plan(payload(stop_loss=65000, quantity=0), DEFAULTS)
    text = str(caught.value)
    assert text.startswith("quantity: must be > 0")
    assert "stop_loss: must be below entry_zone_min" in text
    assert caught.value.fields == ("quantity", "stop_loss")
    assert str(FieldError("x", "y")) == "x: y"


def test_payload_round_trip_is_stable() -> None:
    plan = parse_plan(payload(metadata={"a": [1, {"b": None}]}), DEFAULTS)
    again = parse_plan(plan.to_payload(), DEFAULTS)
    assert again == plan
    assert again.to_payload() == plan.to_payload()
    assert json.loads(json.dumps(plan.to_payload())) == plan.to_payload()
    assert plan.to_payload()["entry_zone_min"] == "65000"
    assert plan.to_payload()["quantity"] == "0.01"
    assert plan.to_payload()["side"] == "long"


def test_equal_values_in_different_spellings_give_equal_payloads() -> None:
    a = parse_plan(payload(entry_zone_min=65000, quantity=0.01), DEFAULTS)
    b = parse_plan(payload(entry_zone_min="65000.000", quantity="1e-2"), DEFAULTS)
    assert a.to_payload() == b.to_payload()


def test_defaults_are_checked() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        PlanDefaults(tolerance_percent=Decimal(-1))
    with pytest.raises(ValueError, match="leverage"):
        PlanDefaults(leverage=0)
    with pytest.raises(ValueError, match="timeout"):
        PlanDefaults(timeout_seconds=0)


def test_widen_zone_is_exact() -> None:
    assert widen_zone(Decimal("0.3"), Decimal("0.7"), Decimal("0.1")) == (
        Decimal("0.2997"),
        Decimal("0.7007"),
    )
    assert widen_zone(Decimal(100), Decimal(200), Decimal(0)) == (Decimal(100), Decimal(200))


_prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**7), places=4)


@given(
    side=st.sampled_from(["long", "short"]),
    a=_prices,
    b=_prices,
    sl=st.none() | _prices,
    tp=st.none() | _prices,
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
    as_text=st.booleans(),
)
def test_accepted_plans_obey_the_rules_and_round_trip(
    side: str,
    a: Decimal,
    b: Decimal,
    sl: Decimal | None,
    tp: Decimal | None,
    quantity: Decimal,
    as_text: bool,
) -> None:
    def number(value: Decimal | None) -> object:
        if value is None:
            return None
        return str(value) if as_text else float(value)

    body = payload(
        side=side,
        entry_zone_min=number(a),
        entry_zone_max=number(b),
        quantity=number(quantity),
        stop_loss=number(sl),
        take_profit=number(tp),
    )
    # An independent oracle of the rules, from the raw numbers.
    expected: set[str] = set()
    if a > b:
        expected.add("entry_zone_min")
    else:
        low, high = widen_zone(a, b, DEFAULTS.tolerance_percent)
        if side == "long":
            if sl is not None and not sl < low:
                expected.add("stop_loss")
            if tp is not None and not tp > b:
                expected.add("take_profit")
        else:
            if sl is not None and not sl > high:
                expected.add("stop_loss")
            if tp is not None and not tp < a:
                expected.add("take_profit")
    if sl is not None and sl == tp:
        expected.add("stop_loss")
    if expected:
        with pytest.raises(PlanValidationError) as caught:
            parse_plan(body, DEFAULTS)
        assert set(caught.value.fields) == expected
        return
    plan = parse_plan(body, DEFAULTS)
    assert plan.side == Side(side)
    assert parse_plan(plan.to_payload(), DEFAULTS) == plan
    # <= 15 significant digits: a float's shortest repr gives back the exact decimal.
    assert (plan.entry_zone_min, plan.entry_zone_max, plan.quantity) == (a, b, quantity)
    assert (plan.stop_loss, plan.take_profit) == (sl, tp)
