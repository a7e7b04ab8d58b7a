"""Binance failures become the worker's typed errors: a lost outcome is looked up, a rate
limit waits, a post-only refusal re-prices, a duplicate client id adopts the original."""

from __future__ import annotations

import pytest

from zoneguard.exchange.binance.codes import error_for_reply
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientBalance,
    InvalidRequest,
    OrderNotFound,
    PositionNotFound,
    PostOnlyWouldCross,
    RateLimited,
    UnknownOutcome,
)


def body(code: int, msg: str = "x") -> bytes:
    return f'{{"code":{code},"msg":"{msg}"}}'.encode()


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (400, body(-5022, "Due to the order could not be executed as maker"), PostOnlyWouldCross),
        (400, body(-4116, "ClientOrderId is duplicated."), DuplicateClientOrderId),
        (400, body(-2013, "Order does not exist."), OrderNotFound),
        (400, body(-2011, "Unknown order sent."), OrderNotFound),
        (400, body(-2022, "ReduceOnly Order is rejected."), PositionNotFound),
        (400, body(-2019, "Margin is insufficient."), InsufficientBalance),
        (400, body(-1022, "Signature for this request is not valid."), AuthenticationFailed),
        (401, body(-2015, "Invalid API-key, IP, or permissions for action."), AuthenticationFailed),
        (400, body(-4014, "Price not increased by tick size."), InvalidRequest),
        (
            400,
            body(-1021, "Timestamp outside of the recvWindow."),
            InvalidRequest,
        ),
        (400, body(-1007, "Timeout waiting for response from backend server."), UnknownOutcome),
        (
            503,
            body(-1000, "Unknown error, please try again later."),
            UnknownOutcome,
        ),
        (502, b"<html>bad gateway</html>", UnknownOutcome),
        (408, b"", UnknownOutcome),
        (429, body(-1003, "Too many requests."), RateLimited),
        (418, body(-1003, "Way too many requests; IP banned"), RateLimited),
        (403, b"<html>WAF</html>", AuthenticationFailed),
    ],
)
def test_each_reply_maps_to_its_policy(
    status: int, payload: bytes, kind: type[ExchangeError]
) -> None:
    error = error_for_reply(status, payload, context="POST /fapi/v1/order", retry_after_s=7.0)
    assert type(error) is kind
    assert error.http_status == status
    assert str(error).find("POST /fapi/v1/order") >= 0


def test_a_rate_limit_keeps_the_retry_after_and_the_code() -> None:
    error = error_for_reply(429, body(-1003), context="GET /fapi/v1/order", retry_after_s=12.0)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 12.0
    assert error.code == -1003


def test_the_lost_outcome_is_never_taken_for_a_refusal() -> None:
    error = error_for_reply(503, body(-1000), context="POST /fapi/v1/order")
    assert error.retryable and isinstance(error, UnknownOutcome)
