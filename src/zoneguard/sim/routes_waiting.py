"""Private SIGNED routes for what waits on a price or a clock: plan-order changes, trailing
orders and the ``cancel-all-after`` dead-man timer (PROTOCOL §7.5, §7.8)."""

from __future__ import annotations

from zoneguard.sim import errors as e
from zoneguard.sim import params as p
from zoneguard.sim.engine import Engine, PlanChange, TrailRequest
from zoneguard.sim.errors import SimError
from zoneguard.sim.params import Params
from zoneguard.sim.routing import Route, every_2s


def cancel_all_after(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    timeout = p.required_integer(params, "timeout")
    set_time, cancel_time = engine.cancel_all_after(symbol, timeout)
    return {"result": True, "set_time": set_time, "cancel_time": cancel_time}


def modify_plan_order(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    order_id = p.order_id(params)
    client_order_id = p.text(params, "client_order_id") or None
    if order_id is None and client_order_id is None:
        raise SimError(e.INVALID_REQUEST, "order_id or client_order_id is required")
    change = PlanChange(
        type=p.required_text(params, "type"),
        trigger_price=p.required_decimal(params, "trigger_price"),
        executive_price=p.decimal(params, "executive_price"),
        price_type=p.required_integer(params, "price_type"),
    )
    plan = engine.modify_plan(symbol, order_id, client_order_id, change)
    return {"order_id": str(plan.order_id)}


def submit_trail_order(engine: Engine, params: Params) -> object:
    req = TrailRequest(
        symbol=p.required_text(params, "symbol"),
        side=p.required_integer(params, "side"),
        size=p.size(params),
        activation_price=p.required_decimal(params, "activation_price"),
        callback_rate=p.required_decimal(params, "callback_rate"),
        activation_price_type=p.required_integer(params, "activation_price_type"),
        leverage=p.decimal(params, "leverage"),
        open_type=p.text(params, "open_type") or None,
    )
    return {"order_id": engine.submit_trail(req).order_id}


def cancel_trail_order(engine: Engine, params: Params) -> object:
    engine.cancel_trail(p.required_text(params, "symbol"), p.order_id(params))
    return {}


_PRIVATE = "/contract/private/"

ROUTES: dict[str, Route] = {
    _PRIVATE + "cancel-all-after": Route("POST", "signed", every_2s(4, "UID"), cancel_all_after),
    _PRIVATE + "modify-plan-order": Route("POST", "signed", every_2s(24, "UID"), modify_plan_order),
    _PRIVATE + "submit-trail-order": Route(
        "POST", "signed", every_2s(24, "UID"), submit_trail_order
    ),
    _PRIVATE + "cancel-trail-order": Route(
        "POST", "signed", every_2s(24, "UID"), cancel_trail_order
    ),
}
