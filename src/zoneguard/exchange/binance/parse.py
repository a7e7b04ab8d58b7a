"""Binance USDⓈ-M wire payloads -> venue-neutral domain types.

Binance counts quantities in the base asset (BTC); the worker counts contracts. Here one
contract is the symbol's ``stepSize`` (``LOT_SIZE`` filter), so every valid quantity is a
whole number of contracts and the conversion is exact both ways.

Sides: an order is BUY or SELL with a ``positionSide`` of BOTH (one-way mode, Binance's
default) or LONG/SHORT (hedge mode). In one-way mode the position it acts on follows from
``reduceOnly``: a BUY opens a long unless it is reduce-only (then it closes a short), a
SELL opens a short unless it is reduce-only (then it closes a long).

Malformed input raises :class:`WireFormatError` rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import (
    Fill,
    KlineBar,
    OrderEventKind,
    OrderInfo,
    OrderOrigin,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionInfo,
    PriceTick,
    StopOrderInfo,
)
from zoneguard.domain.values import Side

Row = Mapping[str, Any]
ZERO = Decimal(0)
DEFAULT_MAX_LEVERAGE = Decimal(125)
"""``exchangeInfo`` does not carry leverage; the bracket endpoint does. Until it is read,
Binance's highest USDⓈ-M leverage bounds the check (inferred, not from exchangeInfo)."""

_STATUS = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.CANCELLED,
    "EXPIRED_IN_MATCH": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.CANCELLED,
}
_KIND_BY_EXECUTION = {
    "NEW": OrderEventKind.SUBMITTED,
    "TRADE": OrderEventKind.FILL,
    "CANCELED": OrderEventKind.CANCELLED,
    "EXPIRED": OrderEventKind.CANCELLED,
    "CALCULATED": OrderEventKind.LIQUIDATION,
    "AMENDMENT": OrderEventKind.OTHER,
}
_ORIGIN_BY_TYPE = {
    "STOP_MARKET": OrderOrigin.STOP_LOSS,
    "STOP": OrderOrigin.STOP_LOSS,
    "TAKE_PROFIT_MARKET": OrderOrigin.TAKE_PROFIT,
    "TAKE_PROFIT": OrderOrigin.TAKE_PROFIT,
    "TRAILING_STOP_MARKET": OrderOrigin.PLAN,
    "LIQUIDATION": OrderOrigin.LIQUIDATION,
}


class WireFormatError(ValueError):
    """A Binance payload that does not have the documented shape."""


# -- scalars
def req_decimal(row: Row, key: str) -> Decimal:
    raw = row.get(key)
    if raw is None or isinstance(raw, bool):
        raise WireFormatError(f"missing number {key!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise WireFormatError(f"{key!r} is not a number: {raw!r}") from exc
    if not value.is_finite():
        raise WireFormatError(f"{key!r} is not finite: {raw!r}")
    return value


def positive_or_none(row: Row, key: str) -> Decimal | None:
    """Binance writes "0" (or "0.00") where a price does not apply (market orders, no fill)."""
    if row.get(key) in (None, ""):
        return None
    value = req_decimal(row, key)
    return value if value > 0 else None


def req_text(row: Row, key: str) -> str:
    raw = row.get(key)
    if raw is None or raw == "":
        raise WireFormatError(f"missing text {key!r}")
    return str(raw)


def contracts_of(quantity: Decimal, contract_size: Decimal) -> Decimal:
    """Base quantity -> contracts (exact: Binance quantities sit on the step grid)."""
    return quantity / contract_size


def quantity_of(contracts: Decimal, contract_size: Decimal) -> Decimal:
    """Contracts -> the base quantity Binance expects, with the step's decimals."""
    return (contracts * contract_size).quantize(contract_size)


# -- sides
def position_side_of(side: str, position_side: str, reduce_only: bool) -> Side:
    """The position an order acts on (see the module docstring)."""
    if position_side == "LONG":
        return Side.LONG
    if position_side == "SHORT":
        return Side.SHORT
    if side not in ("BUY", "SELL"):
        raise WireFormatError(f"unknown order side {side!r}")
    buys = side == "BUY"
    return Side.LONG if buys != reduce_only else Side.SHORT


def order_side_for(position_side: Side, reduce_only: bool) -> str:
    """BUY or SELL for opening (``reduce_only=False``) or closing a ``position_side``."""
    opens_long = position_side is Side.LONG
    return "BUY" if opens_long != reduce_only else "SELL"


# -- reference data
def contract_spec(row: Row) -> ContractSpec:
    """One ``exchangeInfo.symbols[]`` entry."""
    filters = {str(f.get("filterType")): f for f in row.get("filters") or []}
    price = filters.get("PRICE_FILTER")
    lot = filters.get("LOT_SIZE")
    if price is None or lot is None:
        raise WireFormatError(f"{row.get('symbol')}: PRICE_FILTER or LOT_SIZE missing")
    step = req_decimal(lot, "stepSize")
    if step <= 0:
        raise WireFormatError(f"{row.get('symbol')}: stepSize must be positive")
    market = filters.get("MARKET_LOT_SIZE", lot)
    return ContractSpec(
        symbol=req_text(row, "symbol"),
        base_currency=req_text(row, "baseAsset"),
        quote_currency=req_text(row, "quoteAsset"),
        contract_size=step,
        tick_size=req_decimal(price, "tickSize"),
        lot_size=Decimal(1),
        min_volume=contracts_of(req_decimal(lot, "minQty"), step),
        max_volume=contracts_of(req_decimal(lot, "maxQty"), step),
        market_max_volume=contracts_of(req_decimal(market, "maxQty"), step),
        min_leverage=Decimal(1),
        max_leverage=DEFAULT_MAX_LEVERAGE,
    )


def min_notional(row: Row) -> Decimal | None:
    """The ``MIN_NOTIONAL`` filter's ``notional`` (quote currency), if the symbol has one."""
    for raw in row.get("filters") or []:
        if raw.get("filterType") == "MIN_NOTIONAL":
            return req_decimal(raw, "notional")
    return None


# -- prices
def agg_trade_tick(data: Row, received_ns: int) -> PriceTick:
    """``<symbol>@aggTrade`` (route ``/market``): the last traded price."""
    return PriceTick(req_text(data, "s"), req_decimal(data, "p"), received_ns=received_ns)


def book_ticker_tick(data: Row, received_ns: int) -> PriceTick:
    """``<symbol>@bookTicker`` (route ``/public``): best bid and ask; ``last`` is their
    middle (the stream carries no trade price)."""
    bid = req_decimal(data, "b")
    ask = req_decimal(data, "a")
    return PriceTick(req_text(data, "s"), (bid + ask) / 2, bid, ask, received_ns=received_ns)


def mark_price_tick(data: Row, received_ns: int) -> PriceTick:
    """``<symbol>@markPrice`` (route ``/market``)."""
    mark = req_decimal(data, "p")
    return PriceTick(req_text(data, "s"), mark, mark=mark, received_ns=received_ns)


_TIMEFRAMES = {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "1w"}


def kline_push(data: Row, received_ns: int) -> KlineBar:
    """``<symbol>@kline_<interval>`` (route ``/market``): the ``k`` object."""
    k = data.get("k")
    if not isinstance(k, Mapping):
        raise WireFormatError("kline push without 'k'")
    interval = req_text(k, "i")
    if interval not in _TIMEFRAMES:
        raise WireFormatError(f"unknown kline interval {interval!r}")
    return KlineBar(
        symbol=req_text(k, "s"),
        timeframe=interval,
        open_time_s=int(req_decimal(k, "t")) // 1000,
        open=req_decimal(k, "o"),
        high=req_decimal(k, "h"),
        low=req_decimal(k, "l"),
        close=req_decimal(k, "c"),
        volume=req_decimal(k, "v"),
        received_ns=received_ns,
    )


def rest_klines(symbol: str, timeframe: str, rows: Sequence[Sequence[Any]]) -> list[KlineBar]:
    """``GET /fapi/v1/klines``: arrays ``[openTime, open, high, low, close, volume, ...]``."""
    bars = []
    for row in rows:
        if len(row) < 6:
            raise WireFormatError(f"kline row too short: {row!r}")
        fields = dict(zip(("t", "o", "h", "l", "c", "v"), row[:6], strict=True))
        bars.append(
            KlineBar(
                symbol,
                timeframe,
                int(req_decimal(fields, "t")) // 1000,
                req_decimal(fields, "o"),
                req_decimal(fields, "h"),
                req_decimal(fields, "l"),
                req_decimal(fields, "c"),
                req_decimal(fields, "v"),
            )
        )
    return bars


# -- orders
def order_status(raw: str) -> OrderStatus:
    status = _STATUS.get(raw)
    if status is None:
        raise WireFormatError(f"unknown order status {raw!r}")
    return status


def _order_type(raw: str) -> OrderType:
    return OrderType.MARKET if raw.endswith("MARKET") or raw == "LIQUIDATION" else OrderType.LIMIT


def rest_order(row: Row, contract_size: Decimal) -> OrderInfo:
    """An order as ``POST/GET/DELETE /fapi/v1/order`` return it."""
    reduce_only = bool(row.get("reduceOnly", False))
    wire_type = str(row.get("origType") or row.get("type") or "LIMIT")
    return OrderInfo(
        order_id=req_text(row, "orderId"),
        client_order_id=row.get("clientOrderId") or None,
        symbol=req_text(row, "symbol"),
        position_side=position_side_of(
            req_text(row, "side"), str(row.get("positionSide", "BOTH")), reduce_only
        ),
        reduce_only=reduce_only,
        order_type=_order_type(wire_type),
        price=positive_or_none(row, "price"),
        contracts=contracts_of(req_decimal(row, "origQty"), contract_size),
        filled_contracts=contracts_of(req_decimal(row, "executedQty"), contract_size),
        avg_fill_price=positive_or_none(row, "avgPrice"),
        status=order_status(req_text(row, "status")),
        origin=_ORIGIN_BY_TYPE.get(wire_type, OrderOrigin.CLIENT),
        trigger_price=positive_or_none(row, "stopPrice"),
        created_ms=int(row.get("time") or row.get("updateTime") or 0),
        updated_ms=int(row.get("updateTime") or 0),
    )


def order_trade_update(event: Row, contract_size: Decimal) -> OrderUpdate:
    """``ORDER_TRADE_UPDATE`` on the user-data stream: the ``o`` object, with this push's
    fill (``l`` at ``L``, fee ``n`` in ``N``) when its execution type is TRADE."""
    o = event.get("o")
    if not isinstance(o, Mapping):
        raise WireFormatError("ORDER_TRADE_UPDATE without 'o'")
    reduce_only = bool(o.get("R", False))
    wire_type = str(o.get("ot") or o.get("o") or "LIMIT")
    client_id = str(o.get("c") or "")
    origin = _ORIGIN_BY_TYPE.get(wire_type, OrderOrigin.CLIENT)
    if client_id.startswith(("autoclose-", "adl_autoclose", "settlement_autoclose-")):
        origin = OrderOrigin.LIQUIDATION  # Binance's reserved ids for its own closes
    info = OrderInfo(
        order_id=req_text(o, "i"),
        client_order_id=client_id or None,
        symbol=req_text(o, "s"),
        position_side=position_side_of(req_text(o, "S"), str(o.get("ps", "BOTH")), reduce_only),
        reduce_only=reduce_only,
        order_type=_order_type(wire_type),
        price=positive_or_none(o, "p"),
        contracts=contracts_of(req_decimal(o, "q"), contract_size),
        filled_contracts=contracts_of(req_decimal(o, "z"), contract_size),
        avg_fill_price=positive_or_none(o, "ap"),
        status=order_status(req_text(o, "X")),
        origin=origin,
        trigger_price=positive_or_none(o, "sp"),
        updated_ms=int(o.get("T") or event.get("T") or 0),
    )
    execution = str(o.get("x", ""))
    kind = _KIND_BY_EXECUTION.get(execution, OrderEventKind.OTHER)
    fill = None
    if execution == "TRADE":
        fill = Fill(
            trade_id=str(o.get("t", "")),
            contracts=contracts_of(req_decimal(o, "l"), contract_size),
            price=req_decimal(o, "L"),
            fee=req_decimal(o, "n") if o.get("n") is not None else ZERO,
            fee_currency=str(o.get("N") or "USDT"),
        )
    return OrderUpdate(kind, info, fill)


# -- positions
def position_risk(row: Row, contract_size: Decimal) -> PositionInfo:
    """One ``GET /fapi/v3/positionRisk`` row. One-way mode writes the side in the sign of
    ``positionAmt`` (``positionSide`` BOTH); hedge mode writes LONG/SHORT."""
    amount = req_decimal(row, "positionAmt")
    wire_side = str(row.get("positionSide", "BOTH"))
    if wire_side in ("LONG", "SHORT"):
        side = Side.LONG if wire_side == "LONG" else Side.SHORT
    else:
        side = Side.SHORT if amount < 0 else Side.LONG
    liquidation = positive_or_none(row, "liquidationPrice")
    return PositionInfo(
        symbol=req_text(row, "symbol"),
        side=side,
        contracts=contracts_of(abs(amount), contract_size),
        entry_price=req_decimal(row, "entryPrice"),
        mark_price=positive_or_none(row, "markPrice"),
        liquidation_price=liquidation,
        unrealized_pnl=req_decimal(row, "unRealizedProfit")
        if row.get("unRealizedProfit") is not None
        else None,
        updated_ms=int(row.get("updateTime") or 0),
    )


def account_update_positions(
    event: Row, contract_sizes: Mapping[str, Decimal]
) -> list[PositionInfo]:
    """``ACCOUNT_UPDATE``'s ``a.P``: the positions that changed (symbols we do not know the
    contract of are skipped: we never traded them)."""
    account = event.get("a")
    if not isinstance(account, Mapping):
        raise WireFormatError("ACCOUNT_UPDATE without 'a'")
    positions = []
    for row in account.get("P") or []:
        symbol = req_text(row, "s")
        size = contract_sizes.get(symbol)
        if size is None:
            continue
        amount = req_decimal(row, "pa")
        wire_side = str(row.get("ps", "BOTH"))
        if wire_side in ("LONG", "SHORT"):
            side = Side.LONG if wire_side == "LONG" else Side.SHORT
        else:
            side = Side.SHORT if amount < 0 else Side.LONG
        positions.append(
            PositionInfo(
                symbol=symbol,
                side=side,
                contracts=contracts_of(abs(amount), size),
                entry_price=req_decimal(row, "ep"),
                unrealized_pnl=req_decimal(row, "up") if row.get("up") is not None else None,
                updated_ms=int(event.get("T") or event.get("E") or 0),
            )
        )
    return positions


# -- algo (conditional) orders
def algo_order(row: Row, contract_size: Decimal) -> StopOrderInfo:
    """One algo order (``GET /fapi/v1/algoOrder``, ``openAlgoOrders``). A
    ``closePosition`` order has no quantity: it closes the whole side (None)."""
    wire_type = str(row.get("orderType") or row.get("type") or "")
    reduce_only = bool(row.get("reduceOnly", False)) or bool(row.get("closePosition", False))
    quantity = positive_or_none(row, "quantity")
    return StopOrderInfo(
        order_id=req_text(row, "algoId"),
        client_order_id=row.get("clientAlgoId") or None,
        symbol=req_text(row, "symbol"),
        position_side=position_side_of(
            req_text(row, "side"), str(row.get("positionSide", "BOTH")), reduce_only
        ),
        origin=_ORIGIN_BY_TYPE.get(wire_type, OrderOrigin.PLAN),
        trigger_price=req_decimal(row, "triggerPrice"),
        contracts=None if quantity is None else contracts_of(quantity, contract_size),
        created_ms=int(row.get("createTime") or 0),
    )
