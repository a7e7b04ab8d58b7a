"""The requests the engine accepts, as the REST routes hand them over after parsing.

Plain frozen records with BitMart's field meanings and defaults: the routes turn a body
into one of these, the engine validates what they ask for against the account and the
market. Kept apart so the routes, the engine and its helpers share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from zoneguard.sim.model import MODE_GTC


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: int
    size: int
    type: str = "limit"
    price: Decimal | None = None
    mode: int = MODE_GTC
    leverage: Decimal | None = None
    open_type: str | None = None
    client_order_id: str = ""
    preset_tp: Decimal | None = None
    preset_tp_type: int = 1
    preset_sl: Decimal | None = None
    preset_sl_type: int = 1


@dataclass(frozen=True, slots=True)
class TpSlRequest:
    symbol: str
    side: int
    type: str
    trigger_price: Decimal
    executive_price: Decimal = Decimal(0)
    price_type: int = 1
    size: int | None = None
    plan_category: int = 2
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class PlanRequest:
    symbol: str
    side: int
    type: str
    size: int
    trigger_price: Decimal
    price_way: int
    executive_price: Decimal = Decimal(0)
    price_type: int = 1
    mode: int = MODE_GTC
    leverage: Decimal | None = None
    open_type: str | None = None
    client_order_id: str = ""
    preset_tp: Decimal | None = None
    preset_tp_type: int = 1
    preset_sl: Decimal | None = None
    preset_sl_type: int = 1


@dataclass(frozen=True, slots=True)
class TrailRequest:
    symbol: str
    side: int
    size: int
    activation_price: Decimal
    callback_rate: Decimal  # percent
    activation_price_type: int = 1
    leverage: Decimal | None = None
    open_type: str | None = None


@dataclass(frozen=True, slots=True)
class PlanChange:
    """``modify-plan-order``: the new execution type, trigger and price of a plan order."""

    type: str
    trigger_price: Decimal
    executive_price: Decimal | None
    price_type: int
