"""Binance's websocket payloads: market streams and user-data events.

Keys follow Binance's USDⓈ-M stream pages (Aggregate Trade, Book Ticker, Partial Book
Depth, Mark Price, Kline; user data: ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ALGO_UPDATE,
listenKeyExpired) and the SDK's models of them. Numbers are strings, ids and times
integers, as there. Values the engine does not model are constants, marked where they are
the simulator's choice rather than Binance's documented meaning:

* order books are the engine's synthetic ladder; ``u``/``U``/``pu`` are the simulator's
  own counter (one per push);
* ``nq`` (aggTrade, non-RPI quantity) equals ``q``: the simulator has no RPI orders;
* mark = index = settle price = last price; funding rate constant;
* kline ``n`` (trades), ``q``, ``V``, ``Q`` are derived from the engine's volume (one trade
  per print) and taker splits are zero: the engine keeps no taker split;
* ORDER_TRADE_UPDATE ``b``/``a`` (bid/ask notional) are "0", ``si``/``ss`` 0, ``V``
  EXPIRE_MAKER, ``pm`` NONE, ``gtd`` 0, ``er`` "0";
* ALGO_UPDATE ``V`` is NONE (Binance's default for algo orders), ``rm`` empty.
"""

from __future__ import annotations

from zoneguard.sim.binance import shapes
from zoneguard.sim.binance.memory import AlgoTerms, Memory
from zoneguard.sim.binance.routes_market import FUNDING_PERIOD_MS, FUNDING_RATE
from zoneguard.sim.binance.streams import Stream
from zoneguard.sim.candles import TIMEFRAME_SECONDS
from zoneguard.sim.decimals import fmt, fmt_money
from zoneguard.sim.engine import Engine
from zoneguard.sim.model import (
    ACTION_CANCEL,
    ACTION_FILL,
    LONG,
    ONE_WAY_MODE,
    Balance,
    OrderEvent,
    Position,
    PriceUpdate,
    is_buy,
)

Payload = dict[str, object]


# ---------------------------------------------------------------------- market streams


def book_ticker(engine: Engine, symbol: str, update_id: int, now_ms: int) -> Payload:
    book = engine.book(symbol)
    contract = book.contract
    bids, asks = book.depth(1)
    return {
        "e": "bookTicker",
        "u": update_id,
        "s": symbol,
        "b": fmt(contract.from_ticks(book.bid_ticks)),
        "B": fmt(bids[0][1] * contract.contract_size) if bids else "0",
        "a": fmt(contract.from_ticks(book.ask_ticks)),
        "A": fmt(asks[0][1] * contract.contract_size),
        "T": now_ms,
        "E": now_ms,
    }


def partial_depth(
    engine: Engine, stream: Stream, update_id: int, previous_id: int, now_ms: int
) -> Payload:
    """``<s>@depth<n>``: the top ``n`` levels each push (Binance's Partial Book Depth)."""
    book = engine.book(stream.symbol)
    contract = book.contract
    bids, asks = book.depth(stream.levels)

    def level(ticks: int, contracts: int) -> list[str]:
        return [fmt(contract.from_ticks(ticks)), fmt(contracts * contract.contract_size)]

    return {
        "e": "depthUpdate",
        "E": now_ms,
        "T": now_ms,
        "s": stream.symbol,
        "U": update_id,
        "u": update_id,
        "pu": previous_id,
        "b": [level(t, c) for t, c in bids],
        "a": [level(t, c) for t, c in asks],
    }


def agg_trade(engine: Engine, update: PriceUpdate) -> Payload:
    trade = update.trade
    qty = fmt(trade.qty * engine.contract(update.symbol).contract_size)
    return {
        "e": "aggTrade",
        "E": trade.time,
        "s": update.symbol,
        "a": trade.trade_id,
        "p": fmt(trade.price),
        "q": qty,
        "nq": qty,
        "f": trade.trade_id,
        "l": trade.trade_id,
        "T": trade.time,
        "m": trade.buyer_is_maker,
    }


def trade(engine: Engine, update: PriceUpdate) -> Payload:
    """``<s>@trade``: one print (shape as ccxt parses it: ``t``, ``p``, ``q``, ``X``, ``m``)."""
    print_ = update.trade
    return {
        "e": "trade",
        "E": print_.time,
        "T": print_.time,
        "s": update.symbol,
        "t": print_.trade_id,
        "p": fmt(print_.price),
        "q": fmt(print_.qty * engine.contract(update.symbol).contract_size),
        "X": "MARKET",
        "m": print_.buyer_is_maker,
    }


def mark_price(engine: Engine, symbol: str, now_ms: int) -> Payload:
    last = fmt(engine.last_price(symbol))
    return {
        "e": "markPriceUpdate",
        "E": now_ms,
        "s": symbol,
        "p": last,
        "ap": last,
        "i": last,
        "P": last,
        "r": FUNDING_RATE,
        "T": (now_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS,
    }


def kline(engine: Engine, stream: Stream, now_ms: int) -> Payload | None:
    """The live bar of the stream's interval; None before the first print."""
    bar = engine.candles(stream.symbol).live_bar(stream.timeframe)
    if bar is None:
        return None
    size = engine.contract(stream.symbol).contract_size
    volume = bar.volume * size
    open_ms = bar.open_s * 1000
    return {
        "e": "kline",
        "E": now_ms,
        "s": stream.symbol,
        "k": {
            "t": open_ms,
            "T": open_ms + TIMEFRAME_SECONDS[stream.timeframe] * 1000 - 1,
            "s": stream.symbol,
            "i": stream.interval,
            "f": 0,
            "L": 0,
            "o": fmt(bar.open),
            "c": fmt(bar.close),
            "h": fmt(bar.high),
            "l": fmt(bar.low),
            "v": fmt(volume),
            "n": bar.volume,
            "x": False,
            "q": fmt(volume * bar.close),
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }


# ---------------------------------------------------------------------- user data


def execution_type(event: OrderEvent, cancelled_by_client: bool) -> str:
    if event.action == ACTION_FILL:
        return "TRADE"
    if event.action == ACTION_CANCEL:
        return "CANCELED" if cancelled_by_client else "EXPIRED"
    return "NEW"


def order_trade_update(engine: Engine, memory: Memory, event: OrderEvent) -> Payload:
    """One state change of one order (``x``: NEW, TRADE, CANCELED, EXPIRED); a TRADE
    carries that fill's quantity ``l``, price ``L``, fee ``n`` and realised PnL ``rp``."""
    order = event.order
    terms = shapes.terms_of(memory, order)
    size = engine.contract(order.symbol).contract_size
    fill = event.fill
    now = engine.now_ms()
    status = shapes.order_status(order, terms)
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": order.update_time,
        "o": {
            "s": order.symbol,
            "c": terms.client_order_id,
            "S": "BUY" if is_buy(order.side) else "SELL",
            "o": "MARKET" if order.type == "market" else "LIMIT",
            "f": terms.time_in_force,
            "q": fmt(order.size * size),
            "p": fmt(order.price),
            "ap": fmt(order.deal_avg_price),
            "sp": fmt(terms.stop_price),
            "x": execution_type(event, terms.cancelled),
            "X": status,
            "i": order.order_id,
            "l": fmt(fill.qty * size) if fill else "0",
            "z": fmt(order.deal_size * size),
            "L": fmt(fill.price) if fill else "0",
            "N": "USDT",
            "n": fmt_money(fill.fee) if fill else "0",
            "T": order.update_time,
            "t": fill.trade_id if fill else 0,
            "b": "0",
            "a": "0",
            "m": fill.exec_type == "Maker" if fill else False,
            "R": terms.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": terms.order_type,
            "ps": terms.position_side,
            "cp": terms.close_position,
            "rp": fmt_money(fill.realised_pnl) if fill else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
            "er": "0",
        },
    }


def position_row(engine: Engine, position: Position) -> Payload:
    side = "LONG" if position.position_type == LONG else "SHORT"
    if engine.position_mode == ONE_WAY_MODE:
        side = "BOTH"
    isolated = position.open_type == "isolated"
    return {
        "s": position.symbol,
        "pa": fmt(shapes.signed_amount(engine, position)),
        "ep": fmt(position.entry_price) if position.hold else "0",
        "bep": fmt(shapes.break_even(engine, position)),
        "cr": fmt_money(position.realised_pnl),
        "up": fmt_money(engine.unrealized_pnl(position)) if position.hold else "0",
        "mt": "isolated" if isolated else "cross",
        "iw": fmt_money(position.margin) if isolated and position.hold else "0",
        "ps": side,
    }


def account_update(
    engine: Engine, positions: list[Position], balance: Balance | None, reason: str
) -> Payload:
    """``a.m`` the reason (ORDER for a fill), ``a.B`` the USDT balance (``bc``, the balance
    change other than PnL and fees, is 0: the simulator has no transfers here), ``a.P``
    the positions that changed."""
    figures = balance or engine.balance()
    now = engine.now_ms()
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": now,
        "a": {
            "m": reason,
            "B": [
                {
                    "a": "USDT",
                    "wb": fmt_money(figures.wallet),
                    "cw": fmt_money(figures.wallet),
                    "bc": "0",
                }
            ],
            "P": [position_row(engine, p) for p in positions],
        },
    }


def algo_update(engine: Engine, algo: AlgoTerms, status: str) -> Payload:
    """One status of one algo order. The child's id ``ai`` and its fill (``ap``, ``aq``,
    ``act``) appear from TRIGGERED on; TRIGGERING shows none yet."""
    plan = algo.plan
    child = engine.order(plan.executive_order_id) if plan.executive_order_id else None
    if status in ("NEW", "TRIGGERING", "CANCELED"):
        child = None
    size = engine.contract(plan.symbol).contract_size
    now = engine.now_ms()
    return {
        "e": "ALGO_UPDATE",
        "T": plan.update_time,
        "E": now,
        "o": {
            "caid": algo.client_algo_id,
            "aid": plan.order_id,
            "at": "CONDITIONAL",
            "o": algo.order_type,
            "s": plan.symbol,
            "S": algo.side,
            "ps": algo.position_side,
            "f": algo.time_in_force,
            "q": fmt(algo.quantity),
            "X": status,
            "ai": str(child.order_id) if child else "",
            "ap": fmt(child.deal_avg_price) if child else "0",
            "aq": fmt(child.deal_size * size) if child else "0",
            "act": child.type.upper() if child else "0",
            "tp": fmt(algo.trigger_price),
            "p": fmt(algo.price),
            "V": "NONE",
            "wt": algo.working_type,
            "pm": "NONE",
            "cp": algo.close_position,
            "pP": algo.price_protect,
            "R": algo.reduce_only,
            "tt": plan.update_time if status not in ("NEW", "CANCELED", "EXPIRED") else 0,
            "gtd": 0,
            "rm": "",
        },
    }


def listen_key_expired(key: str, now_ms: int) -> Payload:
    """Binance's example shows ``E`` as a number on one page and a string in real traffic
    (go-binance #510); the simulator sends a number."""
    return {"e": "listenKeyExpired", "E": now_ms, "listenKey": key}
