"""Binance replies and error codes -> the venue-neutral exceptions of ``exchange.errors``.

A success is the plain JSON result with HTTP 2xx; a failure is ``{"code": -NNNN, "msg":
"..."}`` with HTTP 4xx, except that the HTTP status alone decides some cases (research
§A.2, §A.8):

* 429: too many requests (-1003), wait ``Retry-After``; 418: the IP is banned for
  ``Retry-After`` seconds. Both are rate limits: the same request goes again later.
* 503 "Unknown error, please check your request or try again later" and any other 5xx,
  408 (backend timeout): the order's fate is unknown and must be looked up, never
  resent blindly.
* -1021 and -5028 (timestamp outside ``recvWindow``, at the gateway or at the matching
  engine): refused before execution; re-measure the clock and send the same request.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from zoneguard.exchange.errors import (
    AuthenticationFailed,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientBalance,
    InvalidRequest,
    MarketUnavailable,
    OrderNotFound,
    PositionNotFound,
    PostOnlyWouldCross,
    RateLimited,
    Rejected,
    UnknownOutcome,
)

DEFAULT_RETRY_AFTER_S = 1.0
CLOCK_CODES = frozenset({-1021, -5028})
"""Timestamp outside the receive window: nothing was executed; resync, then resend."""
POST_ONLY_REJECTED = -5022
CONDITIONAL_ON_ORDER_ENDPOINT = -4120
"""A conditional type sent to ``/fapi/v1/order``: it belongs to ``/fapi/v1/algoOrder``."""
WOULD_TRIGGER_AT_ONCE = frozenset({-2021, -4142})
"""A stop or take-profit already crossed: the position must be closed at market instead."""

_AUTH = frozenset({-1022, -2014, -2015, -1002})
_RATE = frozenset({-1003, -1015})
_UNKNOWN = frozenset({-1000, -1001, -1006, -1007, -1008})
_BUSINESS: dict[int, type[Rejected]] = {
    -2011: OrderNotFound,
    -2013: OrderNotFound,
    -2019: InsufficientBalance,
    -2018: InsufficientBalance,
    -2022: PositionNotFound,
    -4116: DuplicateClientOrderId,
    -4015: InvalidRequest,
    -1121: MarketUnavailable,
    -4108: MarketUnavailable,
    POST_ONLY_REJECTED: PostOnlyWouldCross,
}


@dataclass(frozen=True, slots=True)
class ErrorBody:
    code: int
    msg: str


def parse_error(body: bytes) -> ErrorBody | None:
    """The ``{"code", "msg"}`` of a failure, or None if the body is not one."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(decoded, dict):
        return None
    code = decoded.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    msg = decoded.get("msg")
    return ErrorBody(code, msg if isinstance(msg, str) else "")


def error_for_code(
    code: int, message: str, *, http_status: int | None = None, retry_after_s: float | None = None
) -> ExchangeError:
    """The typed exception for one Binance error code."""
    if code in _RATE:
        wait = DEFAULT_RETRY_AFTER_S if retry_after_s is None else retry_after_s
        return RateLimited(message, code=code, http_status=http_status, retry_after_s=wait)
    if code in _UNKNOWN:
        return UnknownOutcome(message, code=code, http_status=http_status)
    if code in _AUTH:
        return AuthenticationFailed(message, code=code, http_status=http_status)
    if code in CLOCK_CODES:
        # Refused before execution; the client resyncs and resends (never an auth stop).
        return InvalidRequest(message, code=code, http_status=http_status)
    if code in _BUSINESS:
        return _BUSINESS[code](message, code=code, http_status=http_status)
    if -1199 <= code <= -1100 or -4999 <= code <= -4000:
        return InvalidRequest(message, code=code, http_status=http_status)
    return Rejected(message, code=code, http_status=http_status)


def error_for_reply(
    http_status: int, body: bytes, *, context: str, retry_after_s: float | None = None
) -> ExchangeError:
    """The exception for a reply that is not a success. ``context`` (method and path,
    never headers or the signature) prefixes the message so logs say which call failed."""
    error = parse_error(body)
    if http_status in (429, 418):
        wait = DEFAULT_RETRY_AFTER_S if retry_after_s is None else retry_after_s
        code = None if error is None else error.code
        what = "IP banned" if http_status == 418 else "too many requests"
        return RateLimited(
            f"{context}: {what}", code=code, http_status=http_status, retry_after_s=wait
        )
    if http_status >= 500 or http_status == 408:
        code = None if error is None else error.code
        detail = "" if error is None else f": {error.msg}"
        return UnknownOutcome(
            f"{context}: HTTP {http_status}{detail}", code=code, http_status=http_status
        )
    if error is None:
        message = f"{context}: HTTP {http_status} without a Binance error body"
        if http_status in (401, 403):
            return AuthenticationFailed(message, http_status=http_status)
        return InvalidRequest(message, http_status=http_status)
    return error_for_code(
        error.code,
        f"{context}: {error.msg or 'no message'}",
        http_status=http_status,
        retry_after_s=retry_after_s,
    )
