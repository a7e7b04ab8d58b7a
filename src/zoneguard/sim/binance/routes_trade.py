"""``/fapi/v1/order`` and friends: new, query, cancel, open orders, history, trades.

Only LIMIT and MARKET are accepted here since Binance moved conditional orders to the algo
service on 2025-12-09: the other types get -4120. A GTX (post-only) order that would take
is refused synchronously with -5022 and leaves no trace in the order history, as Binance
does since 2023-03-22. ``newOrderRespType`` ACK (the default) answers the order as
accepted, before matching; RESULT answers it after matching.
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance import params as p
from zoneguard.sim.binance import shapes, symbols
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.binance.memory import OrderTerms
from zoneguard.sim.binance.routing import Call, Route, contract_of
from zoneguard.sim.binance.sides import engine_side
from zoneguard.sim.decimals import fmt, fmt_money
from zoneguard.sim.engine import OrderRequest
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import (
    HEDGE_MODE,
    MODE_FOK,
    MODE_GTC,
    MODE_IOC,
    MODE_MAKER_ONLY,
    Order,
    is_buy,
    is_opening,
)

CONDITIONAL_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
ENGINE_MODES = {"GTC": MODE_GTC, "IOC": MODE_IOC, "FOK": MODE_FOK, "GTX": MODE_MAKER_ONLY}
ALL_ORDERS_LIMIT = 500
ALL_ORDERS_MAX = 1000
CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


def new_order(call: Call) -> object:
    engine, memory, params = call.engine, call.memory, call.params
    symbol = p.required(params, "symbol")
    side = p.side(params)
    order_type = p.required(params, "type")
    if order_type in CONDITIONAL_TYPES:
        raise BinanceError(e.STOP_ORDER_SWITCH_ALGO, e.STOP_ORDER_SWITCH_ALGO_MSG)
    if order_type not in ("LIMIT", "MARKET"):
        raise BinanceError(e.INVALID_ORDER_TYPE, "Invalid orderType.")
    contract = contract_of(engine, symbol)
    hedge = engine.position_mode == HEDGE_MODE
    position_side = p.text(params, "positionSide", "BOTH")
    reduce_only = p.boolean(params, "reduceOnly")
    engine_side_ = engine_side(side, position_side, reduce_only, hedge=hedge)
    market = order_type == "MARKET"
    quantity = p.required_decimal(params, "quantity")
    contracts = symbols.to_contracts(contract, quantity, market=market)
    book = engine.book(symbol)
    buy = side == "BUY"
    price: Decimal | None = None
    if market:
        if p.text(params, "price"):
            raise BinanceError(e.PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
        tif = "GTC"
        reference = contract.from_ticks(book.ask_ticks if buy else book.bid_ticks)
    else:
        tif = p.required(params, "timeInForce")
        if tif not in ENGINE_MODES:
            raise BinanceError(e.INVALID_TIF, "Invalid timeInForce.")
        price = p.required_decimal(params, "price")
        symbols.check_price(contract, price)
        ticks = contract.to_ticks(price)
        crossing = ticks >= book.ask_ticks if buy else ticks <= book.bid_ticks
        if tif == "GTX" and crossing:
            raise BinanceError(e.GTX_WOULD_TAKE, e.GTX_WOULD_TAKE_MSG)
        reference = price
    if is_opening(engine_side_):
        symbols.check_notional(contract, contracts, reference)
    client_id = memory.claim_client_id(p.text(params, "newClientOrderId"))
    response_type = p.text(params, "newOrderRespType", "ACK")
    if response_type not in ("ACK", "RESULT"):
        raise BinanceError(e.ILLEGAL_CHARS, "Invalid newOrderRespType.")
    req = OrderRequest(
        symbol=symbol,
        side=engine_side_,
        size=contracts,
        type="market" if market else "limit",
        price=price,
        mode=ENGINE_MODES[tif],
    )
    try:
        order = engine.submit_order(req)
    except SimError as err:
        raise e.from_engine(err) from None
    memory.remember(
        order.order_id, OrderTerms(client_id, order_type, tif, reduce_only, position_side)
    )
    return shapes.order_json(engine, memory, order, ack=response_type == "ACK")


def _find(call: Call) -> Order:
    """The order named by ``orderId`` (first) or ``origClientOrderId``; -2013 if none."""
    params = call.params
    symbol = p.required(params, "symbol")
    contract_of(call.engine, symbol)
    order_id = p.integer(params, "orderId")
    if order_id is None:
        client_id = p.text(params, "origClientOrderId")
        if not client_id:
            raise BinanceError(
                e.MANDATORY_PARAM_MISSING, "Either orderId or origClientOrderId must be sent."
            )
        order_id = call.memory.order_id_of(client_id)
    order = call.engine.order(order_id) if order_id is not None else None
    if order is None or order.symbol != symbol:
        raise e.no_such_order()
    return order


def query_order(call: Call) -> object:
    return shapes.order_json(call.engine, call.memory, _find(call))


def query_open_order(call: Call) -> object:
    order = _find(call)
    if not order.is_open:
        raise e.no_such_order()
    return shapes.order_json(call.engine, call.memory, order)


def cancel_order(call: Call) -> object:
    try:
        order = _find(call)
    except BinanceError as err:
        if err.code != e.NO_SUCH_ORDER:
            raise
        order = None
    if order is None or not order.is_open:
        raise BinanceError(e.CANCEL_REJECTED, "Unknown order sent.")
    shapes.terms_of(call.memory, order).cancelled = True
    call.engine.cancel_order(order.symbol, order.order_id)
    return shapes.order_json(call.engine, call.memory, order)


def cancel_all(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    for order in list(call.engine.open_orders()):
        if order.symbol == symbol:
            shapes.terms_of(call.memory, order).cancelled = True
    call.engine.cancel_all(symbol)
    return CANCEL_ALL_DONE


def open_orders(call: Call) -> object:
    symbol = p.text(call.params, "symbol")
    if symbol:
        contract_of(call.engine, symbol)
    return [
        shapes.order_json(call.engine, call.memory, order)
        for order in call.engine.open_orders()
        if not symbol or order.symbol == symbol
    ]


def _window(call: Call) -> tuple[int, int, int]:
    """(first id, start ms, end ms) and the limit of a history read."""
    params = call.params
    return (
        p.integer(params, "orderId") or 0,
        p.integer(params, "startTime") or 0,
        p.integer(params, "endTime") or 2**63,
    )


def _limit(call: Call) -> int:
    limit = p.integer(call.params, "limit") or ALL_ORDERS_LIMIT
    return max(1, min(limit, ALL_ORDERS_MAX))


def all_orders(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    first_id, start, end = _window(call)
    rows = [
        order
        for order in call.engine.orders()
        if order.symbol == symbol
        and order.order_id >= first_id
        and start <= order.create_time <= end
    ]
    rows.sort(key=lambda order: order.order_id)
    return [shapes.order_json(call.engine, call.memory, o) for o in rows[: _limit(call)]]


def user_trades(call: Call) -> object:
    """``GET /fapi/v1/userTrades``: the account's fills, oldest first."""
    engine = call.engine
    symbol = p.required(call.params, "symbol")
    contract = contract_of(engine, symbol)
    _, start, end = _window(call)
    rows = []
    for fill in engine.fills():
        if fill.symbol != symbol or not start <= fill.time <= end:
            continue
        order = engine.order(fill.order_id)
        mode = order.position_mode if order is not None else engine.position_mode
        rows.append(
            {
                "buyer": is_buy(fill.side),
                "commission": fmt_money(fill.fee),
                "commissionAsset": "USDT",
                "id": fill.trade_id,
                "maker": fill.exec_type == "Maker",
                "orderId": fill.order_id,
                "price": fmt(fill.price),
                "qty": fmt(fill.qty * contract.contract_size),
                "quoteQty": fmt(fill.price * fill.qty * contract.contract_size),
                "realizedPnl": fmt_money(fill.realised_pnl),
                "side": "BUY" if is_buy(fill.side) else "SELL",
                "positionSide": shapes.position_side_of(fill.side, mode),
                "symbol": symbol,
                "time": fill.time,
            }
        )
    return rows[-_limit(call) :]


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/fapi/v1/order"): Route("SIGNED", new_order, weight=0, counts_order=True),
    ("GET", "/fapi/v1/order"): Route("SIGNED", query_order),
    ("DELETE", "/fapi/v1/order"): Route("SIGNED", cancel_order),
    ("GET", "/fapi/v1/openOrder"): Route("SIGNED", query_open_order),
    ("GET", "/fapi/v1/openOrders"): Route("SIGNED", open_orders, weight_without_symbol=40),
    ("DELETE", "/fapi/v1/allOpenOrders"): Route("SIGNED", cancel_all),
    ("GET", "/fapi/v1/allOrders"): Route("SIGNED", all_orders, weight=5),
    ("GET", "/fapi/v1/userTrades"): Route("SIGNED", user_trades, weight=5),
}
