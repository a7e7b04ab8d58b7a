"""Binance request authentication: API key header, timestamp window, HMAC signature.

A SIGNED request carries ``X-MBX-APIKEY``, a ``timestamp`` in ms, an optional
``recvWindow`` (default 5000, at most 60000) and ``signature`` = hex
HMAC-SHA256(secret, totalParams), where totalParams is the query string followed directly
(no ``&``) by the form body, both without the ``signature`` pair. Binance's SDK puts every
parameter in the query even on POST, ccxt puts a POST's parameters in the body: hashing
the raw bytes as received accepts both, and catches a client that signs one text and
sends another. The signature's hex is compared case-insensitively (Binance's docs).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from zoneguard.sim.auth import Credentials
from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance.errors import BinanceError

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000
FUTURE_TOLERANCE_MS = 1000
"""A timestamp may run at most this far ahead of the server's clock (Binance's rule)."""


def sign(secret: str, total_params: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``total_params`` with ``secret``."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """``a=1&b=2&signature=ff`` -> (``a=1&b=2``, ``ff``): the other pairs keep their raw
    bytes and their order, so the text hashed is exactly the text the client signed."""
    kept: list[str] = []
    signature: str | None = None
    for pair in raw.split("&") if raw else []:
        if pair.startswith("signature="):
            signature = pair.removeprefix("signature=")
        else:
            kept.append(pair)
    return "&".join(kept), signature


def check_key(headers: Mapping[str, str], creds: Credentials) -> None:
    """Key-level routes (listenKey, and every signed one first): -2014 / -2015, HTTP 401."""
    key = headers.get(API_KEY_HEADER, "")
    if not key:
        raise BinanceError(e.BAD_API_KEY_FORMAT, "API-key format invalid.", 401)
    if not hmac.compare_digest(key.encode(), creds.api_key.encode()):
        raise BinanceError(
            e.REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401
        )


def check_timestamp(params: Mapping[str, str], now_ms: int) -> None:
    """``timestamp`` within ``recvWindow`` of the server's clock and < 1 s ahead (-1021)."""
    raw_ts = params.get("timestamp", "")
    if not raw_ts.isascii() or not raw_ts.isdigit():
        raise e.missing("timestamp")
    raw_window = params.get("recvWindow", "")
    window = DEFAULT_RECV_WINDOW_MS
    if raw_window:
        if not raw_window.isascii() or not raw_window.isdigit():
            raise e.missing("recvWindow")
        window = int(raw_window)
        if not 0 < window <= MAX_RECV_WINDOW_MS:
            raise BinanceError(e.BAD_RECV_WINDOW, "recvWindow must be less than 60000")
    timestamp = int(raw_ts)
    if timestamp >= now_ms + FUTURE_TOLERANCE_MS:
        raise BinanceError(
            e.INVALID_TIMESTAMP, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if now_ms - timestamp > window:
        raise BinanceError(
            e.INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow."
        )


def check_signed(
    headers: Mapping[str, str],
    raw_query: str,
    raw_body: str,
    params: Mapping[str, str],
    creds: Credentials,
    now_ms: int,
) -> None:
    """SIGNED level: key, then timestamp window, then the signature over totalParams."""
    check_key(headers, creds)
    query, query_signature = split_signature(raw_query)
    body, body_signature = split_signature(raw_body)
    signature = query_signature if query_signature is not None else body_signature
    if not signature:
        raise e.missing("signature")
    check_timestamp(params, now_ms)
    expected = sign(creds.api_secret, query + body)
    if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
        raise BinanceError(e.INVALID_SIGNATURE, "Signature for this request is not valid.")
