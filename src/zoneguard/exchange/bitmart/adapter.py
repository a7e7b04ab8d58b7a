"""``BitMartExchange``: the :class:`~zoneguard.exchange.port.ExchangePort` for BitMart.

It composes the REST client, two websockets (public prices, private account) and the
parsers; what leaves it is venue-neutral. Stream handlers are called synchronously the
moment a push is parsed (no queue hop on the hot path); a handler that raises is logged
and does not stop the others or the socket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import aiohttp

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import (
    Balance,
    Fill,
    KlineBar,
    OrderInfo,
    PositionInfo,
    StopOrderInfo,
)
from zoneguard.domain.values import MarginMode, PriceSource, Symbol
from zoneguard.exchange.bitmart import parse
from zoneguard.exchange.bitmart.bodies import (
    modify_presets_body,
    positive_text,
    submit_order_body,
    tp_sl_body,
)
from zoneguard.exchange.bitmart.enums import encode_open_type
from zoneguard.exchange.bitmart.ids import client_order_id_for
from zoneguard.exchange.bitmart.lane import OrderLane
from zoneguard.exchange.bitmart.rest import USER_AGENT, BitMartRestClient, new_session
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.exchange.bitmart.signing import ws_login_args
from zoneguard.exchange.bitmart.topics import (
    ACCOUNT_TOPICS,
    ASSET_PREFIX,
    KLINE_PREFIX,
    ORDER_TOPIC,
    POSITION_TOPIC,
    TICKER_PREFIX,
    kline_step_minutes,
    kline_topic,
    split_topic,
    ticker_topic,
)
from zoneguard.exchange.bitmart.ws import BitMartWebSocket
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    ExchangeError,
    InvalidRequest,
    MarketUnavailable,
)
from zoneguard.exchange.handlers import emit, emit_connection, parsed
from zoneguard.exchange.port import (
    ConnectionHandler,
    ConnectionHealth,
    KlineHandler,
    OrderHandler,
    OrderRequest,
    PlacedOrder,
    PositionHandler,
    PriceHandler,
    RateBudget,
    StopRequest,
    VenueCapabilities,
)

log = logging.getLogger(__name__)

LAST_PRICE_BUDGET = RateBudget(calls=20, window_s=2.0)
"""REST last prices, all symbols together: ``last_price`` takes turns between two public
endpoints that each allow 12 calls per 2 s per IP (contract details and market trades),
10 of each here, so 2 per window stay free on each for contract lookups and the like."""

CAPABILITIES = VenueCapabilities(
    preset_stops=True,
    native_trailing=True,
    batch_orders=0,
    position_modes=("hedge", "one_way"),
    sends_orders_now=True,
)
"""PROTOCOL §6: preset TP/SL on submit-order, trail orders, hedge mode by default (one-way
when switched while flat), the warm order lane (``lane.py``)."""

BalanceHandler = Callable[[Balance], None]

__all__ = ["BalanceHandler", "BitMartExchange", "client_order_id_for"]


class BitMartExchange:
    """BitMart USDT-M futures behind the venue-neutral exchange port."""

    venue = "bitmart"
    capabilities = CAPABILITIES
    last_price_budget = LAST_PRICE_BUDGET

    def __init__(
        self, settings: BitMartSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._rest: BitMartRestClient | None = None
        self._lane: OrderLane | None = None
        self._public: BitMartWebSocket | None = None
        self._private: BitMartWebSocket | None = None
        self._contracts: dict[str, ContractSpec] = {}
        self._position_v2 = True
        self._price_from_trades = False
        self._price_handlers: list[PriceHandler] = []
        self._kline_handlers: list[KlineHandler] = []
        self._order_handlers: list[OrderHandler] = []
        self._position_handlers: list[PositionHandler] = []
        self._balance_handlers: list[BalanceHandler] = []
        self._connection_handlers: list[ConnectionHandler] = []

    def __repr__(self) -> str:
        return f"BitMartExchange({self._settings!r})"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the pooled session and calibrate the clock; sockets open on first subscribe."""
        if self._rest is not None:
            return
        if self._session is None:
            self._session = new_session()
            self._owns_session = True
        s = self._settings
        if s.order_connections > 0:
            self._lane = OrderLane(
                s.rest_url,
                size=s.order_connections,
                user_agent=USER_AGENT,
                connect_timeout_s=s.rest_timeout_s,
            )
            self._lane.start()
        self._rest = BitMartRestClient(
            s.rest_url,
            s.api_key,
            s.api_secret,
            s.api_memo,
            timeout_s=s.rest_timeout_s,
            session=self._session,
            system_url=s.resolved_system_url,
            lane=self._lane,
        )
        self._public = self._new_socket(s.ws_public_url, "public", login=False)
        self._private = self._new_socket(s.ws_private_url, "private", login=True)
        try:
            offset = await self._rest.calibrate_clock()
            log.info("bitmart clock offset %d ms", offset)
        except ExchangeError as exc:
            log.warning("bitmart clock calibration failed (%s); using the local clock", exc)

    def _new_socket(self, url: str, name: str, *, login: bool) -> BitMartWebSocket:
        s = self._settings
        return BitMartWebSocket(
            url,
            name=name,
            on_message=self._dispatch,
            on_state=self._connection_changed,
            session=self._session,
            login_args=self._login_args if login else None,
            ping_interval_s=s.ping_interval_s,
            silence_timeout_s=s.silence_timeout_s,
            reconnect_initial_s=s.reconnect_initial_s,
            reconnect_max_s=s.reconnect_max_s,
            ack_timeout_s=s.ack_timeout_s,
        )

    def _login_args(self) -> list[str]:
        s = self._settings
        return ws_login_args(s.api_key, s.api_secret, s.api_memo, self.rest.now_ms())

    async def close(self) -> None:
        for socket in (self._public, self._private):
            if socket is not None:
                await socket.close()
        if self._lane is not None:
            await self._lane.close()
            self._lane = None
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._rest = self._public = self._private = None
        if self._owns_session:
            self._session = None

    @property
    def rest(self) -> BitMartRestClient:
        if self._rest is None:
            raise RuntimeError("BitMartExchange.start() has not been called")
        return self._rest

    @property
    def _public_ws(self) -> BitMartWebSocket:
        if self._public is None:
            raise RuntimeError("BitMartExchange.start() has not been called")
        return self._public

    @property
    def _private_ws(self) -> BitMartWebSocket:
        if self._private is None:
            raise RuntimeError("BitMartExchange.start() has not been called")
        return self._private

    # -- reference data and account ----------------------------------------------------

    async def server_time_ms(self) -> int:
        return await self.rest.system_time_ms()

    async def contract(self, symbol: Symbol) -> ContractSpec:
        cached = self._contracts.get(symbol)
        if cached is not None:
            return cached
        spec = await self._fetch_contract(symbol)
        self._contracts[symbol] = spec
        return spec

    async def _fetch_contract(self, symbol: Symbol) -> ContractSpec:
        rows = await self.rest.contract_details(symbol)
        for row in rows:
            if row.get("symbol") == symbol:
                return parsed(parse.parse_contract, row, "contract details")
        raise MarketUnavailable(f"unknown contract {symbol}")

    async def last_price(self, symbol: Symbol) -> Decimal:
        """Asked of contract details and of the latest trade in turn: two rate-limit
        buckets, so the silent-feed guard can ask twice as often (see
        :data:`LAST_PRICE_BUDGET`)."""
        self._price_from_trades = not self._price_from_trades
        if self._price_from_trades:
            trades = await self.rest.market_trades(symbol, limit=1)
            if trades:
                return parsed(parse.parse_trade_price, trades[0], "market-trade")
            # No trade yet (a new listing): the contract details say what there is.
        spec = await self._fetch_contract(symbol)
        if spec.last_price is None:
            raise MarketUnavailable(f"no last price for {symbol}")
        return spec.last_price

    async def balances(self) -> list[Balance]:
        rows = await self.rest.assets_detail()
        return [parsed(parse.parse_balance, row, "assets-detail") for row in rows]

    async def positions(self, symbol: Symbol | None = None) -> list[PositionInfo]:
        """Open positions only (zero rows, which BitMart returns for a symbol, are dropped)."""
        positions: list[PositionInfo]
        if self._position_v2:
            try:
                rows = await self.rest.position_v2(symbol)
                positions = [parsed(parse.parse_position_v2, r, "position-v2") for r in rows]
            except InvalidRequest as exc:
                if exc.code != 30000:  # only "endpoint not found" sends us to the old one
                    raise
                log.warning("position-v2 unavailable; falling back to position")
                self._position_v2 = False
                return await self.positions(symbol)
        else:
            rows = await self.rest.position(symbol)
            positions = [parsed(parse.parse_position_v1, r, "position") for r in rows]
        return [p for p in positions if p.contracts > 0]

    async def set_leverage(
        self, symbol: Symbol, leverage: Decimal, margin_mode: MarginMode
    ) -> None:
        await self.rest.submit_leverage(
            symbol, positive_text(leverage, "leverage"), encode_open_type(margin_mode)
        )

    # -- orders ------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        body = submit_order_body(request)
        sent = self.rest.submit_order_now(body)
        data = await (sent if sent is not None else self.rest.submit_order(body))
        return self._accepted(request, data)

    def place_order_now(self, request: OrderRequest) -> Awaitable[PlacedOrder] | None:
        """:meth:`place_order` with the request written to a warm connection before this
        returns: the caller may journal and log while it travels. None, with nothing
        sent, when no warm connection is free (or the rate-limit gate says wait); a
        request BitMart would misread raises InvalidRequest here, before anything is sent.
        """
        sent = self.rest.submit_order_now(submit_order_body(request))
        return None if sent is None else self._accepted_later(request, sent)

    async def _accepted_later(
        self, request: OrderRequest, sent: Awaitable[dict[str, Any]]
    ) -> PlacedOrder:
        return self._accepted(request, await sent)

    def _accepted(self, request: OrderRequest, data: dict[str, Any]) -> PlacedOrder:
        log.info(
            "order accepted: %s %s %s cid=%s id=%s",
            request.symbol,
            request.position_side.value,
            "close" if request.reduce_only else "open",
            request.client_order_id,
            data["order_id"],
        )
        return PlacedOrder(order_id=data["order_id"], price=parse.positive_or_none(data["price"]))

    async def cancel_order(
        self, symbol: Symbol, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        await self.rest.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def cancel_all_orders(self, symbol: Symbol) -> None:
        """Cancels the symbol's ordinary orders; TP/SL and plan orders are left alone."""
        await self.rest.cancel_orders(symbol)

    async def get_order(self, symbol: Symbol, order_id: str) -> OrderInfo:
        return parsed(parse.parse_order, await self.rest.order(symbol, order_id), "order")

    async def find_order(self, symbol: Symbol, client_order_id: str) -> OrderInfo | None:
        """The order carrying ``client_order_id``: open orders first, then history."""
        for row in await self.rest.open_orders(symbol):
            if row.get("client_order_id") == client_order_id:
                return parsed(parse.parse_order, row, "get-open-orders")
        rows = await self.rest.order_history(symbol, client_order_id=client_order_id)
        matches = [
            parsed(parse.parse_order, row, "order-history")
            for row in rows
            if row.get("client_order_id") == client_order_id
        ]
        if not matches:
            return None
        return max(matches, key=lambda order: (order.updated_ms, order.created_ms))

    async def open_orders(self, symbol: Symbol | None = None) -> list[OrderInfo]:
        rows = await self.rest.open_orders(symbol)
        return [parsed(parse.parse_order, row, "get-open-orders") for row in rows]

    async def place_stop(self, request: StopRequest) -> str:
        return await self.rest.submit_tp_sl_order(tp_sl_body(request))

    async def open_stops(self, symbol: Symbol | None = None) -> list[StopOrderInfo]:
        rows = await self.rest.current_plan_orders(symbol, plan_type="profit_loss")
        return [parsed(parse.parse_plan_order, row, "current-plan-order") for row in rows]

    async def cancel_stop(
        self, symbol: Symbol, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        await self.rest.cancel_plan_order(
            symbol, order_id=order_id, client_order_id=client_order_id
        )

    # -- extras beyond the port (BitMart can, the worker may use) ----------------------

    async def modify_preset_stops(
        self,
        symbol: Symbol,
        order_id: str,
        *,
        take_profit: Decimal | None = None,
        stop_loss: Decimal | None = None,
        price_source: PriceSource = PriceSource.LAST,
    ) -> None:
        """Move the preset TP/SL of a still-open entry order."""
        body = modify_presets_body(symbol, order_id, take_profit, stop_loss, price_source)
        await self.rest.modify_preset_plan_order(body)

    async def fills(self, symbol: Symbol, *, order_id: str | None = None) -> list[Fill]:
        rows = await self.rest.trades(symbol, order_id=order_id)
        return [parsed(parse.parse_trade_row, row, "trades") for row in rows]

    async def klines(
        self, symbol: Symbol, timeframe: str, start_s: int, end_s: int
    ) -> list[KlineBar]:
        rows = await self.rest.kline(symbol, kline_step_minutes(timeframe), start_s, end_s)
        return parsed(lambda r: parse.parse_rest_klines(symbol, timeframe, r), rows, "kline")

    # -- streams -----------------------------------------------------------------------

    def on_price(self, handler: PriceHandler) -> None:
        self._price_handlers.append(handler)

    def on_kline(self, handler: KlineHandler) -> None:
        self._kline_handlers.append(handler)

    def on_order(self, handler: OrderHandler) -> None:
        self._order_handlers.append(handler)

    def on_position(self, handler: PositionHandler) -> None:
        self._position_handlers.append(handler)

    def on_balance(self, handler: BalanceHandler) -> None:
        """Balance pushes of ``futures/asset:USDT`` (not part of the port)."""
        self._balance_handlers.append(handler)

    def on_connection(self, handler: ConnectionHandler) -> None:
        self._connection_handlers.append(handler)

    async def subscribe_prices(self, symbol: Symbol) -> None:
        public = self._public_ws
        public.start()
        await public.subscribe([ticker_topic(symbol)])

    async def subscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> None:
        topics = [kline_topic(symbol, tf) for tf in timeframes]  # validates before sending
        public = self._public_ws
        public.start()
        await public.subscribe(topics)

    async def unsubscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> None:
        await self._public_ws.unsubscribe([kline_topic(symbol, tf) for tf in timeframes])

    async def subscribe_account(self) -> None:
        """Log in on the private socket, then order, position and USDT balance pushes."""
        if not self._settings.has_credentials:
            raise AuthenticationFailed("no BitMart API key, secret and memo configured")
        private = self._private_ws
        private.start()
        if not await private.wait_ready(self._settings.ack_timeout_s):
            log.warning("private websocket not up yet; account topics will follow the login")
        await private.subscribe(list(ACCOUNT_TOPICS))

    def health(self) -> ConnectionHealth:
        public, private = self._public, self._private
        age = None
        if public is not None and public.last_data_ns is not None:
            age = (time.monotonic_ns() - public.last_data_ns) / 1e9
        return ConnectionHealth(
            public_connected=public is not None and public.connected,
            private_connected=private is not None and private.socket_open,
            private_logged_in=private is not None and private.logged_in,
            last_public_message_age_s=age,
            reconnects=sum(ws.reconnects for ws in (public, private) if ws is not None),
        )

    async def reconnect_streams(self) -> None:
        """Drop both sockets now (they come back and resubscribe by themselves)."""
        for socket in (self._public, self._private):
            if socket is not None:
                await socket.force_reconnect()

    # -- push routing (hot path) -------------------------------------------------------

    def _dispatch(self, group: str, data: Any, received_ns: int) -> None:
        channel, argument = split_topic(group)
        try:
            if channel == TICKER_PREFIX:
                if self._price_handlers:
                    for row in data if isinstance(data, list) else (data,):
                        emit(self._price_handlers, parse.parse_ticker(row, received_ns))
            elif channel == ORDER_TOPIC:
                for update in parse.parse_order_push(data):
                    emit(self._order_handlers, update)
            elif channel == POSITION_TOPIC:
                for position in parse.parse_position_push(data):
                    emit(self._position_handlers, position)
            elif channel.startswith(KLINE_PREFIX):
                venue_tf = channel[len(KLINE_PREFIX) :]
                for bar in parse.parse_kline_push(venue_tf, data, received_ns, symbol=argument):
                    emit(self._kline_handlers, bar)
            elif group.startswith(ASSET_PREFIX):
                emit(self._balance_handlers, parse.parse_balance(data))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("unreadable %s push dropped: %r", group, exc)

    def _connection_changed(self, name: str, up: bool) -> None:
        log.info("bitmart %s websocket %s", name, "up" if up else "down")
        emit_connection(self._connection_handlers, name, up)
