"""BitMart wire payloads -> venue-neutral domain types.

Every function takes the already-decoded JSON (``data`` of a REST envelope or a push)
and returns ``zoneguard.domain.market`` types; BitMart's side codes, ``state`` ints and
string-encoded decimals stop here. ``"-"`` and ``""`` mean "not applicable" on the wire
and become None. Malformed input raises :class:`WireFormatError` rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import (
    Balance,
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
from zoneguard.exchange.bitmart.enums import (
    decode_open_type,
    decode_position_type,
    decode_side,
    origin_of_order_type,
)
from zoneguard.exchange.bitmart.topics import neutral_timeframe

Row = Mapping[str, Any]
_ZERO = Decimal(0)

# WS order ``action`` -> event kind (PROTOCOL §4). Actions that execute the order carry
# this push's fill in ``last_trade``; submit/cancel pushes may repeat an older one.
_KIND_BY_ACTION = {
    1: OrderEventKind.FILL,
    2: OrderEventKind.SUBMITTED,
    3: OrderEventKind.CANCELLED,
    4: OrderEventKind.LIQUIDATION,  # cancelled by liquidation
    5: OrderEventKind.OTHER,  # cancelled by ADL
    6: OrderEventKind.LIQUIDATION,  # partial liquidation
    7: OrderEventKind.LIQUIDATION,  # bankruptcy order
    8: OrderEventKind.OTHER,  # passive ADL fill
    9: OrderEventKind.OTHER,  # active ADL fill
}
_ACTIONS_WITH_FILL = frozenset({1, 6, 7, 8, 9})
_MARKET_EXECUTED_ORIGINS = frozenset(
    {OrderOrigin.TAKE_PROFIT, OrderOrigin.STOP_LOSS, OrderOrigin.LIQUIDATION, OrderOrigin.OTHER}
)


class WireFormatError(ValueError):
    """A BitMart payload that does not have the documented shape."""


# -- scalar helpers ----------------------------------------------------------------------


def opt_decimal(raw: object) -> Decimal | None:
    """A wire number (usually a string) or None for ``"-"``, ``""`` and null."""
    if raw is None or raw == "" or raw == "-":
        return None
    if isinstance(raw, bool):
        raise WireFormatError(f"expected a number, got {raw!r}")
    if isinstance(raw, str | int):
        try:
            return Decimal(raw)
        except InvalidOperation as exc:
            raise WireFormatError(f"not a number: {raw!r}") from exc
    if isinstance(raw, float):
        return Decimal(repr(raw))
    raise WireFormatError(f"expected a number, got {type(raw).__name__}")


def req_decimal(row: Row, key: str) -> Decimal:
    value = opt_decimal(row.get(key))
    if value is None:
        raise WireFormatError(f"missing number {key!r}")
    return value


def positive_or_none(raw: object) -> Decimal | None:
    """For prices where BitMart writes ``"0"`` to mean "none" (market orders, no liquidation)."""
    value = opt_decimal(raw)
    return value if value is not None and value > 0 else None


def opt_text(raw: object) -> str | None:
    if raw is None or raw == "" or raw == "-":
        return None
    return str(raw)


def req_text(row: Row, key: str) -> str:
    value = opt_text(row.get(key))
    if value is None:
        raise WireFormatError(f"missing text {key!r}")
    return value


def opt_int(raw: object, default: int = 0) -> int:
    if raw is None or raw == "" or raw == "-" or isinstance(raw, bool):
        return default
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw))
    except ValueError as exc:
        raise WireFormatError(f"not an integer: {raw!r}") from exc


# -- market data -------------------------------------------------------------------------


def parse_ticker(data: Row, received_ns: int) -> PriceTick:
    """``futures/ticker`` push. Hot path: only the four prices become Decimals."""
    try:
        bid = data.get("bid_price")
        ask = data.get("ask_price")
        mark = data.get("mark_price")
        return PriceTick(
            symbol=data["symbol"],
            last=Decimal(data["last_price"]),
            bid=Decimal(bid) if bid else None,
            ask=Decimal(ask) if ask else None,
            mark=Decimal(mark) if mark else None,
            received_ns=received_ns,
        )
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise WireFormatError(f"bad ticker push: {exc!r}") from exc


def parse_kline_push(
    venue_timeframe: str, data: Row, received_ns: int, *, symbol: str | None = None
) -> list[KlineBar]:
    """``futures/klineBin<tf>:SYMBOL`` push: ``{symbol, items:[{o,h,l,c,v,ts}]}``."""
    bar_symbol = opt_text(data.get("symbol")) or symbol
    if bar_symbol is None:
        raise WireFormatError("kline push without a symbol")
    timeframe = neutral_timeframe(venue_timeframe)
    items = data.get("items")
    if not isinstance(items, list):
        raise WireFormatError("kline push without items")
    return [
        KlineBar(
            symbol=bar_symbol,
            timeframe=timeframe,
            open_time_s=opt_int(item.get("ts")),
            open=req_decimal(item, "o"),
            high=req_decimal(item, "h"),
            low=req_decimal(item, "l"),
            close=req_decimal(item, "c"),
            volume=req_decimal(item, "v"),
            received_ns=received_ns,
        )
        for item in items
    ]


def parse_rest_klines(symbol: str, timeframe: str, rows: list[Row]) -> list[KlineBar]:
    """``GET /contract/public/kline`` rows (``timestamp`` in seconds, bar open)."""
    return [
        KlineBar(
            symbol=symbol,
            timeframe=timeframe,
            open_time_s=opt_int(row.get("timestamp")),
            open=req_decimal(row, "open_price"),
            high=req_decimal(row, "high_price"),
            low=req_decimal(row, "low_price"),
            close=req_decimal(row, "close_price"),
            volume=req_decimal(row, "volume"),
        )
        for row in rows
    ]


def parse_contract(row: Row) -> ContractSpec:
    """A ``details`` row. ``price_precision`` IS the tick (``"0.1"``), ``vol_precision`` the lot."""
    max_volume = req_decimal(row, "max_volume")
    return ContractSpec(
        symbol=req_text(row, "symbol"),
        base_currency=req_text(row, "base_currency"),
        quote_currency=req_text(row, "quote_currency"),
        contract_size=req_decimal(row, "contract_size"),
        tick_size=req_decimal(row, "price_precision"),
        lot_size=req_decimal(row, "vol_precision"),
        min_volume=req_decimal(row, "min_volume"),
        max_volume=max_volume,
        market_max_volume=opt_decimal(row.get("market_max_volume")) or max_volume,
        min_leverage=req_decimal(row, "min_leverage"),
        max_leverage=req_decimal(row, "max_leverage"),
        last_price=positive_or_none(row.get("last_price")),
    )


# -- orders ------------------------------------------------------------------------------


def parse_trade_price(row: Row) -> Decimal:
    """The price of a ``market-trade`` row: the last price when it is the newest trade."""
    price = positive_or_none(row.get("price"))
    if price is None:
        raise ValueError(f"market trade without a positive price: {row.get('price')!r}")
    return price


def order_status(state: int, size: Decimal, deal_size: Decimal) -> OrderStatus:
    """BitMart has no "cancelled" state: 4 means finished, ``deal_size`` says how."""
    fully_dealt = size > 0 and deal_size >= size
    if state == 1:
        return OrderStatus.PENDING
    if state == 2:
        if fully_dealt:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if deal_size > 0 else OrderStatus.OPEN
    if state == 4:
        return OrderStatus.FILLED if fully_dealt else OrderStatus.CANCELLED
    raise WireFormatError(f"unknown BitMart order state {state!r}")


def _order_type(wire_type: object, origin: OrderOrigin, price: Decimal | None) -> OrderType:
    if wire_type == "limit":
        return OrderType.LIMIT
    if wire_type == "market" or origin in _MARKET_EXECUTED_ORIGINS:
        return OrderType.MARKET
    return OrderType.LIMIT if price is not None else OrderType.MARKET


def parse_order(row: Row) -> OrderInfo:
    """An order from REST (order, get-open-orders, order-history) or a WS order push."""
    try:
        position_side, reduce_only = decode_side(row.get("side"))
        wire_type = row.get("type")
        origin = origin_of_order_type(wire_type)
        price = positive_or_none(row.get("price"))
        size = req_decimal(row, "size")
        deal_size = opt_decimal(row.get("deal_size")) or _ZERO
        return OrderInfo(
            order_id=req_text(row, "order_id"),
            client_order_id=opt_text(row.get("client_order_id")),
            symbol=req_text(row, "symbol"),
            position_side=position_side,
            reduce_only=reduce_only,
            order_type=_order_type(wire_type, origin, price),
            price=price,
            contracts=size,
            filled_contracts=deal_size,
            avg_fill_price=positive_or_none(row.get("deal_avg_price")),
            status=order_status(opt_int(row.get("state"), -1), size, deal_size),
            leverage=positive_or_none(row.get("leverage")),
            margin_mode=decode_open_type(row.get("open_type")),
            origin=origin,
            trigger_price=positive_or_none(row.get("trigger_price")),
            preset_take_profit=positive_or_none(row.get("preset_take_profit_price")),
            preset_stop_loss=positive_or_none(row.get("preset_stop_loss_price")),
            created_ms=opt_int(row.get("create_time")),
            updated_ms=opt_int(row.get("update_time")),
        )
    except WireFormatError:
        raise
    except (ValueError, TypeError) as exc:
        raise WireFormatError(f"bad order: {exc}") from exc


def parse_last_trade(last_trade: Row) -> Fill:
    """``last_trade`` of an order push. BitMart's fee is negative when paid; ours positive."""
    return Fill(
        trade_id=req_text(last_trade, "lastTradeID"),
        contracts=req_decimal(last_trade, "fillQty"),
        price=req_decimal(last_trade, "fillPrice"),
        fee=_ZERO - (opt_decimal(last_trade.get("fee")) or _ZERO),
        fee_currency=opt_text(last_trade.get("feeCcy")) or "USDT",
    )


def parse_order_push(data: object) -> list[OrderUpdate]:
    """``futures/order`` push: ``[{action, order}]``."""
    entries = data if isinstance(data, list) else [data]
    updates = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("order"), Mapping):
            raise WireFormatError("order push entry without an order object")
        action = opt_int(entry.get("action"), -1)
        order = entry["order"]
        last_trade = order.get("last_trade")
        fill = None
        if action in _ACTIONS_WITH_FILL and isinstance(last_trade, Mapping):
            fill = parse_last_trade(last_trade)
        kind = _KIND_BY_ACTION.get(action, OrderEventKind.OTHER)
        updates.append(OrderUpdate(kind=kind, order=parse_order(order), fill=fill))
    return updates


def parse_trade_row(row: Row) -> Fill:
    """``GET /contract/private/trades`` row. ``paid_fees`` is already positive when paid."""
    return Fill(
        trade_id=req_text(row, "trade_id"),
        contracts=req_decimal(row, "vol"),
        price=req_decimal(row, "price"),
        fee=opt_decimal(row.get("paid_fees")) or _ZERO,
        fee_currency=opt_text(row.get("fee_ccy")) or "USDT",  # USDT-M fees are in USDT
    )


def parse_plan_order(row: Row) -> StopOrderInfo:
    """``current-plan-order`` row. Position TP/SL (``plan_category`` 2) cover the whole
    position, so their ``contracts`` is None whatever ``size`` says."""
    position_side, _ = decode_side(row.get("side"))
    whole_position = opt_int(row.get("plan_category")) == 2
    origin = origin_of_order_type(row.get("type"))
    return StopOrderInfo(
        order_id=req_text(row, "order_id"),
        client_order_id=opt_text(row.get("client_order_id")),
        symbol=req_text(row, "symbol"),
        position_side=position_side,
        origin=OrderOrigin.PLAN if origin is OrderOrigin.CLIENT else origin,
        trigger_price=req_decimal(row, "trigger_price"),
        contracts=None if whole_position else positive_or_none(row.get("size")),
        created_ms=opt_int(row.get("create_time")),
    )


# -- positions and balances --------------------------------------------------------------


def parse_position_push(data: object) -> list[PositionInfo]:
    """``futures/position`` push rows (``hold_volume`` contracts, int ``open_type``)."""
    rows = data if isinstance(data, list) else [data]
    positions = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise WireFormatError("position push row is not an object")
        positions.append(
            PositionInfo(
                symbol=req_text(row, "symbol"),
                side=decode_position_type(row.get("position_type")),
                contracts=req_decimal(row, "hold_volume"),
                entry_price=opt_decimal(row.get("hold_avg_price")) or _ZERO,
                margin_mode=decode_open_type(row.get("open_type")),
                liquidation_price=positive_or_none(row.get("liquidate_price")),
                close_contracts=opt_decimal(row.get("close_volume")),
                close_avg_price=positive_or_none(row.get("close_avg_price")),
                updated_ms=opt_int(row.get("update_time")),
            )
        )
    return positions


def parse_position_v2(row: Row) -> PositionInfo:
    """``position-v2`` row; ``position_side`` ``both`` (one-way mode) reads the sign."""
    amount = opt_decimal(row.get("position_amount"))
    wire_side = row.get("position_side")
    if wire_side == "long":
        side = Side.LONG
    elif wire_side == "short":
        side = Side.SHORT
    elif amount is not None:
        side = Side.SHORT if amount < 0 else Side.LONG
    else:
        raise WireFormatError(f"position-v2 row without a side: {wire_side!r}")
    held = opt_decimal(row.get("current_amount"))
    if held is None:
        held = abs(amount) if amount is not None else _ZERO
    return PositionInfo(
        symbol=req_text(row, "symbol"),
        side=side,
        contracts=held,
        entry_price=opt_decimal(row.get("entry_price"))
        or opt_decimal(row.get("open_avg_price"))
        or _ZERO,
        leverage=positive_or_none(row.get("leverage")),
        margin_mode=decode_open_type(row.get("open_type")),
        mark_price=positive_or_none(row.get("mark_price")),
        liquidation_price=positive_or_none(row.get("liquidation_price")),
        unrealized_pnl=opt_decimal(row.get("unrealized_pnl")),
        realized_pnl=opt_decimal(row.get("realized_value")),
        fees=opt_decimal(row.get("current_fee")),
        close_contracts=opt_decimal(row.get("close_vol")),
        close_avg_price=positive_or_none(row.get("close_avg_price")),
        updated_ms=opt_int(row.get("timestamp")),
    )


def parse_position_v1(row: Row) -> PositionInfo:
    """``position`` (v1) row: ``position_type`` side, capitalised ``margin_type``."""
    return PositionInfo(
        symbol=req_text(row, "symbol"),
        side=decode_position_type(row.get("position_type")),
        contracts=req_decimal(row, "current_amount"),
        entry_price=opt_decimal(row.get("entry_price"))
        or opt_decimal(row.get("open_avg_price"))
        or _ZERO,
        leverage=positive_or_none(row.get("leverage")),
        margin_mode=decode_open_type(row.get("margin_type")),
        mark_price=positive_or_none(row.get("mark_price")),
        unrealized_pnl=opt_decimal(row.get("unrealized_value")),
        realized_pnl=opt_decimal(row.get("realized_value")),
        fees=opt_decimal(row.get("current_fee")),
        close_contracts=opt_decimal(row.get("close_vol")),
        close_avg_price=positive_or_none(row.get("close_avg_price")),
        updated_ms=opt_int(row.get("timestamp")),
    )


def parse_balance(row: Row) -> Balance:
    """``assets-detail`` row or ``futures/asset`` push (the push has no equity/unrealized)."""
    return Balance(
        currency=req_text(row, "currency"),
        available=req_decimal(row, "available_balance"),
        frozen=opt_decimal(row.get("frozen_balance")) or _ZERO,
        position_margin=opt_decimal(row.get("position_deposit")) or _ZERO,
        equity=opt_decimal(row.get("equity")),
        unrealized_pnl=opt_decimal(row.get("unrealized")),
    )
