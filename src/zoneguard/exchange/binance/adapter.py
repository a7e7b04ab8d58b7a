"""``BinanceExchange``: the :class:`~zoneguard.exchange.port.ExchangePort` for Binance
USDⓈ-M futures, in one-way position mode (``positionSide`` BOTH, Binance's default).

It composes the REST client, three streams (``/market`` for trades and klines, ``/public``
for the book's best prices, ``/private`` for the account) and the parsers; what leaves it
is venue-neutral. What Binance cannot do, the adapter says rather than hides:

* No stop-loss or take-profit rides on an entry order (research §0.1): an
  :class:`OrderRequest` carrying presets is refused before anything is sent; the exchange
  backstop is a conditional order on the Algo service (:meth:`place_stop`), placed once the
  fill is seen.
* Every conditional order lives on ``/fapi/v1/algoOrder`` since 2025-12-09.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import aiohttp

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import (
    Balance,
    KlineBar,
    OrderInfo,
    OrderOrigin,
    OrderType,
    PositionInfo,
    StopOrderInfo,
    TimeInForce,
)
from zoneguard.domain.values import MarginMode, PriceSource, Symbol
from zoneguard.exchange.binance import parse
from zoneguard.exchange.binance.ids import is_valid_client_order_id
from zoneguard.exchange.binance.rest import BinanceRestClient
from zoneguard.exchange.binance.settings import BinanceSettings
from zoneguard.exchange.binance.ws import BinanceStream
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    ExchangeError,
    InvalidRequest,
    MarketUnavailable,
    OrderNotFound,
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

LAST_PRICE_BUDGET = RateBudget(calls=200, window_s=60.0)
"""``GET /fapi/v1/ticker/price`` weighs 1 of the 2,400 a minute; 200 leaves ample room."""
CAPABILITIES = VenueCapabilities(
    preset_stops=False,
    native_trailing=True,
    batch_orders=5,
    position_modes=("one_way", "hedge"),
    sends_orders_now=False,
)
"""Research §0.1, §A.2, §A.5: no TP/SL on an entry through the API, TRAILING_STOP_MARKET on
the Algo service, ``batchOrders`` of at most 5, one-way mode by default."""
_TIME_IN_FORCE = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "GTX",
}
_WORKING_TYPE = {PriceSource.LAST: "CONTRACT_PRICE", PriceSource.MARK: "MARK_PRICE"}
_MARGIN_TYPE = {MarginMode.ISOLATED: "ISOLATED", MarginMode.CROSS: "CROSSED"}
NO_CHANGE_NEEDED = frozenset({-4046, -4059})
""""No need to change margin type" / "position side": already as asked."""


class BinanceExchange:
    """Binance USDⓈ-M futures behind the venue-neutral exchange port."""

    venue = "binance"
    capabilities = CAPABILITIES
    last_price_budget = LAST_PRICE_BUDGET

    def __init__(
        self, settings: BinanceSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._rest: BinanceRestClient | None = None
        self._market: BinanceStream | None = None
        self._private: BinanceStream | None = None
        self._listen_key: str | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._contracts: dict[str, ContractSpec] = {}
        self._price_handlers: list[PriceHandler] = []
        self._kline_handlers: list[KlineHandler] = []
        self._order_handlers: list[OrderHandler] = []
        self._position_handlers: list[PositionHandler] = []
        self._connection_handlers: list[ConnectionHandler] = []

    def __repr__(self) -> str:
        return f"BinanceExchange({self._settings!r})"

    # -- lifecycle
    async def start(self) -> None:
        """Open the session and measure the clock; streams open on first subscribe."""
        if self._rest is not None:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        s = self._settings
        self._rest = BinanceRestClient(
            s.rest_url,
            s.api_key,
            s.api_secret,
            timeout_s=s.rest_timeout_s,
            recv_window_ms=s.recv_window_ms,
        )
        await self._rest.start()
        self._market = self._stream(lambda: f"{s.route('market')}/stream", "public", True)
        self._private = self._stream(self._private_url, "private", False)
        try:
            await self._rest.sync_clock()
            log.info("binance clock offset %d ms", self._rest.clock_offset_ms)
        except ExchangeError as exc:
            log.warning("binance clock measurement failed (%s); using the local clock", exc)

    def _stream(self, url: Callable[[], str], name: str, combined: bool) -> BinanceStream:
        s = self._settings
        return BinanceStream(
            url,
            name=name,
            on_message=self._dispatch,
            on_state=self._connection_changed,
            session=self._session,
            combined=combined,
            silence_timeout_s=s.silence_timeout_s,
            reconnect_initial_s=s.reconnect_initial_s,
            reconnect_max_s=s.reconnect_max_s,
        )

    def _private_url(self) -> str:
        if self._listen_key is None:
            raise AuthenticationFailed("no listenKey: subscribe_account() first")
        return f"{self._settings.route('private')}/ws?listenKey={self._listen_key}"

    async def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        for stream in (self._market, self._private):
            if stream is not None:
                await stream.close()
        if self._rest is not None:
            await self._rest.close()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        self._rest = self._market = self._private = None

    @property
    def rest(self) -> BinanceRestClient:
        if self._rest is None:
            raise RuntimeError("BinanceExchange.start() has not been called")
        return self._rest

    # -- reference data and account
    async def server_time_ms(self) -> int:
        return await self.rest.sync_clock()

    async def contract(self, symbol: Symbol) -> ContractSpec:
        cached = self._contracts.get(symbol)
        if cached is not None:
            return cached
        info = await self.rest.exchange_info()
        for row in info.get("symbols") or []:
            if row.get("status") == "TRADING" and row.get("contractType") == "PERPETUAL":
                with contextlib.suppress(parse.WireFormatError):
                    spec = parse.contract_spec(row)
                    self._contracts[spec.symbol] = spec
        known = self._contracts.get(symbol)
        if known is None:
            raise MarketUnavailable(f"unknown or closed perpetual {symbol}")
        return known

    async def last_price(self, symbol: Symbol) -> Decimal:
        reply = await self.rest.ticker_price(symbol)
        return parsed(lambda r: parse.req_decimal(r, "price"), reply, "binance ticker/price")

    async def klines(
        self, symbol: Symbol, timeframe: str, start_s: int, end_s: int
    ) -> list[KlineBar]:
        rows = await self.rest.klines(symbol, timeframe, start_s * 1000, end_s * 1000 + 999)
        return parsed(lambda r: parse.rest_klines(symbol, timeframe, r), rows, "binance klines")

    async def balances(self) -> list[Balance]:
        rows = await self.rest.balance()
        return [parsed(_balance, row, "binance balance") for row in rows]

    async def positions(self, symbol: Symbol | None = None) -> list[PositionInfo]:
        rows = await self.rest.position_risk(symbol)
        positions = []
        for row in rows:
            size = await self._size(str(row.get("symbol")))
            positions.append(parsed(parse.position_risk, row, "binance positionRisk", size))
        return [p for p in positions if p.contracts > 0]

    async def set_leverage(
        self, symbol: Symbol, leverage: Decimal, margin_mode: MarginMode
    ) -> None:
        try:
            await self.rest.set_margin_type(symbol, _MARGIN_TYPE[margin_mode])
        except ExchangeError as exc:
            if exc.code not in NO_CHANGE_NEEDED:
                raise
        await self.rest.set_leverage(symbol, int(leverage))

    # -- orders
    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        params = await self._order_params(request)
        reply = await self.rest.new_order(params)
        log.info(
            "order accepted: %s %s %s cid=%s id=%s",
            request.symbol,
            request.position_side.value,
            "close" if request.reduce_only else "open",
            request.client_order_id,
            reply.get("orderId"),
        )
        return PlacedOrder(str(reply["orderId"]), parse.positive_or_none(reply, "price"))

    async def _order_params(self, request: OrderRequest) -> list[tuple[str, str]]:
        if request.preset_stop_loss is not None or request.preset_take_profit is not None:
            raise InvalidRequest("Binance attaches no stop-loss or take-profit to an entry")
        cid = request.client_order_id
        if cid is not None and not is_valid_client_order_id(cid):
            raise InvalidRequest(f"client order id {cid!r} breaks Binance's rule")
        size = await self._size(request.symbol)
        params = [
            ("symbol", request.symbol),
            ("side", parse.order_side_for(request.position_side, request.reduce_only)),
            ("positionSide", "BOTH"),
            ("type", "MARKET" if request.order_type is OrderType.MARKET else "LIMIT"),
            ("quantity", str(parse.quantity_of(request.contracts, size))),
        ]
        if request.order_type is OrderType.LIMIT:
            if request.price is None:
                raise InvalidRequest("a limit order needs a price")
            params += [("price", str(request.price))]
            params += [("timeInForce", _TIME_IN_FORCE[request.time_in_force])]
        if request.reduce_only:
            params.append(("reduceOnly", "true"))
        if cid is not None:
            params.append(("newClientOrderId", cid))
        params.append(("newOrderRespType", "RESULT"))
        return params

    async def cancel_order(
        self, symbol: Symbol, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        await self.rest.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def cancel_all_orders(self, symbol: Symbol) -> None:
        """Cancels the symbol's ordinary orders; algo (conditional) orders are left alone."""
        await self.rest.cancel_all(symbol)

    async def get_order(self, symbol: Symbol, order_id: str) -> OrderInfo:
        row = await self.rest.query_order(symbol, order_id=order_id)
        return await self._order(row)

    async def find_order(self, symbol: Symbol, client_order_id: str) -> OrderInfo | None:
        """By ``origClientOrderId``: Binance keeps every order it accepted queryable (a
        refused GTX is not kept: it never existed)."""
        try:
            row = await self.rest.query_order(symbol, client_order_id=client_order_id)
        except OrderNotFound:
            return None
        return await self._order(row)

    async def open_orders(self, symbol: Symbol | None = None) -> list[OrderInfo]:
        return [await self._order(row) for row in await self.rest.open_orders(symbol)]

    async def _order(self, row: Any) -> OrderInfo:
        size = await self._size(str(row.get("symbol")))
        return parsed(parse.rest_order, row, "binance order", size)

    async def place_stop(self, request: StopRequest) -> str:
        """A reduce-only STOP_MARKET or TAKE_PROFIT_MARKET on the Algo service; without a
        quantity it closes the whole side (``closePosition``)."""
        kind = "STOP_MARKET" if request.origin is OrderOrigin.STOP_LOSS else "TAKE_PROFIT_MARKET"
        params = [
            ("symbol", request.symbol),
            ("side", parse.order_side_for(request.position_side, reduce_only=True)),
            ("positionSide", "BOTH"),
            ("type", kind),
            ("triggerPrice", str(request.trigger_price)),
            ("workingType", _WORKING_TYPE[request.price_source]),
        ]
        if request.contracts is None:
            params.append(("closePosition", "true"))
        else:
            size = await self._size(request.symbol)
            params += [("quantity", str(parse.quantity_of(request.contracts, size)))]
            params += [("reduceOnly", "true")]
        if request.client_order_id is not None:
            params.append(("clientAlgoId", request.client_order_id))
        reply = await self.rest.new_algo_order(params)
        return str(reply["algoId"])

    async def open_stops(self, symbol: Symbol | None = None) -> list[StopOrderInfo]:
        rows = await self.rest.open_algo_orders(symbol)
        stops = []
        for row in rows:
            size = await self._size(str(row.get("symbol")))
            stops.append(parsed(parse.algo_order, row, "binance openAlgoOrders", size))
        return stops

    async def cancel_stop(
        self, symbol: Symbol, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        await self.rest.cancel_algo_order(algo_id=order_id, client_algo_id=client_order_id)

    async def _size(self, symbol: str) -> Decimal:
        return (await self.contract(symbol)).contract_size

    # -- streams
    def on_price(self, handler: PriceHandler) -> None:
        self._price_handlers.append(handler)

    def on_kline(self, handler: KlineHandler) -> None:
        self._kline_handlers.append(handler)

    def on_order(self, handler: OrderHandler) -> None:
        self._order_handlers.append(handler)

    def on_position(self, handler: PositionHandler) -> None:
        self._position_handlers.append(handler)

    def on_connection(self, handler: ConnectionHandler) -> None:
        self._connection_handlers.append(handler)

    @property
    def _market_stream(self) -> BinanceStream:
        if self._market is None:
            raise RuntimeError("BinanceExchange.start() has not been called")
        return self._market

    async def subscribe_prices(self, symbol: Symbol) -> None:
        """Trades (``aggTrade``: the last price, as BitMart's ticker gives it)."""
        await self.contract(symbol)  # the grid is known before the first push
        market = self._market_stream
        market.start()
        await market.subscribe([f"{symbol.lower()}@aggTrade"])

    async def subscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> None:
        market = self._market_stream
        market.start()
        await market.subscribe([f"{symbol.lower()}@kline_{tf}" for tf in timeframes])

    async def unsubscribe_klines(self, symbol: Symbol, timeframes: Sequence[str]) -> None:
        await self._market_stream.unsubscribe([f"{symbol.lower()}@kline_{tf}" for tf in timeframes])

    async def subscribe_account(self) -> None:
        """A listenKey, the private route with it, and its keep-alive every 30 minutes."""
        if not self._settings.has_credentials:
            raise AuthenticationFailed("no Binance API key and secret configured")
        self._listen_key = await self.rest.new_listen_key()
        private = self._private
        if private is None:
            raise RuntimeError("BinanceExchange.start() has not been called")
        private.start()
        if self._keepalive is None:
            self._keepalive = asyncio.get_running_loop().create_task(self._keep_listen_key())

    async def _keep_listen_key(self) -> None:
        while True:
            await asyncio.sleep(self._settings.listen_key_keepalive_s)
            try:
                await self.rest.keep_alive_listen_key()
            except ExchangeError as exc:
                log.warning("binance listenKey keep-alive failed (%s): a new one", exc)
                await self._renew_listen_key()

    async def _renew_listen_key(self) -> None:
        """A listenKey expired (``listenKeyExpired``) or was refused: get one and
        reconnect the private route with it (the owner reconciles on the state change)."""
        try:
            self._listen_key = await self.rest.new_listen_key()
        except ExchangeError as exc:
            log.error("binance listenKey not renewed: %s", exc)
            return
        if self._private is not None:
            await self._private.force_reconnect()

    def health(self) -> ConnectionHealth:
        market, private = self._market, self._private
        age = None
        if market is not None and market.last_data_ns is not None:
            age = (time.monotonic_ns() - market.last_data_ns) / 1e9
        return ConnectionHealth(
            public_connected=market is not None and market.connected,
            private_connected=private is not None and private.connected,
            private_logged_in=private is not None and private.connected,
            last_public_message_age_s=age,
            reconnects=sum(s.reconnects for s in (market, private) if s is not None),
        )

    async def reconnect_streams(self) -> None:
        for stream in (self._market, self._private):
            if stream is not None:
                await stream.force_reconnect()

    # -- push routing (hot path)
    def _dispatch(self, name: str, data: Any, received_ns: int) -> None:
        try:
            if name.endswith("@aggtrade"):
                if self._price_handlers:
                    emit(self._price_handlers, parse.agg_trade_tick(data, received_ns))
            elif "@kline_" in name:
                emit(self._kline_handlers, parse.kline_push(data, received_ns))
            elif name == "ORDER_TRADE_UPDATE":
                size = self._known_size(str(data.get("o", {}).get("s")))
                if size is not None:
                    emit(self._order_handlers, parse.order_trade_update(data, size))
            elif name == "ACCOUNT_UPDATE":
                sizes = {symbol: spec.contract_size for symbol, spec in self._contracts.items()}
                for position in parse.account_update_positions(data, sizes):
                    emit(self._position_handlers, position)
            elif name == "listenKeyExpired":
                asyncio.get_running_loop().create_task(self._renew_listen_key())
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.error("unreadable binance %s push dropped: %r", name, exc)

    def _known_size(self, symbol: str) -> Decimal | None:
        spec = self._contracts.get(symbol)
        if spec is None:
            log.warning("binance push for %s, whose contract was never read: dropped", symbol)
            return None
        return spec.contract_size

    def _connection_changed(self, name: str, up: bool) -> None:
        log.info("binance %s websocket %s", name, "up" if up else "down")
        emit_connection(self._connection_handlers, name, up)


def _balance(row: Any) -> Balance:
    total = parse.req_decimal(row, "binance balance")
    available = parse.req_decimal(row, "availableBalance")
    unrealized = row.get("crossUnPnl")
    return Balance(
        currency=parse.req_text(row, "asset"),
        available=available,
        frozen=max(total - available, Decimal(0)),
        position_margin=Decimal(0),
        equity=total,
        unrealized_pnl=None if unrealized is None else parse.req_decimal(row, "crossUnPnl"),
    )
