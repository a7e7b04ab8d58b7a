"""BitMart request authentication, checked the way the exchange does (PROTOCOL §2).

KEYED GETs need only a known ``X-BM-KEY``; SIGNED POSTs also need ``X-BM-SIGN`` = hex
HMAC-SHA256(secret, ``ts#memo#<raw body>``) and ``X-BM-TIMESTAMP`` within a minute. The body
is signed as received: no re-serialisation, so a client that signs one text and sends
another is caught here as it would be by BitMart.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from zoneguard.sim import errors as e
from zoneguard.sim.errors import SimError

TIMESTAMP_WINDOW_MS = 60_000
WS_LOGIN_PAYLOAD = b"bitmart.WebSocket"


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str
    api_memo: str


def signature(secret: str, memo: str, timestamp: str, payload: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``timestamp#memo#payload``."""
    message = f"{timestamp}#{memo}#".encode() + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_key(headers: Mapping[str, str], creds: Credentials) -> None:
    """KEYED level: raise 30001 (no key) or 30002 (unknown key)."""
    key = headers.get("X-BM-KEY", "")
    if not key:
        raise SimError(e.KEY_EMPTY, "Header X-BM-KEY is empty")
    if not hmac.compare_digest(key.encode(), creds.api_key.encode()):
        raise SimError(e.KEY_NOT_FOUND, "Header X-BM-KEY not found")


def check_signed(headers: Mapping[str, str], body: bytes, creds: Credentials, now_ms: int) -> None:
    """SIGNED level: key, then signature present, then timestamp, then signature value."""
    check_key(headers, creds)
    sign = headers.get("X-BM-SIGN", "")
    if not sign:
        raise SimError(e.SIGN_EMPTY, "Header X-BM-SIGN is empty")
    timestamp = headers.get("X-BM-TIMESTAMP", "")
    if not timestamp:
        raise SimError(e.TIMESTAMP_EMPTY, "Header X-BM-TIMESTAMP is empty")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SimError(e.TIMESTAMP_BAD_FORMAT, "Header X-BM-TIMESTAMP invalid format")
    if abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS:
        raise SimError(e.TIMESTAMP_OUT_OF_WINDOW, "Header X-BM-TIMESTAMP range. Within a minute")
    expected = signature(creds.api_secret, creds.api_memo, timestamp, body)
    if not hmac.compare_digest(sign.lower().encode(), expected.encode()):
        raise SimError(e.SIGN_WRONG, "Header X-BM-SIGN is wrong")


def check_recv_window(headers: Mapping[str, str], recv_window_ms: int, now_ms: int) -> None:
    """Endpoints with ``recvWindow`` (transfers) refuse a timestamp older or newer than it,
    with the code of an expired timestamp (30007). Call after :func:`check_signed`."""
    if not 0 < recv_window_ms <= TIMESTAMP_WINDOW_MS:
        raise SimError(e.INVALID_REQUEST, "recvWindow must be in (0, 60000]")
    if abs(now_ms - int(headers["X-BM-TIMESTAMP"])) > recv_window_ms:
        raise SimError(e.TIMESTAMP_OUT_OF_WINDOW, "Header X-BM-TIMESTAMP range. Within recvWindow")


def check_ws_login(args: object, creds: Credentials, now_ms: int) -> str | None:
    """``access`` frame args ``[key, ts_ms, sign, "web"]``: None if valid, else the reason."""
    if not isinstance(args, list) or len(args) < 3:
        return "args must be [api_key, timestamp, sign, device]"
    key, timestamp, sign = args[0], args[1], args[2]
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)  # documented as a string; tolerate a JSON number
    if not (isinstance(key, str) and isinstance(timestamp, str) and isinstance(sign, str)):
        return "args must be strings"
    if not hmac.compare_digest(key.encode(), creds.api_key.encode()):
        return "api key not found"
    if not (timestamp.isascii() and timestamp.isdigit()):
        return "invalid timestamp"
    if abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS:
        return "timestamp expired"
    expected = signature(creds.api_secret, creds.api_memo, timestamp, WS_LOGIN_PAYLOAD)
    if not hmac.compare_digest(sign.lower().encode(), expected.encode()):
        return "invalid sign"
    return None
