"""Venue-neutral requests -> BitMart request bodies (pure functions, no I/O).

Types follow PROTOCOL §7: ``size`` a JSON integer of contracts, prices and leverage
strings, ``side``/``mode``/``*_type`` integers. Anything BitMart would misread is refused
here with InvalidRequest before a byte is sent: a fractional size is never rounded away.
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.domain.market import OrderType, TimeInForce
from zoneguard.domain.values import PriceSource
from zoneguard.exchange.bitmart.enums import (
    STOP_TYPE_BY_ORIGIN,
    encode_mode,
    encode_open_type,
    encode_price_type,
    encode_side,
)
from zoneguard.exchange.bitmart.ids import is_valid_client_order_id
from zoneguard.exchange.errors import InvalidRequest
from zoneguard.exchange.port import OrderRequest, StopRequest

JsonBody = dict[str, object]


def decimal_text(value: Decimal) -> str:
    """Plain notation, never an exponent: ``Decimal("6.5E+4")`` -> ``"65000"``."""
    if not value.is_finite():
        raise InvalidRequest(f"not a finite number: {value}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def contracts_int(contracts: Decimal) -> int:
    """Whole contracts as BitMart's integer ``size``; anything else is refused."""
    if not contracts.is_finite() or contracts <= 0 or contracts != contracts.to_integral_value():
        raise InvalidRequest(f"size must be a positive whole number of contracts, got {contracts}")
    return int(contracts)


def positive_text(value: Decimal, what: str) -> str:
    """A price or leverage as BitMart's decimal string; zero, negative or NaN is refused."""
    if not value.is_finite() or value <= 0:
        raise InvalidRequest(f"{what} must be a positive price, got {value}")
    return decimal_text(value)


def _check_client_order_id(client_order_id: str) -> str:
    if not is_valid_client_order_id(client_order_id):
        raise InvalidRequest(
            f"client_order_id must be 1-32 letters or digits, got {client_order_id!r}"
        )
    return client_order_id


def submit_order_body(request: OrderRequest) -> JsonBody:
    """The ``submit-order`` body for one open or close request."""
    opening = not request.reduce_only
    body: JsonBody = {
        "symbol": request.symbol,
        "side": encode_side(request.position_side, request.reduce_only),
        "type": request.order_type.value,
    }
    if request.order_type is OrderType.LIMIT:
        if request.price is None:
            raise InvalidRequest("a limit order needs a price")
        body["price"] = positive_text(request.price, "price")
    elif request.time_in_force is TimeInForce.POST_ONLY:
        raise InvalidRequest("a market order cannot be post-only")
    body["size"] = contracts_int(request.contracts)
    if opening:
        if request.leverage is not None:
            body["leverage"] = positive_text(request.leverage, "leverage")
        body["open_type"] = encode_open_type(request.margin_mode)
    if request.order_type is OrderType.LIMIT or request.time_in_force is not TimeInForce.GTC:
        body["mode"] = encode_mode(request.time_in_force)
    if request.client_order_id is not None:
        body["client_order_id"] = _check_client_order_id(request.client_order_id)
    _add_presets(body, request, opening)
    return body


def _add_presets(body: JsonBody, request: OrderRequest, opening: bool) -> None:
    if request.preset_take_profit is None and request.preset_stop_loss is None:
        return
    if not opening:
        # BitMart attaches presets to opening orders only; refusing beats a silent no-op.
        raise InvalidRequest("preset take-profit/stop-loss only apply to opening orders")
    price_type = encode_price_type(request.preset_price_source)
    if request.preset_take_profit is not None:
        body["preset_take_profit_price"] = positive_text(
            request.preset_take_profit, "preset_take_profit"
        )
    if request.preset_stop_loss is not None:
        body["preset_stop_loss_price"] = positive_text(request.preset_stop_loss, "preset_stop_loss")
    if request.preset_take_profit is not None:
        body["preset_take_profit_price_type"] = price_type
    if request.preset_stop_loss is not None:
        body["preset_stop_loss_price_type"] = price_type


def tp_sl_body(request: StopRequest) -> JsonBody:
    """``submit-tp-sl-order`` body: a market-executed position TP or SL.

    No size -> ``plan_category`` 2 (the whole position, whatever it becomes); a size ->
    ``plan_category`` 1 with that many contracts.
    """
    stop_type = STOP_TYPE_BY_ORIGIN.get(request.origin)
    if stop_type is None:
        raise InvalidRequest(f"a stop must be a take-profit or a stop-loss, got {request.origin}")
    body: JsonBody = {
        "symbol": request.symbol,
        "type": stop_type,
        "side": encode_side(request.position_side, True),
        "trigger_price": positive_text(request.trigger_price, "trigger_price"),
        "executive_price": "0",  # "0" = execute at market when triggered
        "price_type": encode_price_type(request.price_source),
    }
    if request.contracts is None:
        body["plan_category"] = 2
    else:
        body["size"] = contracts_int(request.contracts)
        body["plan_category"] = 1
        body["category"] = "market"
    if request.client_order_id is not None:
        body["client_order_id"] = _check_client_order_id(request.client_order_id)
    return body


def modify_presets_body(
    symbol: str,
    order_id: str,
    take_profit: Decimal | None,
    stop_loss: Decimal | None,
    price_source: PriceSource,
) -> JsonBody:
    """``modify-preset-plan-order`` body for a still-open entry order."""
    if take_profit is None and stop_loss is None:
        raise InvalidRequest("modify presets needs a take-profit or a stop-loss")
    body: JsonBody = {"symbol": symbol, "order_id": order_id}
    price_type = encode_price_type(price_source)
    if take_profit is not None:
        body["preset_take_profit_price"] = positive_text(take_profit, "take_profit")
        body["preset_take_profit_price_type"] = price_type
    if stop_loss is not None:
        body["preset_stop_loss_price"] = positive_text(stop_loss, "stop_loss")
        body["preset_stop_loss_price_type"] = price_type
    return body
