"""Binance signatures: the documented HMAC example, and a signed query whose signature
covers exactly the bytes sent."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

import pytest

from zoneguard.exchange.binance.ids import is_valid_client_order_id
from zoneguard.exchange.binance.signing import encode_params, sign, signed_query
from zoneguard.exchange.bitmart.ids import client_order_id_for

DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
"""Binance's own example (USDⓈ-M "SIGNED endpoint examples", HMAC SHA256)."""


def test_the_documented_example_signs_as_binance_shows() -> None:
    assert sign(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE


def test_a_signed_query_ends_with_the_signature_of_everything_before_it() -> None:
    params = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC")]
    params += [("quantity", "1"), ("price", "0.1")]
    query = signed_query(params, DOC_SECRET, 1499827319559)
    assert query == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"
    text, _, signature = query.rpartition("&signature=")
    expected = hmac.new(DOC_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    assert signature == expected


def test_values_are_percent_encoded_and_round_trip() -> None:
    text = encode_params([("newClientOrderId", "a/b:c.d"), ("note", "x y&z")])
    assert dict(parse_qsl(text)) == {"newClientOrderId": "a/b:c.d", "note": "x y&z"}
    assert "&z" not in text.split("note=")[1]


def test_recv_window_is_bounded_as_binance_bounds_it() -> None:
    with pytest.raises(ValueError, match="recvWindow"):
        signed_query([], DOC_SECRET, 1, recv_window_ms=60_001)


def test_our_client_ids_fit_binances_rule() -> None:
    cid = client_order_id_for("order-1", "close3")
    assert is_valid_client_order_id(cid)
    assert is_valid_client_order_id("x-cvBPrNm9" + "a" * 26)
    assert not is_valid_client_order_id("a" * 37)
    assert not is_valid_client_order_id("has space")
