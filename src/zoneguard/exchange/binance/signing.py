"""Binance request signatures.

A SIGNED request carries ``timestamp`` (ms), optionally ``recvWindow``, and ``signature`` =
lowercase hex HMAC-SHA256(secret, totalParams), where totalParams is the query string
followed directly by the form body (no separator). We send every parameter in the query
string (the official SDK's way), so the body is empty and what is signed is exactly the
text that goes on the wire: serialise once, sign that text, send that text.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000


def sign(secret: str, total_params: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``total_params`` (query string + body)."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def encode_params(params: Iterable[tuple[str, str]]) -> str:
    """``k=v&k=v`` in the given order, values percent-encoded as a form would be (the
    signature covers exactly these bytes)."""
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in params)


def signed_query(
    params: Iterable[tuple[str, str]],
    secret: str,
    timestamp_ms: int,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> str:
    """The query string of a SIGNED request: the parameters, ``recvWindow``, ``timestamp``
    (last, as the SDK sends it), then ``signature`` over all of that."""
    if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
        raise ValueError(f"recvWindow must be 1..{MAX_RECV_WINDOW_MS} ms, got {recv_window_ms}")
    text = encode_params(
        [*params, ("recvWindow", str(recv_window_ms)), ("timestamp", str(timestamp_ms))]
    )
    return f"{text}&signature={sign(secret, text)}"


def key_headers(api_key: str) -> dict[str, str]:
    """Every private request (and the listenKey calls, which need no signature)."""
    return {API_KEY_HEADER: api_key}
