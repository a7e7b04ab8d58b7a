"""The JSON Schema of an order-plan payload, for API documents (OpenAPI) and their fuzzers.

Built from the same constants as :func:`zoneguard.domain.plan.parse_plan`, and deliberately a
*superset* of what it accepts: every payload the parser takes matches this schema, so a payload
that breaks the schema is always refused. The parser adds what JSON Schema cannot say (zone
min <= max, stop-loss and take-profit on the right side of the widened zone, at most
``MAX_DECIMAL_PLACES`` decimals, metadata depth and size); those answer 422 naming the field.
"""

from __future__ import annotations

from typing import Any

from zoneguard.domain.entry_plan import ENTRY_ZONE_KEYS, MAX_ENTRY_ZONES
from zoneguard.domain.exit_plan import MAX_TAKE_PROFITS
from zoneguard.domain.plan import (
    ID_RULE,
    MAX_LEVERAGE,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_NUMBER,
    MAX_TIMEOUT_SECONDS,
    MAX_URL_LENGTH,
    SYMBOL_RULE,
)

JsonSchema = dict[str, Any]

ID_PATTERN = f"^{ID_RULE}$"
SYMBOL_PATTERN = f"^{SYMBOL_RULE}$"
SIDE_PATTERN = "^(?:[Ll][Oo][Nn][Gg]|[Ss][Hh][Oo][Rr][Tt])$"
"""``long`` or ``short``, in any case."""
DECIMAL_STRING_PATTERN = (
    r"^[ \t\n\r\f\v]*\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$"
)
"""A positive decimal written as text (``"65000.5"``, ``"1e3"``); spaces around are ignored."""
HTTP_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://"


def decimal_schema(description: str, example: str | float) -> JsonSchema:
    """A positive number below ``MAX_NUMBER``, as a JSON number or a decimal string (a string
    keeps every digit; a JSON number goes through a float)."""
    return {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": float(MAX_NUMBER)},
            {"type": "string", "pattern": DECIMAL_STRING_PATTERN},
        ],
        "description": description,
        "example": example,
    }


def whole_schema(low: int, high: int, description: str, example: int) -> JsonSchema:
    """A whole number in ``low..high`` (``10``, ``10.0`` or ``"10"``); null means the default."""
    return {
        "anyOf": [
            {"type": "number", "minimum": low, "maximum": high, "multipleOf": 1},
            {"type": "string", "pattern": DECIMAL_STRING_PATTERN},
            {"type": "null"},
        ],
        "description": description,
        "example": example,
    }


def _nullable(schema: JsonSchema) -> JsonSchema:
    described = {k: v for k, v in schema.items() if k in ("description", "example")}
    inner = {k: v for k, v in schema.items() if k not in ("description", "example")}
    branches = inner["anyOf"] if list(inner) == ["anyOf"] else [inner]
    return {"anyOf": [*branches, {"type": "null"}], **described}


def _field_schemas(*, leverage_default: int, timeout_default: int) -> dict[str, JsonSchema]:
    return {
        "id": {
            "type": "string",
            "pattern": ID_PATTERN,
            "description": "your order id: 1..64 of A-Z a-z 0-9 . _ : - (idempotency key)",
            "example": "test-order-123",
        },
        "symbol": {
            "type": "string",
            "pattern": SYMBOL_PATTERN,
            "description": "a traded contract, e.g. BTCUSDT",
            "example": "BTCUSDT",
        },
        "side": {
            "type": "string",
            "pattern": SIDE_PATTERN,
            "description": "long or short (any case)",
            "example": "long",
        },
        "entry_zone_min": _nullable(
            decimal_schema("lower bound of the entry zone (unless entry_zones is given)", 65000)
        ),
        "entry_zone_max": _nullable(
            decimal_schema(
                "upper bound of the entry zone, >= entry_zone_min (unless entry_zones is given)",
                65500,
            )
        ),
        "entry_zones": _entry_zones_schema(),
        "quantity": decimal_schema("size in base currency (0.01 BTC), at least one contract", 0.01),
        "leverage": whole_schema(1, MAX_LEVERAGE, f"default {leverage_default}", 10),
        "stop_loss": _nullable(
            decimal_schema("below the widened zone for a long, above it for a short", 64000)
        ),
        "take_profit": _nullable(
            decimal_schema("above the widened zone for a long, below it for a short", 68000)
        ),
        "timeout_seconds": whole_schema(
            1, MAX_TIMEOUT_SECONDS, f"default {timeout_default}; how long to wait for the zone", 300
        ),
        "callback_url": {
            "anyOf": [
                {"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": HTTP_URL_PATTERN},
                {"type": "null"},
            ],
            "description": "http(s) URL for this order's callbacks (default: APP_BASE_URL's)",
        },
        "metadata": {
            "anyOf": [{"type": "object"}, {"type": "null"}],
            "description": (
                f"free JSON object, at most {MAX_METADATA_DEPTH} levels deep and "
                f"{MAX_METADATA_BYTES} bytes serialised; echoed in callbacks"
            ),
        },
        **_exit_leg_schemas(),
    }


def _entry_zones_schema() -> JsonSchema:
    """Several entry zones (see :mod:`zoneguard.domain.entry_plan`)."""
    zone = {
        "type": "object",
        "properties": {
            "min": decimal_schema("lower bound of this zone", 65200),
            "max": decimal_schema("upper bound of this zone (>= min)", 65500),
            "size_percent": decimal_schema("share of the quantity entered in this zone, %", 50),
        },
        "required": list(ENTRY_ZONE_KEYS),
        "additionalProperties": False,
    }
    return {
        "anyOf": [
            {"type": "array", "items": zone, "minItems": 1, "maxItems": MAX_ENTRY_ZONES},
            {"type": "null"},
        ],
        "description": "several entry zones (pyramiding) instead of entry_zone_min/"
        "entry_zone_max: each places its own post-only entry when the price first enters "
        "it; percents add up to 100, zones must not overlap",
    }


def _exit_leg_schemas() -> dict[str, JsonSchema]:
    """Issue 9's exit legs (see :mod:`zoneguard.domain.exit_plan`)."""
    percent = decimal_schema("percent", 50)
    rung = {
        "type": "object",
        "properties": {
            "price": decimal_schema("target price, beyond the widened zone", 66000),
            "size_percent": decimal_schema("share of the filled quantity, %", 50),
        },
        "required": ["price", "size_percent"],
        "additionalProperties": False,
    }
    return {
        "take_profits": {
            "anyOf": [
                {"type": "array", "items": rung, "minItems": 1, "maxItems": MAX_TAKE_PROFITS},
                {"type": "null"},
            ],
            "description": "a ladder instead of take_profit: TP1 nearest, percents add up to 100",
        },
        "break_even": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "after_take_profit": whole_schema(1, MAX_TAKE_PROFITS, "TP k", 1),
                        "trigger_percent": _nullable(percent),
                        "offset_percent": _nullable(
                            {
                                "anyOf": [
                                    {"type": "number", "minimum": 0, "exclusiveMaximum": 100},
                                    {"type": "string", "pattern": DECIMAL_STRING_PATTERN},
                                ]
                            }
                        ),
                    },
                    "additionalProperties": False,
                },
                {"type": "null"},
            ],
            "description": "the stop to the average entry (+ offset_percent) after TP k "
            "(after_take_profit) or a move of trigger_percent %; one of the two",
        },
        "trailing_stop": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "activation_price": _nullable(decimal_schema("activation price", 66000)),
                        "activation_percent": _nullable(percent),
                        "callback_percent": decimal_schema("distance behind the best, %", 0.5),
                    },
                    "required": ["callback_percent"],
                    "additionalProperties": False,
                },
                {"type": "null"},
            ],
            "description": "follow the best price callback_percent behind it once activated "
            "(activation_price or activation_percent: one of the two)",
        },
    }


REQUIRED = ["id", "symbol", "side", "quantity"]
ZONE_REQUIRED: list[JsonSchema] = [
    {"required": ["entry_zone_min", "entry_zone_max"]},
    {"required": ["entry_zones"]},
]
"""The seed's zone or ``entry_zones`` (giving both is refused by the parser, naming the
field: the schema stays a superset of what is accepted)."""


def place_order_schema(*, leverage_default: int = 1, timeout_default: int = 300) -> JsonSchema:
    """The ``place-order`` payload: unknown fields are refused (a typo must not pass)."""
    return {
        "title": "PlaceOrder",
        "type": "object",
        "properties": _field_schemas(
            leverage_default=leverage_default, timeout_default=timeout_default
        ),
        "required": list(REQUIRED),
        "anyOf": list(ZONE_REQUIRED),
        "additionalProperties": False,
    }


MONITOR_FIELDS = (
    "id",
    "symbol",
    "side",
    "stop_loss",
    "take_profit",
    "timeout_seconds",
    "callback_url",
    "metadata",
    "take_profits",
    "break_even",
    "trailing_stop",
)
"""Fields of a request to guard an open position: the zone, size and leverage come from the
position itself."""


def monitor_position_schema(*, timeout_default: int = 300) -> JsonSchema:
    fields = _field_schemas(leverage_default=1, timeout_default=timeout_default)
    return {
        "title": "MonitorPosition",
        "type": "object",
        "properties": {name: fields[name] for name in MONITOR_FIELDS},
        "required": ["id", "symbol", "side"],
        "additionalProperties": False,
    }
