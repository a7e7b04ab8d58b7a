"""Venue-neutral facts the exchange reports: prices, orders, fills, positions, balances.

Adapters parse their wire messages into these types; nothing above an adapter ever sees
a venue's side codes, contract envelopes or channel names. Sizes are in *contracts*
(whole multiples of the contract's lot), prices in quote currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from zoneguard.domain.values import MarginMode, Side, Symbol


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    FOK = "fok"
    IOC = "ioc"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    """Where an exchange order stands. Only FILLED and CANCELLED are final."""

    PENDING = "pending"  # accepted, being validated by the venue
    OPEN = "open"  # working on the book, nothing filled
    PARTIALLY_FILLED = "partially_filled"  # working, some filled
    FILLED = "filled"  # final: everything filled
    CANCELLED = "cancelled"  # final: the rest will never fill (filled_contracts may be > 0)

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED)


class OrderOrigin(StrEnum):
    """Who created the order: us, or an exchange-side trigger on our behalf."""

    CLIENT = "client"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    PLAN = "plan"
    LIQUIDATION = "liquidation"
    OTHER = "other"


class OrderEventKind(StrEnum):
    SUBMITTED = "submitted"
    FILL = "fill"
    CANCELLED = "cancelled"
    LIQUIDATION = "liquidation"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PriceTick:
    """One price update. ``received_ns`` is our monotonic clock when it arrived."""

    symbol: Symbol
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    mark: Decimal | None = None
    received_ns: int = 0


@dataclass(frozen=True, slots=True)
class KlineBar:
    symbol: Symbol
    timeframe: str  # venue-neutral spelling: 1m, 5m, 15m, 30m, 1h, 2h, 4h, 1d, 1w
    open_time_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    received_ns: int = 0


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    contracts: Decimal
    price: Decimal
    fee: Decimal  # positive = paid by us
    fee_currency: str


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """An order as the exchange currently knows it."""

    order_id: str
    client_order_id: str | None
    symbol: Symbol
    position_side: Side
    reduce_only: bool
    order_type: OrderType
    price: Decimal | None
    contracts: Decimal
    filled_contracts: Decimal
    avg_fill_price: Decimal | None
    status: OrderStatus
    leverage: Decimal | None = None
    margin_mode: MarginMode | None = None
    origin: OrderOrigin = OrderOrigin.CLIENT
    trigger_price: Decimal | None = None
    preset_take_profit: Decimal | None = None
    preset_stop_loss: Decimal | None = None
    created_ms: int = 0
    updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A pushed change of one order; ``fill`` describes this push's fill, if any."""

    kind: OrderEventKind
    order: OrderInfo
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """One side's position on one symbol. ``contracts`` == 0 means flat."""

    symbol: Symbol
    side: Side
    contracts: Decimal
    entry_price: Decimal
    leverage: Decimal | None = None
    margin_mode: MarginMode | None = None
    mark_price: Decimal | None = None
    liquidation_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    fees: Decimal | None = None
    close_contracts: Decimal | None = None
    close_avg_price: Decimal | None = None
    updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class StopOrderInfo:
    """An exchange-side trigger order still waiting (position TP/SL or plan order)."""

    order_id: str
    client_order_id: str | None
    symbol: Symbol
    position_side: Side
    origin: OrderOrigin
    trigger_price: Decimal
    contracts: Decimal | None
    created_ms: int = 0


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available: Decimal
    frozen: Decimal
    position_margin: Decimal
    equity: Decimal | None = None
    unrealized_pnl: Decimal | None = None
