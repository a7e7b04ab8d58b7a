"""What the control API's OpenAPI document says each route answers: bodies and statuses.

Documentation only: the routes build their answers as plain dicts (no validation on the hot
path); the schema fuzzing in ``tests/fuzz`` holds every answer to these models. Request bodies
are read and checked by hand (to name every bad field at once), so their schemas come from
``zoneguard.domain.plan_schema`` and :class:`KlineSubscribeBody`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zoneguard.domain.lifecycle import OrderState
from zoneguard.domain.plan_schema import SYMBOL_PATTERN, JsonSchema

KLINE_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1w")
TIMEFRAME_SPELLINGS: dict[str, str] = {
    **{tf: tf for tf in KLINE_TIMEFRAMES},
    **{tf.upper(): tf for tf in KLINE_TIMEFRAMES if tf[-1] in "hdw"},
}
"""Accepted timeframes: ours, and BitMart's upper-case ``1H``/``1D``/``1W`` (``1M`` would read
as a month, so minutes stay lower-case)."""

STATE_ENUM: dict[str, Any] = {"enum": [state.value for state in OrderState]}


# -- request bodies
class KlineSubscribeBody(BaseModel):
    """``POST /klines/subscribe``: ``tfs`` is required (no silent default)."""

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["BTCUSDT"])
    tfs: list[str] = Field(
        min_length=1,
        examples=[["1m"]],
        json_schema_extra={"items": {"type": "string", "enum": list(TIMEFRAME_SPELLINGS)}},
    )


def body_doc(schema: JsonSchema) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body by hand."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


# -- errors
class FieldProblem(BaseModel):
    field: str = Field(examples=["quantity"])
    message: str = Field(examples=["0.0001 BTC is below one contract of 0.001 BTC"])


class FieldErrors(BaseModel):
    """Every 4xx: ``error`` is ``"<field>: <message>; ..."``, ``fields`` lists each one."""

    ok: Literal[False]
    error: str = Field(examples=["quantity: 0.0001 BTC is below one contract of 0.001 BTC"])
    fields: list[FieldProblem] = Field(min_length=1)


class Unavailable(BaseModel):
    """A 503: the worker is starting, or the exchange did not answer; try again later."""

    ok: Literal[False]
    error: str = Field(examples=["exchange unavailable: [30014] service unavailable"])


def error(description: str) -> dict[str, Any]:
    """A 4xx of the usual shape, with what it means on this route."""
    return {"model": FieldErrors, "description": description}


UNAUTHORISED = {401: error("missing or wrong bearer token")}
TOO_LARGE = {413: error("the body is larger than ZONEGUARD_WORKER_MAX_BODY_BYTES; not read")}
NOT_JSON = {400: error("the body is not a JSON object")}
INVALID = {422: error("a field is invalid; each bad field is named")}
UNAVAILABLE = {503: {"model": Unavailable, "description": "starting, or the exchange is down"}}


def answers(
    ok: dict[int, tuple[type[BaseModel], str]], *more: Mapping[int, Any], auth: bool
) -> dict[int | str, Any]:
    """``responses=`` for a route: its successes, its error statuses, 413 (any request may
    carry a body too large) and, with ``auth`` (a token is set), 401."""
    documented: dict[int | str, Any] = {
        status: {"model": model, "description": text} for status, (model, text) in ok.items()
    }
    for extra in (*more, TOO_LARGE, UNAUTHORISED if auth else {}):
        for status, doc in extra.items():
            documented[status] = doc
    return documented


# -- successes
class _Open(BaseModel):
    """Answers may gain fields; clients must ignore the ones they do not know."""

    model_config = ConfigDict(extra="allow")


class Health(_Open):
    status: Literal["ok", "starting"]
    ready: bool


class OrderAccepted(_Open):
    """Accepted (or the same body again: ``duplicate``). A repeat of an order that already
    ended carries only ``ok``, ``order_id``, ``status`` and ``duplicate``."""

    ok: Literal[True]
    order_id: str
    status: str = Field(json_schema_extra=STATE_ENUM)
    duplicate: bool
    contracts: str | None = Field(default=None, description="whole contracts, decimal string")
    entry_zone: list[str] | None = Field(
        default=None, min_length=2, max_length=2, description="the zone widened by tolerance"
    )
    timeout_at_ms: int | None = None


class PositionGuarded(_Open):
    ok: Literal[True]
    order_id: str
    status: str = Field(json_schema_extra=STATE_ENUM)
    duplicate: bool | None = None


class OrderSummary(_Open):
    id: str
    symbol: str
    side: Literal["long", "short"]
    state: str = Field(json_schema_extra=STATE_ENUM)
    entry_zone_min: str
    entry_zone_max: str
    quantity: str
    leverage: int
    stop_loss: str | None
    take_profit: str | None
    contracts: str
    filled_contracts: str
    entry_price: str | None
    exchange_order_id: str | None
    close_order_id: str | None
    close_reason: str | None
    close_price: str | None
    timeout_at_ms: int
    created_ms: int
    monitor_only: bool
    last_error: str | None


class OrderCounts(_Open):
    waiting: int
    active: int
    monitored: int


class OrdersStatus(_Open):
    waiting_orders: list[OrderSummary]
    active_orders: list[OrderSummary]
    monitored_positions: list[OrderSummary]
    counts: OrderCounts


class OrderDetail(_Open):
    order: dict[str, Any] = Field(description="the order's summary (id and state at least)")
    payload: dict[str, Any] = Field(description="the accepted payload, decimals as strings")
    facts: dict[str, Any]
    history: list[dict[str, Any]] = Field(description="every transition, oldest first")


class OrderAction(_Open):
    ok: Literal[True]
    order_id: str
    status: Literal["cancelled", "cancelling", "closing"]


class RefusedCallback(_Open):
    event_id: str
    order_id: str
    url: str
    status: str | None
    attempts: int
    last_error: str | None
    body: dict[str, Any]


class RefusedCallbacks(_Open):
    callbacks: list[RefusedCallback]


class CallbackQueued(_Open):
    ok: Literal[True]
    event_id: str
    status: Literal["queued"]


class KlinesSubscribed(_Open):
    ok: Literal[True]
    symbol: str
    tfs: list[str] = Field(description="the kline channels subscribed")


class Bar(_Open):
    t: int = Field(description="open time, epoch seconds")
    o: str
    h: str
    l: str  # noqa: E741 - the bar's own key
    c: str
    v: str


class Klines(_Open):
    symbol: str
    tf: str
    bars: list[Bar]


class PositionsSubscribed(_Open):
    ok: Literal[True]
    position_subscribed: bool


class Connections(_Open):
    public_connected: bool
    private_connected: bool
    private_logged_in: bool
    last_public_message_age_s: float | None
    reconnects: int


class SuccessRate(_Open):
    rate: float | None = Field(
        ge=0, le=1, description="succeeded / attempts since the worker started; null before any"
    )
    succeeded: int = Field(ge=0)
    attempts: int = Field(ge=0)


class SuccessRates(_Open):
    placement: SuccessRate
    callback: SuccessRate


class WorkerStatus(_Open):
    status: Literal["ok", "starting"]
    kline_channels: list[str]
    position_subscribed: bool
    price_subscriptions: list[str]
    connections: Connections
    orders: OrderCounts
    callbacks_pending: int
    callbacks_refused: int
    success_rates: SuccessRates
    uptime_s: float
    exchange: str


METRICS_DOC: dict[int | str, Any] = {
    200: {
        "description": "Prometheus text exposition",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
