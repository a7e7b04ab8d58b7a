"""Engine records -> BitMart JSON shapes (REST ``data`` rows and websocket push bodies).

Field names, key sets and JSON types follow the fixtures in ``tests/fixtures/bitmart``:
decimals are strings, enums ints, ids strings in queries and pushes (the submit-order reply's
int id is built by the route). Nothing here touches the engine's state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from zoneguard.sim.book import Book
from zoneguard.sim.brackets import brackets_for, max_notional_at
from zoneguard.sim.candles import Bar
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.decimals import fmt, fmt_money
from zoneguard.sim.depth_stream import DepthView
from zoneguard.sim.engine import MAINTENANCE_MARGIN_RATE, Engine
from zoneguard.sim.model import (
    LONG,
    ONE_WAY_MODE,
    PLAN_STATE_ACTIVE,
    STATE_FINISHED,
    STATE_LIVE,
    Balance,
    Fill,
    MarketTrade,
    Order,
    PlanOrder,
    Position,
)
from zoneguard.sim.trailing import TrailOrder

Json = dict[str, Any]

ACCOUNT = "futures"
NOT_APPLICABLE = "-"
FUNDING_RATE = "0.0001"
FUNDING_INTERVAL_MS = 8 * 3_600_000
FUNDING_UPPER_LIMIT = "0.0375"
FUNDING_LOWER_LIMIT = "-0.0375"


PUSH_PRICE_TYPES = {1: "last_price", 2: "fair_price"}
"""The order push's ``trigger_price_type`` for the request's 1 (last) / 2 (fair) enum."""


def _opt(value: Decimal | None) -> str:
    return "" if value is None else fmt(value)


def _id(value: int | None) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------- public


def contract_details(book: Book, engine: Engine, now_ms: int) -> Json:
    contract = book.contract
    candles = engine.candles(contract.symbol)
    last = contract.from_ticks(book.last_ticks)
    open_24h = candles.open_24h() or last
    change = (last - open_24h) / open_24h if open_24h else Decimal(0)
    high, low = _range_24h(engine, contract.symbol, last)
    volume = candles.volume_24h
    return {
        "symbol": contract.symbol,
        "product_type": 1,
        "open_timestamp": 1_594_080_000_000,
        "expire_timestamp": 0,
        "settle_timestamp": 0,
        "base_currency": contract.base_currency,
        "quote_currency": contract.quote_currency,
        "last_price": fmt(last),
        "volume_24h": str(volume),
        "turnover_24h": fmt_money(contract.notional(volume, last)),
        "index_price": fmt(last),
        "index_name": contract.symbol,
        "contract_size": fmt(contract.contract_size),
        "min_leverage": str(contract.min_leverage),
        "max_leverage": str(contract.max_leverage),
        "price_precision": fmt(contract.tick),
        "vol_precision": "1",
        "max_volume": str(contract.max_volume),
        "market_max_volume": str(contract.market_max_volume),
        "min_volume": str(contract.min_volume),
        "funding_rate": FUNDING_RATE,
        "expected_funding_rate": FUNDING_RATE,
        "open_interest": "0",
        "open_interest_value": "0",
        "high_24h": fmt(high),
        "low_24h": fmt(low),
        "change_24h": fmt(change.quantize(Decimal("0.000001"))),
        "funding_interval_hours": 8,
        "funding_time": next_funding_time(now_ms),
        "status": "Trading",
        "delist_time": 0,
    }


def _range_24h(engine: Engine, symbol: str, last: Decimal) -> tuple[Decimal, Decimal]:
    bar = engine.candles(symbol).live_bar("1D")
    if bar is None:
        return last, last
    return bar.high, bar.low


def next_funding_time(now_ms: int) -> int:
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def depth_rest(book: Book, levels: int, now_ms: int) -> Json:
    bids, asks = book.depth(levels)
    contract = book.contract
    return {
        "asks": _ladder(contract, asks),
        "bids": _ladder(contract, bids),
        "timestamp": now_ms,
        "symbol": contract.symbol,
    }


def _ladder(contract: SimContract, levels: list[tuple[int, int]]) -> list[list[str]]:
    rows: list[list[str]] = []
    total = 0
    for ticks, volume in levels:
        total += volume
        rows.append([fmt(contract.from_ticks(ticks)), str(volume), str(total)])
    return rows


def kline_rest(bar: Bar) -> Json:
    return {
        "timestamp": bar.open_s,
        "open_price": fmt(bar.open),
        "close_price": fmt(bar.close),
        "high_price": fmt(bar.high),
        "low_price": fmt(bar.low),
        "volume": str(bar.volume),
    }


def market_trade_rest(trade: MarketTrade, contract: SimContract) -> Json:
    qty = trade.qty * contract.contract_size
    return {
        "symbol": trade.symbol,
        "price": fmt(trade.price),
        "qty": fmt(qty),
        "quote_qty": fmt(qty * trade.price),
        "time": trade.time // 1000,
        "is_buyer_maker": trade.buyer_is_maker,
    }


def funding_rate_rest(symbol: str, now_ms: int) -> Json:
    return {
        "timestamp": now_ms,
        "symbol": symbol,
        "rate_value": FUNDING_RATE,
        "expected_rate": FUNDING_RATE,
        "funding_time": next_funding_time(now_ms),
        "funding_upper_limit": FUNDING_UPPER_LIMIT,
        "funding_lower_limit": FUNDING_LOWER_LIMIT,
    }


def funding_history_rest(symbol: str, now_ms: int, limit: int) -> list[Json]:
    """The last ``limit`` settlements before now (the simulator's rate never changes)."""
    last = next_funding_time(now_ms) - FUNDING_INTERVAL_MS
    return [
        {
            "symbol": symbol,
            "funding_rate": FUNDING_RATE,
            "funding_time": last - i * FUNDING_INTERVAL_MS,
        }
        for i in range(limit)
    ]


def bracket_rule(contract: SimContract) -> Json:
    return {
        "symbol": contract.symbol,
        "brackets": [
            {
                "bracket": b.bracket,
                "initial_leverage": b.initial_leverage,
                "notional_cap": fmt(b.notional_cap),
                "notional_floor": fmt(b.notional_floor),
                "maint_margin_ratio": fmt(b.maint_margin_ratio),
                "cum": fmt(b.cum),
            }
            for b in brackets_for(contract.max_leverage)
        ],
    }


# ---------------------------------------------------------------------- websocket public


def ticker_push(book: Book, engine: Engine) -> Json:
    contract = book.contract
    candles = engine.candles(contract.symbol)
    last = contract.from_ticks(book.last_ticks)
    open_24h = candles.open_24h() or last
    change = (last - open_24h) / open_24h if open_24h else Decimal(0)
    bids, asks = book.depth(1)
    return {
        "symbol": contract.symbol,
        "volume_24": str(candles.volume_24h),
        "mark_price": fmt(last),
        "index_price": fmt(last),
        "last_price": fmt(last),
        "range": fmt(change.quantize(Decimal("0.0000000001"))),
        "ask_price": fmt(contract.from_ticks(asks[0][0])),
        "ask_vol": str(asks[0][1]),
        "bid_price": fmt(contract.from_ticks(bids[0][0])) if bids else "0",
        "bid_vol": str(bids[0][1]) if bids else "0",
    }


def kline_push(symbol: str, bar: Bar) -> Json:
    return {
        "symbol": symbol,
        "items": [
            {
                "o": fmt(bar.open),
                "h": fmt(bar.high),
                "l": fmt(bar.low),
                "c": fmt(bar.close),
                "v": str(bar.volume),
                "ts": bar.open_s,
            }
        ],
    }


def depth_push(contract: SimContract, way: int, levels: list[tuple[int, int]], now_ms: int) -> Json:
    return {
        "symbol": contract.symbol,
        "way": way,
        "depths": _levels(contract, levels),
        "ms_t": now_ms,
    }


def _levels(contract: SimContract, levels: list[tuple[int, int]]) -> list[Json]:
    return [{"price": fmt(contract.from_ticks(ticks)), "vol": str(vol)} for ticks, vol in levels]


def depth_all_push(
    contract: SimContract, bids: list[tuple[int, int]], asks: list[tuple[int, int]], now_ms: int
) -> Json:
    """``futures/depthAll{N}``: both sides whole in every push."""
    return {
        "symbol": contract.symbol,
        "asks": _levels(contract, asks),
        "bids": _levels(contract, bids),
        "ms_t": now_ms,
    }


def depth_increase_push(contract: SimContract, view: DepthView, kind: str, now_ms: int) -> Json:
    """``futures/depthIncrease{N}``: ``type`` snapshot (whole book) or update (changes)."""
    return {
        "symbol": contract.symbol,
        "asks": _levels(contract, view.asks),
        "bids": _levels(contract, view.bids),
        "ms_t": now_ms,
        "version": view.version,
        "type": kind,
    }


def bookticker_push(book: Book, now_ms: int) -> Json:
    contract = book.contract
    bids, asks = book.depth(1)
    bid_ticks, bid_vol = bids[0] if bids else (0, 0)
    return {
        "symbol": contract.symbol,
        "best_bid_price": fmt(contract.from_ticks(bid_ticks)),
        "best_bid_vol": str(bid_vol),
        "best_ask_price": fmt(contract.from_ticks(asks[0][0])),
        "best_ask_vol": str(asks[0][1]),
        "ms_t": now_ms,
    }


def funding_push(symbol: str, now_ms: int) -> Json:
    """``futures/fundingRate``: the coming settlement and the one after (constant rate)."""
    coming = next_funding_time(now_ms)
    return {
        "symbol": symbol,
        "fundingRate": FUNDING_RATE,
        "fundingTime": coming,
        "nextFundingRate": FUNDING_RATE,
        "nextFundingTime": coming + FUNDING_INTERVAL_MS,
        "funding_upper_limit": FUNDING_UPPER_LIMIT,
        "funding_lower_limit": FUNDING_LOWER_LIMIT,
        "ts": now_ms,
    }


def trade_push(trade: MarketTrade) -> list[Json]:
    return [
        {
            "trade_id": trade.trade_id,
            "symbol": trade.symbol,
            "deal_price": fmt(trade.price),
            "deal_vol": str(trade.qty),
            "m": trade.buyer_is_maker,
            "created_at": iso_timestamp(trade.time),
        }
    ]


def iso_timestamp(ms: int) -> str:
    """``2023-02-24T07:54:11.124000000Z``: BitMart prints nanoseconds."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}000000Z"


# ---------------------------------------------------------------------- account: REST


def order_rest(order: Order) -> Json:
    """A row of ``order``, ``get-open-orders`` and ``order-history``.

    Orders sent by a TP/SL or plan trigger are listed with their execution type (``market``
    or ``limit``); ``trigger_price``/``execution_price`` say a trigger sent them.
    """
    return {
        "order_id": str(order.order_id),
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "leverage": fmt(order.leverage),
        "open_type": order.open_type,
        "size": str(order.size),
        "price": fmt(order.price),
        "deal_avg_price": fmt(order.deal_avg_price),
        "deal_size": str(order.deal_size),
        "state": order.state,
        "create_time": order.create_time,
        "update_time": order.update_time,
        "position_mode": order.position_mode,
        "account": ACCOUNT,
        "activation_price": _opt(order.activation_price),
        "callback_rate": _opt(order.callback_rate),
        "activation_price_type": order.activation_price_type,
        "preset_take_profit_price_type": order.preset_tp_type,
        "preset_stop_loss_price_type": order.preset_sl_type,
        "preset_take_profit_price": _opt(order.preset_tp),
        "preset_stop_loss_price": _opt(order.preset_sl),
        "trigger_price": _opt(order.trigger_price),
        "execution_price": _opt(order.execution_price),
        "executive_order_id": "",
    }


def trail_rest(trail: TrailOrder) -> Json:
    """A trailing order as ``get-open-orders``/``order-history`` list it (``type`` trailing):
    state 2 while it waits, 4 once it fired or was cancelled."""
    return {
        "order_id": str(trail.order_id),
        "client_order_id": "",
        "symbol": trail.symbol,
        "side": trail.side,
        "type": "trailing",
        "leverage": fmt(trail.leverage),
        "open_type": trail.open_type,
        "size": str(trail.size),
        "price": "0",
        "deal_avg_price": "0",
        "deal_size": "0",
        "state": STATE_LIVE if trail.state == PLAN_STATE_ACTIVE else STATE_FINISHED,
        "create_time": trail.create_time,
        "update_time": trail.update_time,
        "position_mode": trail.position_mode,
        "account": ACCOUNT,
        "activation_price": fmt(trail.activation_price),
        "callback_rate": fmt(trail.callback_rate),
        "activation_price_type": trail.activation_price_type,
        "preset_take_profit_price_type": 0,
        "preset_stop_loss_price_type": 0,
        "preset_take_profit_price": "",
        "preset_stop_loss_price": "",
        "trigger_price": "",
        "execution_price": "",
        "executive_order_id": _id(trail.executive_order_id),
    }


def trade_rest(fill: Fill) -> Json:
    return {
        "order_id": str(fill.order_id),
        "trade_id": str(fill.trade_id),
        "symbol": fill.symbol,
        "side": fill.side,
        "price": fmt(fill.price),
        "vol": str(fill.qty),
        "exec_type": fill.exec_type,
        "profit": fill.realised_pnl > 0,
        "realised_profit": fmt_money(fill.realised_pnl),
        "paid_fees": fmt_money(fill.fee),
        "account": ACCOUNT,
        "create_time": fill.time,
    }


def plan_rest(plan: PlanOrder, whole_position: int = 0) -> Json:
    """A ``current-plan-order`` row; a whole-position TP/SL shows the position's size."""
    return {
        "order_id": str(plan.order_id),
        "client_order_id": plan.client_order_id,
        "executive_price": fmt(plan.executive_price),
        "trigger_price": fmt(plan.trigger_price),
        "size": str(plan.size or whole_position),
        "symbol": plan.symbol,
        "state": plan.state,
        "side": plan.side,
        "mode": plan.mode,
        "price_way": plan.price_way,
        "price_type": plan.price_type,
        "plan_category": plan.plan_category,
        "type": plan.type if plan.is_tp_sl else "plan",
        "leverage": fmt(plan.leverage),
        "open_type": plan.open_type,
        "create_time": plan.create_time,
        "update_time": plan.update_time,
        "position_mode": plan.position_mode,
        "executive_order_id": _id(plan.executive_order_id),
        "preset_take_profit_price_type": plan.preset_tp_type,
        "preset_stop_loss_price_type": plan.preset_sl_type,
        "preset_take_profit_price": _opt(plan.preset_tp),
        "preset_stop_loss_price": _opt(plan.preset_sl),
    }


def _position_numbers(position: Position, engine: Engine) -> Json:
    contract = engine.contract(position.symbol)
    mark = engine.last_price(position.symbol)
    size = position.hold * contract.contract_size
    return {
        "mark": mark,
        "current_value": size * mark,
        "position_value": size * position.entry_price,
        "unrealized": engine.unrealized_pnl(position),
        "maintenance": size * mark * MAINTENANCE_MARGIN_RATE,
    }


def position_rest(position: Position, engine: Engine, now_ms: int) -> Json:
    """A row of ``GET /contract/private/position``."""
    n = _position_numbers(position, engine)
    return {
        "symbol": position.symbol,
        "leverage": fmt(position.leverage),
        "timestamp": now_ms,
        "current_fee": fmt_money(position.fees),
        "open_timestamp": position.open_time,
        "current_value": fmt_money(n["current_value"]),
        "mark_price": fmt(n["mark"]),
        "mark_value": fmt_money(n["current_value"]),
        "position_value": fmt_money(n["position_value"]),
        "position_cross": fmt_money(position.margin),
        "maintenance_margin": fmt_money(n["maintenance"]),
        "margin_type": position.open_type.capitalize(),
        "position_mode": engine.position_mode,
        "close_vol": str(position.close_volume),
        "close_avg_price": fmt_money(position.close_avg_price),
        "open_avg_price": fmt_money(position.entry_price),
        "entry_price": fmt_money(position.entry_price),
        "current_amount": str(position.hold),
        "unrealized_value": fmt_money(n["unrealized"]),
        "realized_value": fmt_money(position.realised_pnl),
        "position_type": position.position_type,
        "account": ACCOUNT,
    }


def position_v2_rest(position: Position, engine: Engine, now_ms: int) -> Json:
    """A row of ``GET /contract/private/position-v2``: hedge mode names the side and the
    amount is positive; one-way mode says ``both`` and signs the amount (- short)."""
    n = _position_numbers(position, engine)
    max_notional = max_notional_at(position.leverage)
    long = position.position_type == LONG
    if engine.position_mode == ONE_WAY_MODE:
        side, amount = "both", position.hold if long else -position.hold
    else:
        side, amount = ("long" if long else "short"), position.hold
    return {
        "symbol": position.symbol,
        "leverage": fmt(position.leverage),
        "position_amount": str(amount),
        "position_side": side,
        "entry_price": fmt_money(position.entry_price),
        "mark_price": fmt(n["mark"]),
        "liquidation_price": fmt_money(engine.liquidation_price(position)),
        "unrealized_pnl": fmt_money(n["unrealized"]),
        "initial_margin": fmt_money(position.margin),
        "maintenance_margin": fmt_money(n["maintenance"]),
        "position_value": fmt_money(n["current_value"]),
        "open_type": position.open_type,
        "max_notional_value": fmt(max_notional),
        "timestamp": now_ms,
        "current_fee": fmt_money(position.fees),
        "open_timestamp": position.open_time,
        "current_value": fmt_money(n["current_value"]),
        "close_vol": str(position.close_volume),
        "close_avg_price": fmt_money(position.close_avg_price),
        "open_avg_price": fmt_money(position.entry_price),
        "current_amount": str(position.hold),
        "realized_value": fmt_money(position.realised_pnl),
        "mark_value": fmt_money(n["current_value"]),
        "account": ACCOUNT,
    }


def position_risk_rest(position: Position, engine: Engine) -> Json:
    """A row of ``GET /contract/private/position-risk``; one-way mode signs the amount."""
    n = _position_numbers(position, engine)
    long = position.position_type == LONG
    signed = engine.position_mode == ONE_WAY_MODE and not long
    isolated = position.open_type == "isolated"
    return {
        "symbol": position.symbol,
        "position_amt": str(-position.hold if signed else position.hold),
        "mark_price": fmt(n["mark"]),
        "unrealized_profit": fmt_money(n["unrealized"]),
        "liquidation_price": fmt_money(engine.liquidation_price(position)),
        "leverage": fmt(position.leverage),
        "max_notional_value": fmt(max_notional_at(position.leverage)),
        "margin_type": position.open_type.capitalize(),
        "isolated_margin": fmt_money(position.margin) if isolated else "0",
        "position_side": "Long" if long else "Short",
        "notional": fmt_money(n["current_value"]),
        "update_time": position.update_time,
        "account": ACCOUNT,
    }


def max_value_at(leverage: Decimal) -> str:
    """``submit-leverage``'s ``max_value``: the largest position notional at a leverage."""
    return fmt(max_notional_at(leverage))


def assets_rest(balance: Balance) -> list[Json]:
    rows = [
        {
            "currency": "USDT",
            "position_deposit": fmt_money(balance.position_deposit),
            "frozen_balance": fmt_money(balance.frozen),
            "available_balance": fmt_money(balance.available),
            "equity": fmt_money(balance.equity),
            "unrealized": fmt_money(balance.unrealized),
        }
    ]
    for currency in ("BTC", "ETH"):
        rows.append(
            {
                "currency": currency,
                "position_deposit": "0",
                "frozen_balance": "0",
                "available_balance": "0",
                "equity": "0",
                "unrealized": "0",
            }
        )
    return rows


# ---------------------------------------------------------------------- account: websocket


def order_push(order: Order, action: int, fill: Fill | None) -> Json:
    """One element of the ``futures/order`` push array.

    ``last_trade`` is this push's fill, else the order's latest one (BitMart's cancel push
    of a partly filled order still carries it); null only before the first fill.
    """
    from_trigger = order.plan_order_id is not None and order.trigger_price is not None
    from_trail = order.activation_price is not None
    last_fill = fill or order.last_fill
    return {
        "action": action,
        "order": {
            "order_id": str(order.order_id),
            "client_order_id": order.client_order_id,
            "price": fmt(order.price),
            "size": str(order.size),
            "symbol": order.symbol,
            "state": order.state,
            "side": order.side,
            "type": order.origin,
            "leverage": fmt(order.leverage),
            "open_type": order.open_type,
            "deal_avg_price": fmt(order.deal_avg_price),
            "deal_size": str(order.deal_size),
            "create_time": order.create_time,
            "update_time": order.update_time,
            "plan_order_id": _id(order.plan_order_id),
            "last_trade": None if last_fill is None else _last_trade(last_fill),
            "trigger_price": fmt(order.trigger_price)
            if from_trigger and order.trigger_price is not None
            else NOT_APPLICABLE,
            # Text in the push, like its "-" placeholder in BitMart's sample and the names its
            # docs give (the request fields take the 1/2 enum).
            "trigger_price_type": PUSH_PRICE_TYPES.get(order.trigger_price_type, NOT_APPLICABLE)
            if from_trigger and order.trigger_price_type is not None
            else NOT_APPLICABLE,
            "execution_price": fmt(order.execution_price)
            if from_trigger and order.execution_price is not None
            else NOT_APPLICABLE,
            "activation_price_type": order.activation_price_type if from_trail else NOT_APPLICABLE,
            "activation_price": _opt(order.activation_price) if from_trail else NOT_APPLICABLE,
            "callback_rate": _opt(order.callback_rate) if from_trail else NOT_APPLICABLE,
            "position_mode": order.position_mode,
        },
    }


def _last_trade(fill: Fill) -> Json:
    return {
        "lastTradeID": fill.trade_id,
        "fillQty": str(fill.qty),
        "fillPrice": fmt(fill.price),
        "fee": fmt_money(-fill.fee),
        "feeCcy": "USDT",
    }


def position_push(position: Position, engine: Engine) -> Json:
    """One element of the ``futures/position`` push array (``open_type`` 1 isolated, 2 cross)."""
    return {
        "symbol": position.symbol,
        "hold_volume": str(position.hold),
        "position_type": position.position_type,
        "open_type": 1 if position.open_type == "isolated" else 2,
        "frozen_volume": str(position.pending_close),
        "close_volume": str(position.close_volume),
        "hold_avg_price": fmt_money(position.entry_price),
        "close_avg_price": fmt_money(position.close_avg_price),
        "open_avg_price": fmt_money(position.entry_price),
        "liquidate_price": fmt_money(engine.liquidation_price(position)),
        "create_time": position.open_time,
        "update_time": position.update_time,
        "position_mode": engine.position_mode,
    }


def asset_push(currency: str, balance: Balance | None) -> Json:
    if currency != "USDT" or balance is None:
        return {
            "currency": currency,
            "available_balance": "0",
            "position_deposit": "0",
            "frozen_balance": "0",
        }
    return {
        "currency": currency,
        "available_balance": fmt_money(balance.available),
        "position_deposit": fmt_money(balance.position_deposit),
        "frozen_balance": fmt_money(balance.frozen),
    }
