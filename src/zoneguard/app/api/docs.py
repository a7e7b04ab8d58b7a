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
    """What the worker POSTs (the seed's bodies plus ``event_id`` and ``timestamp``)."""

    status: str = Field(
        examples=["placed"],
        description="placed, filled, failed, timeout, cancelled, closed or close_failed",
    )
    order_id: str | None = Field(default=None, examples=["order-123"])
    position_id: str | None = Field(default=None, description="closed / close_failed")
    event_id: str | None = Field(default=None, description="deduplication key")
    timestamp: str | None = None
    exchange_order_id: str | None = None
    close_order_id: str | None = None
    entry_price: float | None = None
    close_price: float | None = None
    quantity: float | None = None
    reason: str | None = None
    error: str | None = None


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
