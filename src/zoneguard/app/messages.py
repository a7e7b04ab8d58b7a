"""The bus's messages (the seed's PlaceOrderMessage and MonitorPositionMessage).

They travel as ``(type name, JSON body)``; prices and sizes are exact decimal strings in
the body, so nothing is rounded on the way through the bus.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from zoneguard.domain.plan import OrderPlan
from zoneguard.domain.values import decimal_text


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


class BusMessage(BaseModel):
    """Base of every message: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PlaceOrderMessage(BusMessage):
    """Ask the worker to place ``order_id`` when the price enters its zone."""

    TYPE: ClassVar[str] = "PlaceOrderMessage"

    order_id: str
    symbol: str
    side: Literal["long", "short"]
    entry_zone_min: Decimal
    entry_zone_max: Decimal
    """With ``entry_zones``, their span (kept for logs; the worker is sent the zones)."""
    quantity: Decimal
    leverage: int
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    timeout_seconds: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    entry_zones: list[dict[str, str]] | None = None
    """Several entry zones (pyramiding) as the worker's API takes them (exact decimal
    strings); None for a seed signal's one zone."""
    take_profits: list[dict[str, str]] | None = None
    """The plan's exit legs as the worker's API takes them (exact decimal strings)."""
    break_even: dict[str, Any] | None = None
    trailing_stop: dict[str, Any] | None = None

    @classmethod
    def from_plan(cls, plan: OrderPlan) -> PlaceOrderMessage:
        payload = plan.to_payload()
        payload["order_id"] = payload.pop("id")
        payload.pop("callback_url")
        payload["entry_zone_min"] = decimal_text(plan.entry_zone_min)
        payload["entry_zone_max"] = decimal_text(plan.entry_zone_max)
        return cls.model_validate(payload)

    def worker_payload(self, callback_url: str) -> dict[str, Any]:
        """The seed's ``POST /api/place-order`` body, field names unchanged (decimals as
        exact strings, which the worker accepts)."""
        return {
            "id": self.order_id,
            "symbol": self.symbol,
            "side": self.side,
            **self.zone(),
            "quantity": decimal_text(self.quantity),
            "leverage": self.leverage,
            "stop_loss": _text(self.stop_loss),
            "take_profit": _text(self.take_profit),
            "timeout_seconds": self.timeout_seconds,
            "callback_url": callback_url,
            "metadata": self.metadata,
            **self.exit_legs(),
        }

    def zone(self) -> dict[str, Any]:
        """``entry_zones``, or the seed's ``entry_zone_min`` / ``entry_zone_max`` (the
        worker refuses both at once)."""
        if self.entry_zones is not None:
            return {"entry_zones": self.entry_zones}
        return {
            "entry_zone_min": decimal_text(self.entry_zone_min),
            "entry_zone_max": decimal_text(self.entry_zone_max),
        }

    def exit_legs(self) -> dict[str, Any]:
        """The exit legs that are set (none for a seed signal: its body stays the seed's)."""
        legs = {
            "take_profits": self.take_profits,
            "break_even": self.break_even,
            "trailing_stop": self.trailing_stop,
        }
        return {name: value for name, value in legs.items() if value is not None}


class MonitorPositionMessage(BusMessage):
    """Ask the worker to guard with SL/TP a position opened outside it."""

    TYPE: ClassVar[str] = "MonitorPositionMessage"

    order_id: str
    symbol: str
    side: Literal["long", "short"]
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    timeout_seconds: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def worker_payload(self, callback_url: str) -> dict[str, Any]:
        """The worker's ``POST /api/monitor-position`` body."""
        payload: dict[str, Any] = {
            "id": self.order_id,
            "symbol": self.symbol,
            "side": self.side,
            "stop_loss": _text(self.stop_loss),
            "take_profit": _text(self.take_profit),
            "callback_url": callback_url,
            "metadata": self.metadata,
        }
        if self.timeout_seconds is not None:
            payload["timeout_seconds"] = self.timeout_seconds
        return payload


MESSAGE_TYPES: dict[str, type[BusMessage]] = {
    cls.TYPE: cls for cls in (PlaceOrderMessage, MonitorPositionMessage)
}


def decode_message(type_name: str, body: dict[str, Any]) -> BusMessage:
    """Rebuild a message; ``KeyError`` for an unknown type, pydantic's ValidationError for a
    malformed body (neither gets better by retrying)."""
    return MESSAGE_TYPES[type_name].model_validate(body)
