"""Signature and header checks against BitMart's published test vector."""

from __future__ import annotations

import pytest

from zoneguard.sim.auth import (
    Credentials,
    check_key,
    check_signed,
    check_ws_login,
    signature,
)
from zoneguard.sim.errors import SimError

SECRET = "6c6c98544461bbe71db2bca4c6d7fd0021e0ba9efc215f9c6ad41852df9d9df9"
MEMO = "test001"
TS = "1589267764859"
CREDS = Credentials("the-key", SECRET, MEMO)
BODY = (
    b'{"symbol":"BTCUSDT","side":1,"type":"limit","price":"60000","size":10,'
    b'"leverage":"10","open_type":"isolated","mode":4}'
)


def test_websocket_login_vector_from_bitmart_docs() -> None:
    expected = "3ceeb7e1b8cb165a975e28a2e2dfaca4d30b358873c0351c1a071d8c83314556"
    assert signature(SECRET, MEMO, TS, b"bitmart.WebSocket") == expected
    assert check_ws_login(["the-key", TS, expected, "web"], CREDS, int(TS) + 1000) is None
    assert check_ws_login(["the-key", TS, expected, "web"], CREDS, int(TS) + 61_000) is not None
    assert check_ws_login(["other", TS, expected, "web"], CREDS, int(TS)) is not None
    assert check_ws_login(["the-key", TS, "0" * 64, "web"], CREDS, int(TS)) is not None


def test_rest_vector_signs_the_raw_body() -> None:
    expected = "499dce409ff02371e7beb9086f045da1504e3fa24652c37686fa025099490015"
    assert signature(SECRET, MEMO, TS, BODY) == expected
    headers = {"X-BM-KEY": "the-key", "X-BM-SIGN": expected, "X-BM-TIMESTAMP": TS}
    check_signed(headers, BODY, CREDS, int(TS))
    with pytest.raises(SimError) as caught:
        check_signed(headers, BODY.replace(b":", b": "), CREDS, int(TS))  # same JSON, other bytes
    assert caught.value.code == 30005


@pytest.mark.parametrize(
    ("headers", "now_offset", "code"),
    [
        ({}, 0, 30001),
        ({"X-BM-KEY": "nope"}, 0, 30002),
        ({"X-BM-KEY": "the-key"}, 0, 30004),
        ({"X-BM-KEY": "the-key", "X-BM-SIGN": "ab"}, 0, 30006),
        ({"X-BM-KEY": "the-key", "X-BM-SIGN": "ab", "X-BM-TIMESTAMP": "12:00"}, 0, 30008),
        ({"X-BM-KEY": "the-key", "X-BM-SIGN": "ab", "X-BM-TIMESTAMP": TS}, 60_001, 30007),
        ({"X-BM-KEY": "the-key", "X-BM-SIGN": "ab", "X-BM-TIMESTAMP": TS}, 0, 30005),
    ],
)
def test_signed_header_errors_in_order(headers: dict[str, str], now_offset: int, code: int) -> None:
    with pytest.raises(SimError) as caught:
        check_signed(headers, BODY, CREDS, int(TS) + now_offset)
    assert caught.value.code == code
    assert caught.value.http_status == 401


def test_keyed_level_ignores_signatures() -> None:
    check_key({"X-BM-KEY": "the-key", "X-BM-SIGN": "garbage"}, CREDS)
