"""BitMart envelopes and codes -> typed exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoneguard.exchange.bitmart.codes import (
    error_for_code,
    error_for_reply,
    parse_code,
    parse_envelope,
    unwrap,
)
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

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (30001, "X-BM-KEY is empty", AuthenticationFailed),
        (30002, "X-BM-KEY not found", AuthenticationFailed),
        (30005, "Header X-BM-SIGN is wrong", AuthenticationFailed),
        (30007, "Header X-BM-TIMESTAMP range", AuthenticationFailed),
        (30010, "IP is forbidden", AuthenticationFailed),
        (30012, "no permission", AuthenticationFailed),
        (30019, "no permission", AuthenticationFailed),
        (30013, "too many requests", RateLimited),
        (30017, "rejected for rate rules", RateLimited),
        (40013, "accessed too often", RateLimited),
        (30014, "service unavailable", UnknownOutcome),
        (30000, "not found", InvalidRequest),
        (30018, "body must be json", InvalidRequest),
        (30016, "maintenance", MarketUnavailable),
        (40050, "duplicate client_order_id", DuplicateClientOrderId),
        (40035, "Order not exist", OrderNotFound),
        (40037, "order id not exist", OrderNotFound),
        (40020, "position volume insufficient", PositionNotFound),
        (40021, "position not exist", PositionNotFound),
        (40018, "position closed", PositionNotFound),
        (40027, "insufficient balance", InsufficientBalance),
        (42000, "insufficient balance", InsufficientBalance),
        (40034, "contract not found", MarketUnavailable),
        (40014, "contract offline", MarketUnavailable),
        (40015, "trading paused", MarketUnavailable),
        (40011, "Maker only order would be filled immediately", PostOnlyWouldCross),
        (40011, "order is Post Only and would take liquidity", PostOnlyWouldCross),
        (40011, "invalid request", InvalidRequest),
        (40043, "precision invalid", InvalidRequest),
        (40044, "size out of range", InvalidRequest),
        (40048, "client_order_id letters digits", InvalidRequest),
        (40007, "parse error", InvalidRequest),
        (40016, "would trigger liquidation", Rejected),
        (40036, "state does not allow", Rejected),
        (49999, "something new", Rejected),
    ],
)
def test_code_mapping(code: int, message: str, expected: type[ExchangeError]) -> None:
    error = error_for_code(code, message, http_status=400)
    assert type(error) is expected
    assert error.code == code
    assert error.http_status == 400
    assert message in str(error)


def test_rejections_are_not_retryable_and_unknown_outcomes_are() -> None:
    assert not error_for_code(40027, "x").retryable
    assert error_for_code(30014, "x").retryable
    assert error_for_code(30013, "x").retryable


def test_rate_limit_carries_retry_after() -> None:
    error = error_for_code(30013, "slow down", retry_after_s=2.5)
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 2.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1000, 1000), ("1000", 1000), ("x", None), (True, None), (None, None), ("40035", 40035)],
)
def test_parse_code_is_lenient(raw: object, expected: int | None) -> None:
    assert parse_code(raw) == expected


def test_string_success_code_unwraps() -> None:
    assert unwrap(200, b'{"code":"1000","message":"OK","data":{"a":1}}', context="GET /x") == {
        "a": 1
    }


def test_error_fixture_with_http_400_is_order_not_found() -> None:
    body = (FIXTURES / "rest_error_order_not_exist_response.json").read_bytes()
    envelope = parse_envelope(body)
    assert envelope is not None
    assert (envelope.code, envelope.message, envelope.data) == (40035, "Order not exist", None)
    assert envelope.trace == "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    with pytest.raises(OrderNotFound) as caught:
        unwrap(400, body, context="GET /contract/private/order")
    assert caught.value.code == 40035
    assert caught.value.http_status == 400
    assert "GET /contract/private/order" in str(caught.value)


def test_business_error_with_http_200_is_still_an_error() -> None:
    with pytest.raises(DuplicateClientOrderId):
        unwrap(200, b'{"code":40050,"message":"dup","data":null}', context="POST /o")


def test_json_5xx_is_unknown_outcome_even_for_a_business_code() -> None:
    body = b'{"code":40027,"message":"x","data":null}'
    assert type(error_for_reply(502, parse_envelope(body), context="POST /o")) is UnknownOutcome


def test_json_503_30014_is_unknown_outcome() -> None:
    body = b'{"code":30014,"message":"Service unavailable","data":null}'
    with pytest.raises(UnknownOutcome) as caught:
        unwrap(503, body, context="POST /o")
    assert caught.value.http_status == 503


def test_429_is_rate_limited_with_header_value() -> None:
    body = b'{"code":30013,"message":"too many","data":null}'
    with pytest.raises(RateLimited) as caught:
        unwrap(429, body, context="POST /o", retry_after_s=2.0)
    assert caught.value.retry_after_s == 2.0


def test_html_403_is_authentication_with_user_agent_hint() -> None:
    html = b"<html><body>error code: 1010</body></html>"
    with pytest.raises(AuthenticationFailed) as caught:
        unwrap(403, html, context="GET /contract/public/details")
    assert "User-Agent" in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
def test_html_5xx_is_unknown_outcome(status: int) -> None:
    with pytest.raises(UnknownOutcome):
        unwrap(status, b"<html>Bad gateway</html>", context="POST /o")


def test_unreadable_200_is_unknown_outcome() -> None:
    with pytest.raises(UnknownOutcome):
        unwrap(200, b"", context="POST /o")


def test_html_404_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        unwrap(404, b"<html>not found</html>", context="GET /nope")


def test_json_without_code_is_not_an_envelope() -> None:
    assert parse_envelope(b'{"message":"hi"}') is None
    assert parse_envelope(b"[1,2]") is None
