"""Signatures against BitMart's published test vectors (PROTOCOL §2.2)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from zoneguard.exchange.bitmart.signing import (
    keyed_headers,
    sign_rest,
    sign_ws_login,
    signed_headers,
    ws_login_args,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"
SECRET = "6c6c98544461bbe71db2bca4c6d7fd0021e0ba9efc215f9c6ad41852df9d9df9"
MEMO = "test001"
TS = 1589267764859
REST_BODY = (
    '{"symbol":"BTCUSDT","side":1,"type":"limit","price":"60000","size":10,'
    '"leverage":"10","open_type":"isolated","mode":4}'
)
REST_SIGN = "499dce409ff02371e7beb9086f045da1504e3fa24652c37686fa025099490015"
WS_SIGN = "3ceeb7e1b8cb165a975e28a2e2dfaca4d30b358873c0351c1a071d8c83314556"


def test_ws_login_vector() -> None:
    assert sign_ws_login(SECRET, MEMO, TS) == WS_SIGN


def test_rest_vector() -> None:
    assert sign_rest(SECRET, MEMO, TS, REST_BODY) == REST_SIGN


def test_orjson_serialises_the_vector_body_byte_for_byte() -> None:
    """The client signs orjson's output and sends it: it must be BitMart's compact form."""
    body = {
        "symbol": "BTCUSDT",
        "side": 1,
        "type": "limit",
        "price": "60000",
        "size": 10,
        "leverage": "10",
        "open_type": "isolated",
        "mode": 4,
    }
    assert orjson.dumps(body).decode() == REST_BODY


def test_signature_changes_with_whitespace() -> None:
    spaced = REST_BODY.replace(",", ", ")
    assert sign_rest(SECRET, MEMO, TS, spaced) != REST_SIGN


def test_signed_headers() -> None:
    headers = signed_headers("key1", SECRET, MEMO, TS, REST_BODY)
    assert headers == {
        "X-BM-KEY": "key1",
        "X-BM-SIGN": REST_SIGN,
        "X-BM-TIMESTAMP": str(TS),
        "Content-Type": "application/json",
    }


def test_keyed_headers_carry_only_the_key() -> None:
    assert keyed_headers("key1") == {"X-BM-KEY": "key1"}


def test_ws_login_args_match_the_access_fixture() -> None:
    frame = json.loads((FIXTURES / "ws_futures_access_request.json").read_text())
    api_key = frame["args"][0]
    assert ws_login_args(api_key, SECRET, MEMO, TS) == frame["args"]
