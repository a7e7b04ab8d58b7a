"""Private KEYED query routes: assets, positions, orders, fills, plan orders, fees."""

from __future__ import annotations

from collections.abc import Iterable

from zoneguard.sim import errors as e
from zoneguard.sim import params as p
from zoneguard.sim import wire
from zoneguard.sim.decimals import fmt
from zoneguard.sim.engine import Engine
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import (
    HEDGE_MODE,
    LONG,
    SHORT,
    Order,
    PlanOrder,
    Position,
    position_type_of,
)
from zoneguard.sim.params import Params
from zoneguard.sim.routing import Route, every_2s
from zoneguard.sim.trailing import TrailOrder
from zoneguard.sim.wire import Json

HISTORY_DEFAULT_S = 7 * 86_400
LIST_LIMIT = 100


def _symbol_filter(engine: Engine, params: Params) -> str:
    symbol = p.text(params, "symbol")
    if symbol:
        engine.book(symbol)
    return symbol


def assets_detail(engine: Engine, params: Params) -> object:
    return wire.assets_rest(engine.balance())


def _open_positions(engine: Engine, symbol: str) -> list[Position]:
    return [
        position
        for position in engine.positions()
        if position.hold > 0 and (not symbol or position.symbol == symbol)
    ]


def position(engine: Engine, params: Params) -> object:
    symbol = _symbol_filter(engine, params)
    now = engine.now_ms()
    return [wire.position_rest(pos, engine, now) for pos in _open_positions(engine, symbol)]


def position_v2(engine: Engine, params: Params) -> object:
    """Without a symbol: open positions only. With one: every row of the symbol, zeros
    included (hedge mode: long and short; one-way mode: its single ``both`` row)."""
    symbol = _symbol_filter(engine, params)
    now = engine.now_ms()
    rows = _open_positions(engine, symbol)
    if symbol and engine.position_mode == HEDGE_MODE:
        leverage, open_type = engine.leverage_setting(symbol)
        held = {position.position_type: position for position in rows}
        rows = [
            held.get(kind) or Position(symbol, kind, leverage, open_type) for kind in (LONG, SHORT)
        ]
    elif symbol and not rows:
        leverage, open_type = engine.leverage_setting(symbol)
        rows = [Position(symbol, LONG, leverage, open_type)]
    return [wire.position_v2_rest(pos, engine, now) for pos in rows]


def position_risk(engine: Engine, params: Params) -> object:
    symbol = _symbol_filter(engine, params)
    return [wire.position_risk_rest(pos, engine) for pos in _open_positions(engine, symbol)]


def order_detail(engine: Engine, params: Params) -> object:
    """An order, or a trailing order (listed like one, ``type`` trailing)."""
    symbol = p.required_text(params, "symbol")
    engine.book(symbol)
    order_id = p.order_id(params)
    if order_id is None:
        raise SimError(e.INVALID_REQUEST, "order_id is required")
    order = engine.order(order_id)
    if order is not None and order.symbol == symbol:
        return wire.order_rest(order)
    trail = engine.trail(order_id)
    if trail is not None and trail.symbol == symbol:
        return wire.trail_rest(trail)
    raise SimError(e.ORDER_NOT_EXIST, "Order not exist")


def _newest_first(orders: Iterable[Order | TrailOrder]) -> list[Json]:
    """Order and trailing-order rows, newest first (ids grow with time)."""
    ranked = sorted(orders, key=lambda o: o.order_id, reverse=True)
    return [wire.trail_rest(o) if isinstance(o, TrailOrder) else wire.order_rest(o) for o in ranked]


def open_orders(engine: Engine, params: Params) -> object:
    symbol = _symbol_filter(engine, params)
    kind = p.text(params, "type")
    if kind and kind not in ("limit", "market", "trailing"):
        raise SimError(e.INVALID_TYPE, f"Invalid order type {kind!r}")
    state = p.text(params, "order_state", "all")
    if state not in ("all", "partially_filled"):
        raise SimError(e.INVALID_REQUEST, f"Invalid order_state {state!r}")
    limit = p.integer(params, "limit", LIST_LIMIT) or LIST_LIMIT
    if not 1 <= limit <= LIST_LIMIT:
        raise SimError(e.INVALID_REQUEST, "limit must be between 1 and 100")
    rows: list[Order | TrailOrder] = [
        o
        for o in engine.open_orders()
        if (not symbol or o.symbol == symbol)
        and (not kind or o.type == kind)
        and (state == "all" or o.deal_size > 0)
    ]
    if kind in ("", "trailing") and state == "all":
        rows += [t for t in engine.active_trails() if not symbol or t.symbol == symbol]
    return _newest_first(rows)[:limit]


def _time_window(engine: Engine, params: Params) -> tuple[int, int]:
    """``start_time``/``end_time`` in seconds -> an inclusive window in ms."""
    now_s = engine.now_ms() // 1000
    end = p.integer(params, "end_time", now_s)
    start = p.integer(params, "start_time", None)
    assert end is not None
    if start is None:
        start = end - HISTORY_DEFAULT_S
    if start > end:
        raise SimError(40039, "start_time is after end_time")
    return start * 1000, end * 1000 + 999


def order_history(engine: Engine, params: Params) -> object:
    """Every order of the symbol (live ones too, so a lookup by client id always works)."""
    symbol = p.required_text(params, "symbol")
    engine.book(symbol)
    start, end = _time_window(engine, params)
    order_id = p.order_id(params)
    client_order_id = p.text(params, "client_order_id")
    rows: list[Order | TrailOrder] = [
        o
        for o in engine.orders()
        if o.symbol == symbol
        and start <= o.create_time <= end
        and (order_id is None or o.order_id == order_id)
        and (not client_order_id or o.client_order_id == client_order_id)
    ]
    if not client_order_id:  # trailing orders carry no client id
        rows += [
            t
            for t in engine.trails()
            if t.symbol == symbol
            and start <= t.create_time <= end
            and (order_id is None or t.order_id == order_id)
        ]
    return _newest_first(rows)


def trades(engine: Engine, params: Params) -> object:
    symbol = _symbol_filter(engine, params)
    start, end = _time_window(engine, params)
    order_id = p.order_id(params)
    client_order_id = p.text(params, "client_order_id")
    rows = [
        f
        for f in engine.fills()
        if (not symbol or f.symbol == symbol)
        and start <= f.time <= end
        and (order_id is None or f.order_id == order_id)
        and (not client_order_id or f.client_order_id == client_order_id)
    ]
    rows.reverse()
    return [wire.trade_rest(f) for f in rows]


def current_plan_orders(engine: Engine, params: Params) -> object:
    """``plan_type=plan`` (default): trigger orders; ``profit_loss``: TP/SL orders."""
    symbol = _symbol_filter(engine, params)
    plan_type = p.text(params, "plan_type", "plan")
    if plan_type not in ("plan", "profit_loss"):
        raise SimError(e.INVALID_REQUEST, f"Invalid plan_type {plan_type!r}")
    kind = p.text(params, "type")
    limit = p.integer(params, "limit", LIST_LIMIT) or LIST_LIMIT
    rows = [
        plan
        for plan in engine.active_plans()
        if (not symbol or plan.symbol == symbol)
        and plan.is_tp_sl == (plan_type == "profit_loss")
        and (not kind or plan.type == kind)
    ]
    rows.sort(key=lambda plan: plan.order_id, reverse=True)
    return [wire.plan_rest(plan, _held(engine, plan)) for plan in rows[:limit]]


def _held(engine: Engine, plan: PlanOrder) -> int:
    if not plan.is_tp_sl:
        return 0
    position = engine.position(plan.symbol, position_type_of(plan.side))
    return 0 if position is None else position.hold


def trade_fee_rate(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    engine.book(symbol)
    return {
        "symbol": symbol,
        "taker_fee_rate": fmt(engine.taker_fee_rate),
        "maker_fee_rate": fmt(engine.maker_fee_rate),
    }


def position_mode(engine: Engine, params: Params) -> object:
    return {"position_mode": engine.position_mode}


_PRIVATE = "/contract/private/"

ROUTES: dict[str, Route] = {
    _PRIVATE + "assets-detail": Route("GET", "keyed", every_2s(12, "KEY"), assets_detail),
    _PRIVATE + "position": Route("GET", "keyed", every_2s(6, "KEY"), position),
    _PRIVATE + "position-v2": Route("GET", "keyed", every_2s(6, "KEY"), position_v2),
    _PRIVATE + "position-risk": Route("GET", "keyed", every_2s(24, "KEY"), position_risk),
    _PRIVATE + "order": Route("GET", "keyed", every_2s(50, "KEY"), order_detail),
    _PRIVATE + "get-open-orders": Route("GET", "keyed", every_2s(50, "KEY"), open_orders),
    _PRIVATE + "order-history": Route("GET", "keyed", every_2s(6, "KEY"), order_history),
    _PRIVATE + "trades": Route("GET", "keyed", every_2s(6, "KEY"), trades),
    _PRIVATE + "current-plan-order": Route(
        "GET", "keyed", every_2s(50, "KEY"), current_plan_orders
    ),
    _PRIVATE + "trade-fee-rate": Route("GET", "keyed", every_2s(2, "KEY"), trade_fee_rate),
    _PRIVATE + "get-position-mode": Route("GET", "keyed", every_2s(2, "KEY"), position_mode),
}
