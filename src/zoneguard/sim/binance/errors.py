"""Binance's error answers: ``{"code": -NNNN, "msg": "..."}`` with a 4xx status.

The codes and messages are Binance's published ones (USDⓈ-M "Error Codes" page). The
HTTP status is 400 for request and business errors, 401 for a refused API key, 429 for
rate limits, 404 for an unknown path (Binance answers that one with an HTML page; the
JSON body here is the simulator's choice).

:func:`from_engine` translates the engine's BitMart-numbered refusals into the Binance
code a client would see for the same mistake.
"""

from __future__ import annotations

from zoneguard.sim import errors as bm
from zoneguard.sim.errors import SimError

UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
TOO_MANY_ORDERS = -1015
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
MANDATORY_PARAM_MISSING = -1102
PARAM_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
NO_SUCH_LISTEN_KEY = -1125
BAD_RECV_WINDOW = -1131
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FORMAT = -2014
REJECTED_MBX_KEY = -2015
MARGIN_NOT_SUFFICIENT = -2019
ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
REDUCE_ONLY_REJECT = -2022
PRICE_LESS_THAN_ZERO = -4001
QTY_LESS_THAN_ZERO = -4003
QTY_GREATER_THAN_MAX = -4005
PRICE_NOT_INCREASED_BY_TICK = -4014
INVALID_CL_ORD_ID = -4015
QTY_NOT_INCREASED_BY_STEP = -4023
INVALID_LEVERAGE = -4028
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
MARGIN_TYPE_CANNOT_CHANGE_WITH_POSITION = -4048
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
POSITION_SIDE_NOT_MATCH = -4061
POSITION_SIDE_CHANGE_WITH_OPEN_ORDERS = -4067
POSITION_SIDE_CHANGE_WITH_POSITION = -4068
DUPLICATED_CLIENT_ID = -4116
STOP_ORDER_SWITCH_ALGO = -4120
LEVERAGE_CHANGE_WITH_POSITION = -4161
MIN_NOTIONAL = -4164
GTX_WOULD_TAKE = -5022

STOP_ORDER_SWITCH_ALGO_MSG = (
    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
)
GTX_WOULD_TAKE_MSG = (
    "Due to the order could not be executed as maker, the Post Only order will be rejected."
)


class BinanceError(Exception):
    """A refusal the dialect answers as Binance's ``{"code", "msg"}`` body."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


def missing(name: str) -> BinanceError:
    return BinanceError(
        MANDATORY_PARAM_MISSING,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )


def bad_symbol() -> BinanceError:
    return BinanceError(BAD_SYMBOL, "Invalid symbol.")


def reduce_only_rejected() -> BinanceError:
    return BinanceError(REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected.")


def no_such_order() -> BinanceError:
    return BinanceError(NO_SUCH_ORDER, "Order does not exist.")


_FROM_ENGINE: dict[int, tuple[int, str]] = {
    bm.SYMBOL_NOT_FOUND: (BAD_SYMBOL, "Invalid symbol."),
    bm.INSUFFICIENT_BALANCE: (MARGIN_NOT_SUFFICIENT, "Margin is insufficient."),
    bm.POSITION_NOT_EXIST: (REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected."),
    bm.CLOSE_SIZE_TOO_LARGE: (REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected."),
    bm.ORDER_NOT_EXIST: (NO_SUCH_ORDER, "Order does not exist."),
    bm.SIZE_OUT_OF_RANGE: (QTY_GREATER_THAN_MAX, "Quantity greater than max quantity."),
    bm.PRECISION_INVALID: (PRICE_NOT_INCREASED_BY_TICK, "Price not increased by tick size."),
    bm.LEVERAGE_TOO_LARGE: (INVALID_LEVERAGE, "Leverage is not valid."),
    bm.LEVERAGE_TOO_SMALL: (INVALID_LEVERAGE, "Leverage is not valid."),
    bm.LEVERAGE_CONFLICT: (
        LEVERAGE_CHANGE_WITH_POSITION,
        "The simulator cannot change leverage or margin type while a position is open.",
    ),
}


def from_engine(err: SimError) -> BinanceError:
    """The Binance answer to an engine refusal (a trigger already reached is -2021)."""
    if err.code == bm.INVALID_REQUEST and "trigger immediately" in err.message:
        return BinanceError(ORDER_WOULD_IMMEDIATELY_TRIGGER, "Order would immediately trigger.")
    code, msg = _FROM_ENGINE.get(err.code, (UNKNOWN, f"Request refused: {err.message}"))
    return BinanceError(code, msg)
