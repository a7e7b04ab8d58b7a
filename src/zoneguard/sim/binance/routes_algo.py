"""The algo service (``/fapi/v1/algoOrder`` and friends): conditional orders.

STOP_MARKET, TAKE_PROFIT_MARKET, STOP and TAKE_PROFIT with ``algoType=CONDITIONAL``.
A closing one (``closePosition``, ``reduceOnly``, or the closing side of a hedge-mode
position) becomes an engine TP/SL order on the position: it fires on the last price as a
close of the whole position (``closePosition``) or of ``quantity``, and expires with the
position. Any other becomes an engine plan order that opens (or, one-way, nets) when its
trigger is reached. Trigger rules (Binance's): STOP fires for BUY when the price rises to
the trigger, for SELL when it falls to it; TAKE_PROFIT the other way round.

Inferred, not documented: a closing algo order with no position to close is refused with
-2022, a trigger already reached with -2021 (the rule Binance documents for trailing
stops), and the order an algo order sends carries the algo's client id.
TRAILING_STOP_MARKET is not simulated (-1116).
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance import params as p
from zoneguard.sim.binance import shapes, symbols
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.binance.memory import AlgoTerms
from zoneguard.sim.binance.routes_trade import ENGINE_MODES
from zoneguard.sim.binance.routing import Call, Route, contract_of
from zoneguard.sim.binance.sides import engine_side
from zoneguard.sim.engine import PlanRequest, TpSlRequest
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import (
    HEDGE_MODE,
    PLAN_STATE_ACTIVE,
    PRICE_WAY_FALL,
    PRICE_WAY_RISE,
    PlanOrder,
    is_opening,
)

ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")
WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")
LAST_PRICE, FAIR_PRICE = 1, 2  # the engine's trigger price types
CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


def _rises(order_type: str, side: str) -> bool:
    """Whether the trigger fires on a rise (price >= trigger)."""
    return order_type.startswith("STOP") == (side == "BUY")


def new_algo_order(call: Call) -> object:
    engine, memory, params = call.engine, call.memory, call.params
    if p.required(params, "algoType") != "CONDITIONAL":
        raise BinanceError(e.INVALID_ORDER_TYPE, "Invalid algoType.")
    symbol = p.required(params, "symbol")
    side = p.side(params)
    order_type = p.required(params, "type")
    if order_type not in ALGO_TYPES:
        raise BinanceError(e.INVALID_ORDER_TYPE, "Invalid orderType.")
    contract = contract_of(engine, symbol)
    trigger = p.required_decimal(params, "triggerPrice")
    symbols.check_price(contract, trigger)
    market = order_type.endswith("_MARKET")
    price = Decimal(0)
    if not market:
        price = p.required_decimal(params, "price")
        symbols.check_price(contract, price)
    elif p.text(params, "price"):
        raise BinanceError(e.PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
    close_position = p.boolean(params, "closePosition")
    reduce_only = p.boolean(params, "reduceOnly")
    quantity = p.decimal(params, "quantity")
    if close_position:
        if not market:
            raise BinanceError(
                e.PARAM_NOT_REQUIRED, "Parameter 'closePosition' sent when not required."
            )
        for name, sent in (("quantity", quantity is not None), ("reduceOnly", reduce_only)):
            if sent:
                raise BinanceError(
                    e.PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required."
                )
    elif quantity is None:
        raise e.missing("quantity")
    tif = p.text(params, "timeInForce", "GTC")
    if tif not in ENGINE_MODES:
        raise BinanceError(e.INVALID_TIF, "Invalid timeInForce.")
    working_type = p.text(params, "workingType", "CONTRACT_PRICE")
    if working_type not in WORKING_TYPES:
        raise BinanceError(e.ILLEGAL_CHARS, "Invalid workingType.")
    hedge = engine.position_mode == HEDGE_MODE
    position_side = p.text(params, "positionSide", "BOTH")
    closing = reduce_only or (close_position and not hedge)
    side_ = engine_side(side, position_side, closing, hedge=hedge)
    contracts = 0 if quantity is None else symbols.to_contracts(contract, quantity, market=market)
    client_id = memory.claim_client_algo_id(p.text(params, "clientAlgoId"))
    price_type = FAIR_PRICE if working_type == "MARK_PRICE" else LAST_PRICE
    try:
        if is_opening(side_):
            if close_position:  # hedge mode: BUY on LONG or SELL on SHORT closes nothing
                raise e.reduce_only_rejected()
            symbols.check_notional(contract, contracts, price or trigger)
            plan = engine.submit_plan(
                PlanRequest(
                    symbol=symbol,
                    side=side_,
                    type="market" if market else "limit",
                    size=contracts,
                    trigger_price=trigger,
                    price_way=PRICE_WAY_RISE if _rises(order_type, side) else PRICE_WAY_FALL,
                    executive_price=price,
                    price_type=price_type,
                    mode=ENGINE_MODES[tif],
                )
            )
        else:
            plan = engine.submit_tp_sl(
                TpSlRequest(
                    symbol=symbol,
                    side=side_,
                    type="stop_loss" if order_type.startswith("STOP") else "take_profit",
                    trigger_price=trigger,
                    executive_price=price,
                    price_type=price_type,
                    size=None if close_position else contracts,
                    plan_category=1,  # several may coexist, as on Binance
                )
            )
    except SimError as err:
        raise e.from_engine(err) from None
    terms = AlgoTerms(
        plan=plan,
        client_algo_id=client_id,
        order_type=order_type,
        side=side,
        position_side=position_side,
        quantity=Decimal(0) if quantity is None else quantity,
        price=price,
        trigger_price=trigger,
        time_in_force=tif,
        working_type=working_type,
        close_position=close_position,
        reduce_only=reduce_only,
        price_protect=p.boolean(params, "priceProtect"),
    )
    memory.remember_algo(terms)
    return shapes.algo_json(engine, terms)


def _find(call: Call) -> AlgoTerms | None:
    params = call.params
    algo_id = p.integer(params, "algoId")
    if algo_id is None:
        client_id = p.text(params, "clientAlgoId")
        if not client_id:
            raise BinanceError(
                e.MANDATORY_PARAM_MISSING, "Either algoId or clientAlgoId must be sent."
            )
        algo_id = call.memory.algo_id_of(client_id)
    return call.memory.algos.get(algo_id) if algo_id is not None else None


def _active(plan: PlanOrder) -> bool:
    return plan.state == PLAN_STATE_ACTIVE


def query_algo_order(call: Call) -> object:
    algo = _find(call)
    if algo is None:
        raise e.no_such_order()
    return shapes.algo_json(call.engine, algo)


def cancel_algo_order(call: Call) -> object:
    algo = _find(call)
    if algo is None or not _active(algo.plan):
        raise BinanceError(e.CANCEL_REJECTED, "Unknown order sent.")
    algo.cancelled = True
    call.engine.cancel_plan(algo.plan.symbol, algo.plan.order_id, None)
    return {
        "algoId": algo.plan.order_id,
        "clientAlgoId": algo.client_algo_id,
        "code": "200",
        "msg": "success",
    }


def _open(call: Call, symbol: str) -> list[AlgoTerms]:
    return [
        algo
        for algo in call.memory.algos.values()
        if _active(algo.plan) and (not symbol or algo.plan.symbol == symbol)
    ]


def open_algo_orders(call: Call) -> object:
    symbol = p.text(call.params, "symbol")
    if symbol:
        contract_of(call.engine, symbol)
    return [shapes.algo_json(call.engine, algo) for algo in _open(call, symbol)]


def cancel_all_algo_orders(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    for algo in _open(call, symbol):
        algo.cancelled = True
        call.engine.cancel_plan(symbol, algo.plan.order_id, None)
    return CANCEL_ALL_DONE


def all_algo_orders(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    return [
        shapes.algo_json(call.engine, algo)
        for algo in call.memory.algos.values()
        if algo.plan.symbol == symbol
    ]


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/fapi/v1/algoOrder"): Route("SIGNED", new_algo_order, weight=0, counts_order=True),
    ("GET", "/fapi/v1/algoOrder"): Route("SIGNED", query_algo_order),
    ("DELETE", "/fapi/v1/algoOrder"): Route("SIGNED", cancel_algo_order),
    ("GET", "/fapi/v1/openAlgoOrders"): Route("SIGNED", open_algo_orders, weight_without_symbol=40),
    ("DELETE", "/fapi/v1/algoOpenOrders"): Route("SIGNED", cancel_all_algo_orders),
    ("GET", "/fapi/v1/allAlgoOrders"): Route("SIGNED", all_algo_orders, weight=5),
}
