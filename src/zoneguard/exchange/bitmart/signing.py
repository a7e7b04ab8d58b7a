"""BitMart request signatures and auth headers.

A SIGNED request's signature covers the body bytes exactly as they go on the wire, so
callers serialise once, sign that text and send that same text (never re-serialise).
"""

from __future__ import annotations

import hashlib
import hmac

WS_LOGIN_PAYLOAD = "bitmart.WebSocket"
"""The fixed payload BitMart signs for a websocket ``access`` login."""


def _hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_rest(secret: str, memo: str, ts_ms: int, body: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``ts#memo#body`` (PROTOCOL §2.2)."""
    return _hmac_hex(secret, f"{ts_ms}#{memo}#{body}")


def sign_ws_login(secret: str, memo: str, ts_ms: int) -> str:
    """Signature for the private websocket ``access`` frame."""
    return sign_rest(secret, memo, ts_ms, WS_LOGIN_PAYLOAD)


def keyed_headers(api_key: str) -> dict[str, str]:
    """KEYED level: futures private GETs only need the access key."""
    return {"X-BM-KEY": api_key}


def signed_headers(api_key: str, secret: str, memo: str, ts_ms: int, body: str) -> dict[str, str]:
    """SIGNED level: every futures POST. ``body`` must be the exact text that is sent."""
    return {
        "X-BM-KEY": api_key,
        "X-BM-SIGN": sign_rest(secret, memo, ts_ms, body),
        "X-BM-TIMESTAMP": str(ts_ms),
        "Content-Type": "application/json",
    }


def ws_login_args(api_key: str, secret: str, memo: str, ts_ms: int) -> list[str]:
    """The four string args of ``{"action":"access","args":[...]}``; the device is ``web``."""
    return [api_key, str(ts_ms), sign_ws_login(secret, memo, ts_ms), "web"]
