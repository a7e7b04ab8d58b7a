"""The order plan's JSON Schema is a superset of what parse_plan accepts: every payload the
parser takes matches the schema, so a payload that breaks the schema is always refused. That
is what makes an API fuzzer's "schema-violating data must be rejected" hold; it is checked here
with the validator schemathesis itself uses (jsonschema-rs, not Python's ``re``)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoneguard.domain.errors import PlanValidationError
from zoneguard.domain.plan import KNOWN_FIELDS, PlanDefaults, parse_plan, unknown_field_name
from zoneguard.domain.plan_schema import place_order_schema

VALIDATOR = jsonschema_rs.Draft202012Validator(place_order_schema())
DEFAULTS = PlanDefaults()

VALID: dict[str, Any] = {
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
    "callback_url": "http://app:8080/api/orders/callback",
    "metadata": {"strategy": "x"},
}

NUMBER_TEXT = st.text(alphabet="0123456789.eE+- \t\n\x1c\x85\u00a0\u0663", max_size=14)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    NUMBER_TEXT,
    st.text(max_size=20),
    st.sampled_from(["LONG", "Short", "lOnG", "HTTP://x", "https://", "ftp://x", "1e3", "+5"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def payloads() -> st.SearchStrategy[dict[str, Any]]:
    """The seed's payload with any field replaced by an odd value, dropped, or an extra key."""
    fields = {name: st.one_of(st.just(value), ODD, st.just(...)) for name, value in VALID.items()}
    extra = st.dictionaries(st.text(max_size=6), st.integers(), max_size=1)
    return st.builds(
        lambda chosen, more: {
            **{k: v for k, v in chosen.items() if v is not ...},
            **{k: v for k, v in more.items() if k not in KNOWN_FIELDS},
        },
        st.fixed_dictionaries(fields),
        extra,
    )


@settings(max_examples=500)
@given(payloads())
def test_what_the_parser_accepts_matches_the_schema(payload: dict[str, Any]) -> None:
    try:
        parse_plan(payload, DEFAULTS)
    except PlanValidationError:
        return
    assert VALIDATOR.is_valid(payload), payload


def test_the_seeds_payload_matches_and_typical_mistakes_do_not() -> None:
    assert VALIDATOR.is_valid(VALID)
    for wrong in ({"side": "buy"}, {"quantity": "-1"}, {"stop_los": 1}, {"leverage": 2.5}):
        assert not VALIDATOR.is_valid({**VALID, **wrong}), wrong


def test_odd_unknown_keys_are_named_so_a_reader_sees_them() -> None:
    assert unknown_field_name("stop_los") == "stop_los"
    assert unknown_field_name("") == "''"
    assert unknown_field_name("\t") == "'\\t'"
    assert unknown_field_name("x" * 100) == repr("x" * 64)
    with pytest.raises(PlanValidationError) as refused:
        parse_plan({**VALID, "": 1}, DEFAULTS)
    assert refused.value.fields == ("''",)


def test_numbers_are_read_in_ascii_digits_only() -> None:
    for text in ("\u0663", "6500\u0660", " 65000\u00a0"):
        with pytest.raises(PlanValidationError) as refused:
            parse_plan({**VALID, "entry_zone_min": text}, DEFAULTS)
        assert refused.value.fields == ("entry_zone_min",), text
    assert parse_plan({**VALID, "entry_zone_min": " 65000\t"}, DEFAULTS).entry_zone_min == 65000


def number_forms(low: int, high: int) -> st.SearchStrategy[Any]:
    """A number in ``low..high`` as a JSON number or a decimal string."""
    whole = st.integers(low, high)
    return st.one_of(whole, whole.map(str), whole.map(lambda n: n + 0.5), whole.map(float))


def well_formed_zones() -> st.SearchStrategy[list[dict[str, Any]]]:
    """Two zones between the stop (64000) and the target (68000), or one spanning both."""
    upper = st.tuples(number_forms(65200, 65300), number_forms(65400, 65500))
    lower = st.tuples(number_forms(64600, 64700), number_forms(64800, 65000))
    share = st.integers(1, 99)
    two = st.builds(
        lambda a, b, pct: [
            {"min": a[0], "max": a[1], "size_percent": pct},
            {"min": b[0], "max": b[1], "size_percent": str(100 - pct)},
        ],
        upper,
        lower,
        share,
    )
    one = st.builds(lambda a, b: [{"min": b[0], "max": a[1], "size_percent": 100}], upper, lower)
    return st.one_of(two, one)


def entry_zones() -> st.SearchStrategy[Any]:
    """Well-formed zones, one of their fields made odd or dropped, an extra key, or no list."""

    def spoil(zones: list[dict[str, Any]], index: int, key: str, value: Any) -> Any:
        spoilt = [dict(zone) for zone in zones]
        zone = spoilt[index % len(spoilt)]
        if value is ...:
            zone.pop(key, None)
        else:
            zone[key] = value
        return spoilt

    keys = st.sampled_from(["min", "max", "size_percent", "extra"])
    spoilt = st.builds(
        spoil, well_formed_zones(), st.integers(0, 1), keys, st.one_of(ODD, st.just(...))
    )
    return st.one_of(well_formed_zones(), spoilt, ODD)


def zoned_payloads() -> st.SearchStrategy[dict[str, Any]]:
    """The seed's payload with ``entry_zones``, alone or beside the seed's zone (or a null
    part of it)."""
    seed_zone = st.sampled_from(
        [{}, {"entry_zone_min": None}, {"entry_zone_min": 65000}, {"entry_zone_max": None}]
    )
    return st.builds(
        lambda chosen, kept: {
            **{k: v for k, v in VALID.items() if not k.startswith("entry_zone_")},
            **kept,
            "entry_zones": chosen,
        },
        entry_zones(),
        seed_zone,
    )


@settings(max_examples=500)
@given(zoned_payloads())
def test_what_the_parser_accepts_with_entry_zones_matches_the_schema(
    payload: dict[str, Any],
) -> None:
    try:
        parse_plan(payload, DEFAULTS)
    except PlanValidationError:
        return
    assert VALIDATOR.is_valid(payload), payload


def test_entry_zones_stand_in_for_the_seeds_zone_in_the_schema() -> None:
    zoned = {k: v for k, v in VALID.items() if not k.startswith("entry_zone_")}
    zoned["entry_zones"] = [
        {"min": 65200, "max": 65500, "size_percent": 50},
        {"min": "64800", "max": "65000", "size_percent": "50"},
    ]
    assert parse_plan(zoned, DEFAULTS).entry_zones
    assert VALIDATOR.is_valid(zoned)
    no_zone = {k: v for k, v in zoned.items() if k != "entry_zones"}
    assert not VALIDATOR.is_valid(no_zone), "neither the seed's zone nor entry_zones"
    for wrong in (
        [],
        [{"min": 1, "max": 2}],
        [{"min": 1, "max": 2, "size_percent": 100, "size": 1}],
        [{"min": 1, "max": 2, "size_percent": 10}] * 11,
    ):
        assert not VALIDATOR.is_valid({**zoned, "entry_zones": wrong}), wrong
