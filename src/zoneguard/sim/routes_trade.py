"""Private SIGNED routes: orders, leverage, TP/SL and plan orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from zoneguard.sim import errors as e
from zoneguard.sim import params as p
from zoneguard.sim import wire
from zoneguard.sim.decimals import fmt
from zoneguard.sim.engine import Engine, OrderRequest, PlanRequest, TpSlRequest
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import MODE_GTC
from zoneguard.sim.params import Params
from zoneguard.sim.routing import Route, every_2s

SUBMIT_ORDER_PATH = "/contract/private/submit-order"
CANCEL_ORDER_PATH = "/contract/private/cancel-order"


def _client_id(params: Params) -> str:
    return p.text(params, "client_order_id")


@dataclass(frozen=True, slots=True)
class Presets:
    tp: Decimal | None
    tp_type: int
    sl: Decimal | None
    sl_type: int


def _presets(params: Params) -> Presets:
    return Presets(
        tp=p.decimal(params, "preset_take_profit_price"),
        tp_type=p.integer(params, "preset_take_profit_price_type", 1) or 1,
        sl=p.decimal(params, "preset_stop_loss_price"),
        sl_type=p.integer(params, "preset_stop_loss_price_type", 1) or 1,
    )


def is_reduce_only(params: Params) -> bool:
    """Sides 2 and 3 close positions; used by the rejection fault before full parsing."""
    side = params.get("side")
    return side in (2, 3, "2", "3")


def submit_order(engine: Engine, params: Params) -> object:
    presets = _presets(params)
    req = OrderRequest(
        symbol=p.required_text(params, "symbol"),
        side=p.required_integer(params, "side"),
        size=p.size(params),
        type=p.text(params, "type", "limit"),
        price=p.decimal(params, "price"),
        mode=p.integer(params, "mode", MODE_GTC) or MODE_GTC,
        leverage=p.decimal(params, "leverage"),
        open_type=p.text(params, "open_type") or None,
        client_order_id=_client_id(params),
        preset_tp=presets.tp,
        preset_tp_type=presets.tp_type,
        preset_sl=presets.sl,
        preset_sl_type=presets.sl_type,
    )
    stp_mode = p.integer(params, "stp_mode", 1)
    if stp_mode not in (1, 2, 3):
        raise SimError(e.INVALID_REQUEST, f"Invalid stp_mode {stp_mode}")
    order = engine.submit_order(req)
    if order.type == "limit":
        price = order.price
    else:
        price = order.deal_avg_price if order.deal_size else engine.last_price(order.symbol)
    return {"order_id": order.order_id, "price": fmt(price)}


def cancel_order(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    engine.cancel_order(symbol, p.order_id(params), _client_id(params) or None)
    return {}


def cancel_orders(engine: Engine, params: Params) -> object:
    engine.cancel_all(p.required_text(params, "symbol"))
    return {}


def _order_ref(params: Params) -> tuple[int | None, str | None]:
    order_id = p.order_id(params)
    client_order_id = _client_id(params) or None
    if order_id is None and client_order_id is None:
        raise SimError(e.INVALID_REQUEST, "order_id or client_order_id is required")
    return order_id, client_order_id


def modify_limit_order(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    order_id, client_order_id = _order_ref(params)
    order = engine.modify_limit_order(
        symbol, order_id, client_order_id, p.decimal(params, "price"), p.optional_size(params)
    )
    return {"order_id": order.order_id, "client_order_id": order.client_order_id}


def submit_leverage(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    open_type = p.required_text(params, "open_type")
    leverage, kind = engine.set_leverage(symbol, p.decimal(params, "leverage"), open_type)
    return {
        "symbol": symbol,
        "leverage": fmt(leverage),
        "open_type": kind,
        "max_value": wire.max_value_at(leverage),
    }


def _executive_price(params: Params) -> Decimal:
    if p.text(params, "category") == "market":
        return Decimal(0)
    return p.decimal(params, "executive_price") or Decimal(0)


def submit_tp_sl_order(engine: Engine, params: Params) -> object:
    req = TpSlRequest(
        symbol=p.required_text(params, "symbol"),
        side=p.required_integer(params, "side"),
        type=p.required_text(params, "type"),
        trigger_price=p.required_decimal(params, "trigger_price"),
        executive_price=_executive_price(params),
        price_type=p.integer(params, "price_type", 1) or 1,
        size=p.optional_size(params),
        plan_category=p.integer(params, "plan_category", 2) or 2,
        client_order_id=_client_id(params),
    )
    plan = engine.submit_tp_sl(req)
    return {"order_id": str(plan.order_id), "client_order_id": plan.client_order_id}


def modify_tp_sl_order(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    order_id, client_order_id = _order_ref(params)
    executive = None
    if p.present(params, "executive_price") or p.text(params, "category") == "market":
        executive = _executive_price(params)
    plan = engine.modify_tp_sl(
        symbol,
        order_id,
        client_order_id,
        p.required_decimal(params, "trigger_price"),
        p.integer(params, "price_type"),
        executive,
    )
    return {"order_id": str(plan.order_id)}


def modify_preset_plan_order(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    order_id = p.order_id(params)
    if order_id is None:
        raise SimError(e.INVALID_REQUEST, "order_id is required")
    order = engine.modify_preset(
        symbol,
        order_id,
        p.decimal(params, "preset_take_profit_price"),
        p.integer(params, "preset_take_profit_price_type"),
        p.decimal(params, "preset_stop_loss_price"),
        p.integer(params, "preset_stop_loss_price_type"),
    )
    return {"order_id": str(order.order_id)}


def cancel_plan_order(engine: Engine, params: Params) -> object:
    symbol = p.required_text(params, "symbol")
    order_id, client_order_id = _order_ref(params)
    engine.cancel_plan(symbol, order_id, client_order_id)
    return {}


def submit_plan_order(engine: Engine, params: Params) -> object:
    presets = _presets(params)
    req = PlanRequest(
        symbol=p.required_text(params, "symbol"),
        side=p.required_integer(params, "side"),
        type=p.text(params, "type", "limit"),
        size=p.size(params),
        trigger_price=p.required_decimal(params, "trigger_price"),
        price_way=p.required_integer(params, "price_way"),
        executive_price=p.decimal(params, "executive_price") or Decimal(0),
        price_type=p.integer(params, "price_type", 1) or 1,
        mode=p.integer(params, "mode", MODE_GTC) or MODE_GTC,
        leverage=p.decimal(params, "leverage"),
        open_type=p.text(params, "open_type") or None,
        client_order_id=_client_id(params),
        preset_tp=presets.tp,
        preset_tp_type=presets.tp_type,
        preset_sl=presets.sl,
        preset_sl_type=presets.sl_type,
    )
    plan = engine.submit_plan(req)
    return {"order_id": plan.order_id}


def set_position_mode(engine: Engine, params: Params) -> object:
    """Account-wide; refused with 40059 while positions or open orders exist."""
    mode = engine.set_position_mode(p.required_text(params, "position_mode"))
    return {"position_mode": mode}


_PRIVATE = "/contract/private/"

ROUTES: dict[str, Route] = {
    SUBMIT_ORDER_PATH: Route("POST", "signed", every_2s(24, "KEY"), submit_order),
    _PRIVATE + "cancel-order": Route("POST", "signed", every_2s(40, "KEY"), cancel_order),
    _PRIVATE + "cancel-orders": Route("POST", "signed", every_2s(2, "KEY"), cancel_orders),
    _PRIVATE + "modify-limit-order": Route(
        "POST", "signed", every_2s(24, "UID"), modify_limit_order
    ),
    _PRIVATE + "submit-leverage": Route("POST", "signed", every_2s(24, "KEY"), submit_leverage),
    _PRIVATE + "submit-tp-sl-order": Route(
        "POST", "signed", every_2s(24, "UID"), submit_tp_sl_order
    ),
    _PRIVATE + "modify-tp-sl-order": Route(
        "POST", "signed", every_2s(24, "UID"), modify_tp_sl_order
    ),
    _PRIVATE + "modify-preset-plan-order": Route(
        "POST", "signed", every_2s(24, "UID"), modify_preset_plan_order
    ),
    _PRIVATE + "cancel-plan-order": Route("POST", "signed", every_2s(40, "UID"), cancel_plan_order),
    _PRIVATE + "submit-plan-order": Route("POST", "signed", every_2s(24, "UID"), submit_plan_order),
    _PRIVATE + "set-position-mode": Route("POST", "signed", every_2s(2, "KEY"), set_position_mode),
}
