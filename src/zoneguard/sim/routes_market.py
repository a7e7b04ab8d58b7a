"""Public market-data routes (no authentication, limited per IP)."""

from __future__ import annotations

from zoneguard.sim import errors as e
from zoneguard.sim import params as p
from zoneguard.sim import wire
from zoneguard.sim.candles import REST_KLINE_STEPS
from zoneguard.sim.engine import Engine
from zoneguard.sim.errors import SimError
from zoneguard.sim.params import Params
from zoneguard.sim.routing import Route, every_2s

DEPTH_LEVELS = 20
FUNDING_HISTORY_MAX = 100
KLINE_MAX_BARS = 500


def details(engine: Engine, params: Params) -> object:
    symbol = p.text(params, "symbol")
    symbols = [symbol] if symbol else engine.symbols
    now = engine.now_ms()
    return {"symbols": [wire.contract_details(engine.book(s), engine, now) for s in symbols]}


def depth(engine: Engine, params: Params) -> object:
    book = engine.book(p.required_text(params, "symbol"))
    return wire.depth_rest(book, DEPTH_LEVELS, engine.now_ms())


def kline(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    candles = engine.candles(symbol)
    step = p.integer(params, "step", 1)
    if step not in REST_KLINE_STEPS:
        raise SimError(40038, f"Invalid kline step {step}")
    start = p.required_integer(params, "start_time")
    end = p.required_integer(params, "end_time")
    if start < 0 or end < start:
        raise SimError(40039, "Invalid start_time/end_time")
    return [wire.kline_rest(bar) for bar in candles.bars(step, start, end, KLINE_MAX_BARS)]


def market_trade(engine: Engine, params: Params) -> object:
    book = engine.book(p.required_text(params, "symbol"))
    limit = p.integer(params, "limit", 50) or 50
    if not 1 <= limit <= 100:
        raise SimError(e.INVALID_REQUEST, "limit must be between 1 and 100")
    trades = list(book.recent_trades)[-limit:]
    trades.reverse()
    return [wire.market_trade_rest(trade, book.contract) for trade in trades]


def funding_rate(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    engine.book(symbol)
    return wire.funding_rate_rest(symbol, engine.now_ms())


def funding_rate_history(engine: Engine, params: Params) -> object:
    """The constant rate of the simulator at each past settlement, newest first."""
    symbol = p.required_text(params, "symbol")
    engine.book(symbol)
    limit = p.integer(params, "limit", FUNDING_HISTORY_MAX) or FUNDING_HISTORY_MAX
    if not 1 <= limit <= FUNDING_HISTORY_MAX:
        raise SimError(e.INVALID_REQUEST, f"limit must be between 1 and {FUNDING_HISTORY_MAX}")
    return {"list": wire.funding_history_rest(symbol, engine.now_ms(), limit)}


def leverage_bracket(engine: Engine, params: Params) -> object:
    symbol = p.text(params, "symbol")
    symbols = [symbol] if symbol else engine.symbols
    return {"rules": [wire.bracket_rule(engine.contract(s)) for s in symbols]}


def open_interest(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    engine.book(symbol)
    return {
        "timestamp": engine.now_ms(),
        "symbol": symbol,
        "open_interest": "0",
        "open_interest_value": "0",
    }


def system_time(engine: Engine, params: Params) -> object:
    return {"server_time": engine.now_ms()}


_PUBLIC = every_2s(12, "IP")

ROUTES: dict[str, Route] = {
    "/contract/public/details": Route("GET", "none", _PUBLIC, details),
    "/contract/public/depth": Route("GET", "none", _PUBLIC, depth),
    "/contract/public/kline": Route("GET", "none", _PUBLIC, kline),
    "/contract/public/markprice-kline": Route("GET", "none", _PUBLIC, kline),
    "/contract/public/market-trade": Route("GET", "none", _PUBLIC, market_trade),
    "/contract/public/funding-rate": Route("GET", "none", _PUBLIC, funding_rate),
    "/contract/public/funding-rate-history": Route("GET", "none", _PUBLIC, funding_rate_history),
    "/contract/public/leverage-bracket": Route("GET", "none", _PUBLIC, leverage_bracket),
    "/contract/public/open-interest": Route("GET", "none", every_2s(2, "IP"), open_interest),
    "/system/time": Route("GET", "none", _PUBLIC, system_time),
}
