"""Schemas for the OpenAPI page of endpoints that read their body by hand (to name the
bad field in our own words rather than pydantic's)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zoneguard.domain.entry_plan import MAX_ENTRY_ZONES
from zoneguard.domain.plan_schema import ZONE_REQUIRED


class EntryZoneDoc(BaseModel):
    """One of several entry zones: enter ``size_percent`` % of the quantity with a
    post-only order when the price first enters ``[min, max]``."""

    min: float | str = Field(examples=[65200])
    max: float | str = Field(examples=[65500])
    size_percent: float | str = Field(examples=[50])


class TakeProfitDoc(BaseModel):
    """One rung: close ``size_percent`` % of the filled quantity at ``price``."""

    price: float | str = Field(examples=[66000])
    size_percent: float | str = Field(examples=[50])


class BreakEvenDoc(BaseModel):
    """The stop to the average entry (plus ``offset_percent``) once TP ``after_take_profit``
    has filled, or once the price is ``trigger_percent`` % in favour (one of the two)."""

    after_take_profit: int | None = Field(default=None, examples=[1])
    trigger_percent: float | str | None = None
    offset_percent: float | str | None = Field(default=None, examples=[0.1])


class TrailingStopDoc(BaseModel):
    """Follow the best price ``callback_percent`` behind it once activated (at
    ``activation_price``, or ``activation_percent`` % in favour: one of the two)."""

    activation_price: float | str | None = None
    activation_percent: float | str | None = Field(default=None, examples=[1])
    callback_percent: float | str = Field(examples=[0.5])


def _one_zone(schema: dict[str, Any]) -> None:
    """The seed's zone or ``entry_zones`` is required (as in the worker's document)."""
    schema["anyOf"] = [dict(branch) for branch in ZONE_REQUIRED]


class SignalBody(BaseModel):
    """The seed's TradingSignal, snake_case. Numbers may be JSON numbers or decimal strings
    (strings keep every digit). The zone is ``entry_zone_min`` and ``entry_zone_max``, or
    ``entry_zones`` (several, pyramiding): one of the two, each mistake a 422 naming it."""

    model_config = ConfigDict(json_schema_extra=_one_zone)

    symbol: str = Field(examples=["BTCUSDT"])
    side: str = Field(examples=["long"], description="long or short")
    entry_zone_min: float | str | None = Field(
        default=None, examples=[65000], description="required unless entry_zones is given"
    )
    entry_zone_max: float | str | None = Field(
        default=None, examples=[65500], description="required unless entry_zones is given"
    )
    entry_zones: list[EntryZoneDoc] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ENTRY_ZONES,
        description="several entry zones instead of entry_zone_min/entry_zone_max: each "
        "places its own post-only entry when the price first enters it; size_percent values "
        "add up to 100, zones must not overlap",
    )
    quantity: float | str = Field(examples=[0.01], description="base currency (0.01 BTC)")
    leverage: int | None = Field(default=None, examples=[10], description="default 1")
    stop_loss: float | str | None = Field(default=None, examples=[64000])
    take_profit: float | str | None = Field(default=None, examples=[68000])
    timeout_seconds: int | None = Field(default=None, examples=[300], description="default 300")
    metadata: dict[str, Any] | None = Field(
        default=None, examples=[{"strategy": "high_conviction"}]
    )
    take_profits: list[TakeProfitDoc] | None = Field(
        default=None,
        description="a take-profit ladder instead of take_profit: size_percent values add "
        "up to 100, TP1 nearest the entry",
    )
    break_even: BreakEvenDoc | None = None
    trailing_stop: TrailingStopDoc | None = None


class CallbackBody(BaseModel):
    """What the worker POSTs (the seed's bodies plus ``event_id`` and ``timestamp``). Read
    by ``zoneguard.app.callback_body``: ids and the timestamp are refused with a 422 naming
    the field when too long or holding control characters; ``reason`` and ``error`` are
    kept (NUL removed, cut at 4000 characters); numbers below 1e20, rounded to 18 places."""

    status: str = Field(
        examples=["placed"],
        description="placed, filled, partially_closed, stop_moved, failed, timeout, cancelled, "
        "closed or close_failed",
    )
    order_id: str | None = Field(default=None, max_length=64, examples=["order-123"])
    position_id: str | None = Field(
        default=None, max_length=64, description="closed / close_failed"
    )
    event_id: str | None = Field(default=None, max_length=128, description="deduplication key")
    timestamp: str | None = Field(default=None, max_length=40, description="ISO-8601 UTC")
    exchange_order_id: str | None = Field(default=None, max_length=64)
    close_order_id: str | None = Field(default=None, max_length=64)
    entry_price: float | str | None = Field(
        default=None,
        description="placed: the entry's limit; filled: the average entry (of every zone so far)",
    )
    close_price: float | str | None = None
    quantity: float | str | None = None
    filled_contracts: float | str | None = Field(
        default=None, description="filled: the whole position's so far (every entry zone's)"
    )
    entry_index: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ENTRY_ZONES,
        description="placed / filled of a plan with entry_zones: which zone (1-based); a "
        "later zone's is kept as a note that moves no status",
    )
    zone_filled_contracts: float | str | None = Field(
        default=None, description="filled with entry_index: that zone's own fill"
    )
    zone_entry_price: float | str | None = Field(
        default=None, description="filled with entry_index: that zone's own average price"
    )
    reason: str | None = Field(default=None, description="free text, kept (cut at 4000)")
    error: str | None = Field(default=None, description="free text, kept (cut at 4000)")
    error_code: int | None = Field(default=None, ge=-(2**31), lt=2**31)


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """A route's request body for ``openapi_extra``: the model's schema with its nested
    models written in place (a ``#/$defs/...`` reference means nothing inside an OpenAPI
    document, and its readers would fail to resolve it)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, defs)}},
        }
    }


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node
