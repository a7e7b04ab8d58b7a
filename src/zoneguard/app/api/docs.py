"""Schemas for the OpenAPI page of endpoints that read their body by hand (to name the
bad field in our own words rather than pydantic's)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SignalBody(BaseModel):
    """The seed's TradingSignal, snake_case. Numbers may be JSON numbers or decimal strings
    (strings keep every digit)."""

    symbol: str = Field(examples=["BTCUSDT"])
    side: str = Field(examples=["long"], description="long or short")
    entry_zone_min: float | str = Field(examples=[65000])
    entry_zone_max: float | str = Field(examples=[65500])
    quantity: float | str = Field(examples=[0.01], description="base currency (0.01 BTC)")
    leverage: int | None = Field(default=None, examples=[10], description="default 1")
    stop_loss: float | str | None = Field(default=None, examples=[64000])
    take_profit: float | str | None = Field(default=None, examples=[68000])
    timeout_seconds: int | None = Field(default=None, examples=[300], description="default 300")
    metadata: dict[str, Any] | None = Field(
        default=None, examples=[{"strategy": "high_conviction"}]
    )


class CallbackBody(BaseModel):
    """What the worker POSTs (the seed's bodies plus ``event_id`` and ``timestamp``). Read
    by ``zoneguard.app.callback_body``: ids and the timestamp are refused with a 422 naming
    the field when too long or holding control characters; ``reason`` and ``error`` are
    kept (NUL removed, cut at 4000 characters); numbers below 1e20, rounded to 18 places."""

    status: str = Field(
        examples=["placed"],
        description="placed, filled, failed, timeout, cancelled, closed or close_failed",
    )
    order_id: str | None = Field(default=None, max_length=64, examples=["order-123"])
    position_id: str | None = Field(
        default=None, max_length=64, description="closed / close_failed"
    )
    event_id: str | None = Field(default=None, max_length=128, description="deduplication key")
    timestamp: str | None = Field(default=None, max_length=40, description="ISO-8601 UTC")
    exchange_order_id: str | None = Field(default=None, max_length=64)
    close_order_id: str | None = Field(default=None, max_length=64)
    entry_price: float | str | None = None
    close_price: float | str | None = None
    quantity: float | str | None = None
    reason: str | None = Field(default=None, description="free text, kept (cut at 4000)")
    error: str | None = Field(default=None, description="free text, kept (cut at 4000)")
    error_code: int | None = Field(default=None, ge=-(2**31), lt=2**31)


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
