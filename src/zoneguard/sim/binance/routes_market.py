"""Public market data: ping, time, exchangeInfo, depth, tickers, premium index, klines.

The simulated book is the engine's: bid one tick under the last price, ask one tick over,
mark = index = last; a synthetic depth ladder plus the simulator's own resting orders.
Book quantities are in the base asset, like every Binance quantity.
"""

from __future__ import annotations

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance import params as p
from zoneguard.sim.binance import symbols
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.binance.routing import Call, Route, contract_of
from zoneguard.sim.candles import REST_KLINE_STEPS
from zoneguard.sim.decimals import fmt

FUNDING_PERIOD_MS = 8 * 3600 * 1000
FUNDING_RATE = "0.00010000"
INTEREST_RATE = "0.00010000"
KLINE_LIMIT = 500
KLINE_MAX = 1500
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]
"""What Binance's production exchangeInfo lists; :mod:`.limits` enforces the same."""
INTERVAL_MINUTES = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
    "1w": 10080,
}
"""Binance's intervals that the simulator's candles keep (no 8h and no 1M)."""


def ping(call: Call) -> object:
    return {}


def server_time(call: Call) -> object:
    return {"serverTime": call.engine.now_ms()}


def exchange_info(call: Call) -> object:
    engine = call.engine
    return {
        "timezone": "UTC",
        "serverTime": engine.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbols.symbol_info(engine.contract(s)) for s in engine.symbols],
    }


def _symbols(call: Call) -> tuple[list[str], bool]:
    """The one symbol asked for, or all of them; and whether one was asked for."""
    symbol = p.text(call.params, "symbol")
    if symbol:
        contract_of(call.engine, symbol)
        return [symbol], True
    return call.engine.symbols, False


def _one_or_all(rows: list[dict[str, object]], single: bool) -> object:
    return rows[0] if single else rows


def depth(call: Call) -> object:
    engine = call.engine
    symbol = p.required(call.params, "symbol")
    contract = contract_of(engine, symbol)
    limit = p.integer(call.params, "limit") or 500
    if limit not in DEPTH_LIMITS:
        raise BinanceError(e.ILLEGAL_CHARS, "Invalid limit.")
    bids, asks = engine.book(symbol).depth(min(limit, 100))
    now = engine.now_ms()

    def level(ticks: int, contracts: int) -> list[str]:
        return [fmt(contract.from_ticks(ticks)), fmt(contracts * contract.contract_size)]

    return {
        "lastUpdateId": now,
        "E": now,
        "T": now,
        "bids": [level(t, c) for t, c in bids],
        "asks": [level(t, c) for t, c in asks],
    }


def book_ticker(call: Call) -> object:
    engine = call.engine
    wanted, single = _symbols(call)
    now = engine.now_ms()
    rows: list[dict[str, object]] = []
    for symbol in wanted:
        book = engine.book(symbol)
        bids, asks = book.depth(1)
        contract = book.contract
        rows.append(
            {
                "symbol": symbol,
                "bidPrice": fmt(contract.from_ticks(book.bid_ticks)),
                "bidQty": fmt(bids[0][1] * contract.contract_size) if bids else "0",
                "askPrice": fmt(contract.from_ticks(book.ask_ticks)),
                "askQty": fmt(asks[0][1] * contract.contract_size),
                "time": now,
                "lastUpdateId": now,
            }
        )
    return _one_or_all(rows, single)


def price_ticker(call: Call) -> object:
    engine = call.engine
    wanted, single = _symbols(call)
    now = engine.now_ms()
    rows: list[dict[str, object]] = [
        {"symbol": s, "price": fmt(engine.last_price(s)), "time": now} for s in wanted
    ]
    return _one_or_all(rows, single)


def premium_index(call: Call) -> object:
    engine = call.engine
    wanted, single = _symbols(call)
    now = engine.now_ms()
    next_funding = (now // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
    rows: list[dict[str, object]] = []
    for symbol in wanted:
        last = fmt(engine.last_price(symbol))
        rows.append(
            {
                "symbol": symbol,
                "markPrice": last,
                "indexPrice": last,
                "estimatedSettlePrice": last,
                "lastFundingRate": FUNDING_RATE,
                "interestRate": INTEREST_RATE,
                "nextFundingTime": next_funding,
                "time": now,
            }
        )
    return _one_or_all(rows, single)


def klines(call: Call) -> object:
    """``[open time, o, h, l, c, volume, close time, quote volume, trades, taker buy base,
    taker buy quote, "0"]``; the simulator keeps no taker split or trade count (zeros)."""
    engine = call.engine
    params = call.params
    symbol = p.required(params, "symbol")
    contract = contract_of(engine, symbol)
    minutes = INTERVAL_MINUTES.get(p.required(params, "interval"))
    if minutes is None or minutes not in REST_KLINE_STEPS:
        raise BinanceError(e.BAD_INTERVAL, "Invalid interval.")
    limit = max(1, min(p.integer(params, "limit") or KLINE_LIMIT, KLINE_MAX))
    step_ms = minutes * 60_000
    end_ms = p.integer(params, "endTime") or engine.now_ms()
    start_ms = p.integer(params, "startTime")
    if start_ms is None:
        start_ms = max(0, end_ms - (limit - 1) * step_ms)
    bars = engine.candles(symbol).bars(minutes, start_ms // 1000, end_ms // 1000, limit)
    rows = []
    for bar in bars:
        volume = bar.volume * contract.contract_size
        open_ms = bar.open_s * 1000
        rows.append(
            [
                open_ms,
                fmt(bar.open),
                fmt(bar.high),
                fmt(bar.low),
                fmt(bar.close),
                fmt(volume),
                open_ms + step_ms - 1,
                fmt(volume * bar.close),
                0,
                "0",
                "0",
                "0",
            ]
        )
    return rows


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/ping"): Route("NONE", ping),
    ("GET", "/fapi/v1/time"): Route("NONE", server_time),
    ("GET", "/fapi/v1/exchangeInfo"): Route("NONE", exchange_info),
    ("GET", "/fapi/v1/depth"): Route("NONE", depth, weight=5),
    ("GET", "/fapi/v1/ticker/bookTicker"): Route("NONE", book_ticker, 2, 5),
    ("GET", "/fapi/v1/ticker/price"): Route("NONE", price_ticker, 1, 2),
    ("GET", "/fapi/v2/ticker/price"): Route("NONE", price_ticker, 1, 2),
    ("GET", "/fapi/v1/premiumIndex"): Route("NONE", premium_index, 1, 10),
    ("GET", "/fapi/v1/klines"): Route("NONE", klines, weight=2),
}
