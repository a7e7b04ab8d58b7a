"""Binance's JSON shapes for orders, algo orders, positions and balances.

Field lists follow the SDK's response models (``rest_api/models``) and the examples in
Binance's endpoint docs; numbers are strings except ids, times and leverage, as there.
Values the simulator does not model (maintenance margin, ADL rank, break-even price) are
computed simply and marked where they are inferred.
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.binance.memory import AlgoTerms, Memory, OrderTerms
from zoneguard.sim.decimals import fmt, fmt_money
from zoneguard.sim.engine import MAINTENANCE_MARGIN_RATE, Engine
from zoneguard.sim.model import (
    LONG,
    ONE_WAY_MODE,
    PLAN_STATE_ACTIVE,
    PLAN_STATE_CANCELLED,
    Order,
    Position,
    is_buy,
    is_opening,
    position_type_of,
)

ACCOUNT_ALIAS = "SimAccount"


def order_status(order: Order, terms: OrderTerms) -> str:
    if order.is_open:
        return "PARTIALLY_FILLED" if order.deal_size else "NEW"
    if order.deal_size == order.size:
        return "FILLED"
    return "CANCELED" if terms.cancelled else "EXPIRED"


def position_side_of(order_side: int, mode: str) -> str:
    if mode == ONE_WAY_MODE:
        return "BOTH"
    return "LONG" if position_type_of(order_side) == LONG else "SHORT"


def terms_of(memory: Memory, order: Order) -> OrderTerms:
    """The order's Binance terms; for an order an algo order sent when it fired, terms
    derived from the algo (its child keeps the algo's client id: inferred)."""
    terms = memory.orders.get(order.order_id)
    if terms is not None:
        return terms
    algo = memory.algo_of_order(order.plan_order_id)
    terms = OrderTerms(
        client_order_id=algo.client_algo_id if algo else f"sim_{order.order_id}",
        order_type=order.type.upper(),
        time_in_force=algo.time_in_force if algo else "GTC",
        reduce_only=not is_opening(order.side),
        position_side=position_side_of(order.side, order.position_mode),
        close_position=algo.close_position if algo else False,
        stop_price=algo.trigger_price if algo else Decimal(0),
    )
    memory.orders[order.order_id] = terms
    return terms


def order_json(
    engine: Engine, memory: Memory, order: Order, *, ack: bool = False
) -> dict[str, object]:
    """``GET /fapi/v1/order`` (and the RESULT answer of a new order); ``ack`` shows the
    order as just accepted, before matching: the ACK answer."""
    terms = terms_of(memory, order)
    size = engine.contract(order.symbol).contract_size
    deal = 0 if ack else order.deal_size
    deal_value = Decimal(0) if ack else order.deal_value
    status = "NEW" if ack else order_status(order, terms)
    return {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": status,
        "clientOrderId": terms.client_order_id,
        "price": fmt(order.price),
        "avgPrice": fmt(deal_value / deal) if deal else "0",
        "origQty": fmt(order.size * size),
        "executedQty": fmt(deal * size),
        "cumQty": fmt(deal * size),
        "cumQuote": fmt(deal_value * size),
        "timeInForce": terms.time_in_force,
        "type": "MARKET" if order.type == "market" else "LIMIT",
        "origType": terms.order_type,
        "reduceOnly": terms.reduce_only,
        "closePosition": terms.close_position,
        "side": "BUY" if is_buy(order.side) else "SELL",
        "positionSide": terms.position_side,
        "stopPrice": fmt(terms.stop_price),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": order.create_time,
        "updateTime": order.create_time if ack else order.update_time,
    }


def algo_status(engine: Engine, algo: AlgoTerms) -> str:
    """NEW while armed; CANCELED by a client, EXPIRED by the system (its position went
    flat, or nothing was left to close when it fired); TRIGGERED once its order is sent,
    FINISHED once that order is done."""
    plan = algo.plan
    if plan.state == PLAN_STATE_ACTIVE:
        return "NEW"
    if plan.state == PLAN_STATE_CANCELLED:
        return "CANCELED" if algo.cancelled else "EXPIRED"
    child = engine.order(plan.executive_order_id) if plan.executive_order_id else None
    return "TRIGGERED" if child is not None and child.is_open else "FINISHED"


def algo_json(engine: Engine, algo: AlgoTerms) -> dict[str, object]:
    """``GET /fapi/v1/algoOrder``; the new-order answer has the same fields less the
    ``actual*`` ones (SDK models ``NewAlgoOrderResponse`` and ``QueryAlgoOrderResponse``)."""
    plan = algo.plan
    contract = engine.contract(plan.symbol)
    child = engine.order(plan.executive_order_id) if plan.executive_order_id else None
    return {
        "algoId": plan.order_id,
        "clientAlgoId": algo.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": algo.order_type,
        "symbol": plan.symbol,
        "side": algo.side,
        "positionSide": algo.position_side,
        "timeInForce": algo.time_in_force,
        "quantity": fmt(algo.quantity),
        "algoStatus": algo_status(engine, algo),
        "actualOrderId": str(child.order_id) if child else "",
        "actualPrice": fmt(child.deal_avg_price) if child else "0",
        "actualType": child.type.upper() if child else "",
        "actualQty": fmt(child.deal_size * contract.contract_size) if child else "0",
        "triggerPrice": fmt(algo.trigger_price),
        "price": fmt(algo.price),
        "icebergQuantity": None,
        "tpTriggerPrice": "0",
        "tpPrice": "0",
        "slTriggerPrice": "0",
        "slPrice": "0",
        "tpOrderType": "",
        "selfTradePreventionMode": "NONE",
        "workingType": algo.working_type,
        "priceMatch": "NONE",
        "closePosition": algo.close_position,
        "priceProtect": algo.price_protect,
        "reduceOnly": algo.reduce_only,
        "createTime": plan.create_time,
        "updateTime": plan.update_time,
        "triggerTime": plan.update_time if child else 0,
        "goodTillDate": 0,
    }


def signed_amount(engine: Engine, position: Position) -> Decimal:
    size = engine.contract(position.symbol).contract_size
    amount = position.hold * size
    return amount if position.position_type == LONG else -amount


def break_even(engine: Engine, position: Position) -> Decimal:
    """Entry moved by the fees paid per unit: an approximation of Binance's figure."""
    if not position.hold:
        return Decimal(0)
    amount = abs(signed_amount(engine, position))
    per_unit = position.fees / amount
    return position.entry_price + (per_unit if position.position_type == LONG else -per_unit)


def position_json(engine: Engine, position: Position, *, v2: bool) -> dict[str, object]:
    """One ``positionRisk`` row (v3 fields; v2 adds leverage, marginType and friends)."""
    mark = engine.last_price(position.symbol)
    amount = signed_amount(engine, position)
    notional = amount * mark
    isolated = position.open_type == "isolated" and position.hold > 0
    side = "LONG" if position.position_type == LONG else "SHORT"
    if engine.position_mode == ONE_WAY_MODE:
        side = "BOTH"
    row: dict[str, object] = {
        "symbol": position.symbol,
        "positionSide": side,
        "positionAmt": fmt(amount),
        "entryPrice": fmt(position.entry_price) if position.hold else "0",
        "breakEvenPrice": fmt(break_even(engine, position)),
        "markPrice": fmt(mark),
        "unRealizedProfit": fmt_money(engine.unrealized_pnl(position)),
        "liquidationPrice": fmt(engine.liquidation_price(position)) if position.hold else "0",
        "isolatedMargin": fmt_money(position.margin) if isolated else "0",
        "notional": fmt_money(notional),
        "marginAsset": "USDT",
        "isolatedWallet": fmt_money(position.margin) if isolated else "0",
        "initialMargin": fmt_money(position.margin if position.hold else Decimal(0)),
        "maintMargin": fmt_money(abs(notional) * MAINTENANCE_MARGIN_RATE),
        "positionInitialMargin": fmt_money(position.margin if position.hold else Decimal(0)),
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": position.update_time,
    }
    if v2:
        row["leverage"] = fmt(position.leverage)
        row["maxNotionalValue"] = "1000000000"
        row["marginType"] = "isolated" if position.open_type == "isolated" else "cross"
        row["isAutoAddMargin"] = "false"
    return row


def totals(engine: Engine) -> dict[str, str]:
    """The account-wide USDT figures ``/fapi/v3/account`` and ``/balance`` share."""
    balance = engine.balance()
    maint = sum(
        (
            abs(signed_amount(engine, p) * engine.last_price(p.symbol)) * MAINTENANCE_MARGIN_RATE
            for p in engine.positions()
            if p.hold
        ),
        Decimal(0),
    )
    return {
        "walletBalance": fmt_money(balance.wallet),
        "unrealizedProfit": fmt_money(balance.unrealized),
        "marginBalance": fmt_money(balance.equity),
        "maintMargin": fmt_money(maint),
        "initialMargin": fmt_money(balance.position_deposit + balance.frozen),
        "positionInitialMargin": fmt_money(balance.position_deposit),
        "openOrderInitialMargin": fmt_money(balance.frozen),
        "crossWalletBalance": fmt_money(balance.wallet),
        "crossUnPnl": fmt_money(balance.unrealized),
        "availableBalance": fmt_money(balance.available),
        "maxWithdrawAmount": fmt_money(max(balance.available, Decimal(0))),
    }


def account_json(engine: Engine) -> dict[str, object]:
    figures = totals(engine)
    now = engine.now_ms()
    positions = [
        {
            "symbol": p.symbol,
            "positionSide": position_json(engine, p, v2=False)["positionSide"],
            "positionAmt": fmt(signed_amount(engine, p)),
            "unrealizedProfit": fmt_money(engine.unrealized_pnl(p)),
            "isolatedMargin": fmt_money(p.margin) if p.open_type == "isolated" else "0",
            "notional": fmt_money(signed_amount(engine, p) * engine.last_price(p.symbol)),
            "isolatedWallet": fmt_money(p.margin) if p.open_type == "isolated" else "0",
            "initialMargin": fmt_money(p.margin),
            "maintMargin": fmt_money(
                abs(signed_amount(engine, p) * engine.last_price(p.symbol))
                * MAINTENANCE_MARGIN_RATE
            ),
            "updateTime": p.update_time,
        }
        for p in engine.positions()
        if p.hold
    ]
    return {
        "totalInitialMargin": figures["initialMargin"],
        "totalMaintMargin": figures["maintMargin"],
        "totalWalletBalance": figures["walletBalance"],
        "totalUnrealizedProfit": figures["unrealizedProfit"],
        "totalMarginBalance": figures["marginBalance"],
        "totalPositionInitialMargin": figures["positionInitialMargin"],
        "totalOpenOrderInitialMargin": figures["openOrderInitialMargin"],
        "totalCrossWalletBalance": figures["crossWalletBalance"],
        "totalCrossUnPnl": figures["crossUnPnl"],
        "availableBalance": figures["availableBalance"],
        "maxWithdrawAmount": figures["maxWithdrawAmount"],
        "assets": [{"asset": "USDT", **figures, "marginAvailable": True, "updateTime": now}],
        "positions": positions,
    }


def balance_json(engine: Engine) -> list[dict[str, object]]:
    figures = totals(engine)
    return [
        {
            "accountAlias": ACCOUNT_ALIAS,
            "asset": "USDT",
            "balance": figures["walletBalance"],
            "crossWalletBalance": figures["crossWalletBalance"],
            "crossUnPnl": figures["crossUnPnl"],
            "availableBalance": figures["availableBalance"],
            "maxWithdrawAmount": figures["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": engine.now_ms(),
        }
    ]
