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
