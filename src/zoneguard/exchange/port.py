"""The exchange port: what the worker needs from any venue, in venue-neutral terms.

An adapter (``exchange/bitmart``) implements :class:`ExchangePort`. Sizes are contracts
(see :class:`~zoneguard.domain.contract.ContractSpec` for the conversion), prices
``Decimal``. Streams deliver parsed events to plain callbacks, called synchronously on the
event loop the moment a message is parsed: the cheapest possible hop on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import (
    Balance,
    KlineBar,
    OrderInfo,
    OrderOrigin,
    OrderType,
    OrderUpdate,
    PositionInfo,
    PriceTick,
    StopOrderInfo,
    TimeInForce,
)
from zoneguard.domain.values import MarginMode, PriceSource, Side, Symbol


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """Open (``reduce_only=False``) or close (``reduce_only=True``) a ``position_side`` position."""

    symbol: Symbol
    position_side: Side
    reduce_only: bool
    order_type: OrderType
    contracts: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    leverage: Decimal | None = None
    margin_mode: MarginMode = MarginMode.ISOLATED
    client_order_id: str | None = None
    preset_take_profit: Decimal | None = None
    preset_stop_loss: Decimal | None = None
    preset_price_source: PriceSource = PriceSource.LAST


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order_id: str
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class StopRequest:
    """An exchange-side position TP or SL, fired by the venue at ``trigger_price``."""

    symbol: Symbol
    position_side: Side
    origin: OrderOrigin  # TAKE_PROFIT or STOP_LOSS
    trigger_price: Decimal
    price_source: PriceSource = PriceSource.LAST
    contracts: Decimal | None = None  # None = the whole position
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class RateBudget:
    """At most ``calls`` requests in any ``window_s`` seconds."""

    calls: int
    window_s: float


@dataclass(frozen=True, slots=True)
class VenueCapabilities:
    """What a venue can do, declared by its adapter: the worker decides from these, never
    by trying and failing on a live order."""

    preset_stops: bool
    """A stop-loss and take-profit ride on the entry order (the exchange-side protection
    exists the moment the entry fills). Without them the worker places the protection as
    conditional orders as soon as it sees the fill, and its own guard covers the gap."""
    native_trailing: bool
    """The venue runs a trailing stop itself."""
    batch_orders: int
    """Orders one batch request may carry (0: no batch endpoint)."""
    position_modes: tuple[str, ...]
    """``one_way`` and/or ``hedge``: the first is the mode the adapter trades in."""
    sends_orders_now: bool
    """Orders can be put on the wire synchronously from the price push (a warm order
    lane): the hot path sends before it journals the send."""


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    public_connected: bool
    private_connected: bool
    private_logged_in: bool
    last_public_message_age_s: float | None
    reconnects: int


PriceHandler = Callable[[PriceTick], None]
KlineHandler = Callable[[KlineBar], None]
OrderHandler = Callable[[OrderUpdate], None]
PositionHandler = Callable[[PositionInfo], None]
ConnectionHandler = Callable[[str, bool], None]  # (stream name "public"/"private", up?)


class ExchangePort(Protocol):
    """Everything the worker asks of a venue. Errors are :mod:`zoneguard.exchange.errors`."""

    venue: str

    capabilities: VenueCapabilities

    last_price_budget: RateBudget
    """How many :meth:`last_price` calls the venue's public rate limits allow, all symbols
    together, with room left for the other public calls (contract lookups, bars)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    # -- reference data and account
    async def server_time_ms(self) -> int: ...

    async def contract(self, symbol: Symbol) -> ContractSpec: ...

    async def last_price(self, symbol: Symbol) -> Decimal: ...

    async def klines(
        self, symbol: Symbol, timeframe: str, start_s: int, end_s: int
    ) -> list[KlineBar]:
        """Bars opening in ``[start_s, end_s]`` (epoch seconds), oldest first."""
        ...

    async def balances(self) -> list[Balance]: ...

    async def positions(self, symbol: Symbol | None = None) -> list[PositionInfo]: ...

    async def set_leverage(
        self, symbol: Symbol, leverage: Decimal, margin_mode: MarginMode
    ) -> None: ...

    # -- orders
    async def place_order(self, request: OrderRequest) -> PlacedOrder: ...

    async def cancel_order(
        self, symbol: Symbol, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None: ...

    async def cancel_all_orders(self, symbol: Symbol) -> None: ...

    async def get_order(self, symbol: Symbol, order_id: str) -> OrderInfo: ...

    async def find_order(self, symbol: Symbol, client_order_id: str) -> OrderInfo | None: ...

    async def open_orders(self, symbol: Symbol | None = None) -> list[OrderInfo]: ...

    async def place_stop(self, request: StopRequest) -> str: ...

    async def open_stops(self, symbol: Symbol | None = None) -> list[StopOrderInfo]: ...

    async def cancel_stop(
        self, symbol: Symbol, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None: ...

    # -- streams (handlers are called synchronously on the event loop)
    def on_price(self, handler: PriceHandler) -> None: ...

    def on_kline(self, handler: KlineHandler) -> None: ...

    def on_order(self, handler: OrderHandler) -> None: ...

    def on_position(self, handler: PositionHandler) -> None: ...

    def on_connection(self, handler: ConnectionHandler) -> None: ...

    async def subscribe_prices(self, symbol: Symbol) -> None: ...

    async def subscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> None: ...

    async def unsubscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> None: ...

    async def subscribe_account(self) -> None:
        """Private order, position and balance streams (login first)."""
        ...

    def health(self) -> ConnectionHealth: ...

    async def reconnect_streams(self) -> None:
        """Drop and re-open the websockets (re-login, re-subscribe): a feed gone silent."""
        ...
