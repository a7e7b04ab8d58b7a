"""BitMart response envelopes and codes -> the venue-neutral exceptions of ``exchange.errors``.

BitMart answers ``{"code", "message", "data", "trace"}`` with ``code == 1000`` on success
(sometimes as the string ``"1000"``), and pairs failures with HTTP 4xx/5xx statuses whose
bodies are still JSON envelopes (PROTOCOL §3). Cloudflare in front of it may answer HTML
instead. Every way a reply can go wrong ends here as one typed exception, so the worker's
failure policy never sees a BitMart number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

SUCCESS_CODE = 1000
DEFAULT_RETRY_AFTER_S = 2.0  # BitMart's windows are 2 s for nearly every endpoint

_RATE_LIMIT_CODES = frozenset({30013, 30017, 40013})
_UNKNOWN_OUTCOME_CODES = frozenset({30014})
# 300xx codes that are not about credentials: wrong path, malformed body, retired APIs.
TIMESTAMP_OUTSIDE_WINDOW = 30007
"""A signed request whose ``X-BM-TIMESTAMP`` is over a minute off the server's clock: refused
before anything was executed, so it is safe to send again once the clock is re-measured."""

_NOT_AUTH_300XX: dict[int, type[Rejected]] = {
    30000: InvalidRequest,  # endpoint not found
    30016: MarketUnavailable,  # maintenance: nothing was executed
    30018: InvalidRequest,  # body is not JSON (sent with HTTP 503, yet nothing was executed)
    30030: InvalidRequest,  # Futures V1 API retired
    30031: InvalidRequest,  # endpoint retired
}
_BUSINESS: dict[int, type[Rejected]] = {
    40050: DuplicateClientOrderId,
    40035: OrderNotFound,
    40037: OrderNotFound,
    40018: PositionNotFound,
    40020: PositionNotFound,
    40021: PositionNotFound,
    40027: InsufficientBalance,
    42000: InsufficientBalance,
    40014: MarketUnavailable,
    40015: MarketUnavailable,
    40034: MarketUnavailable,
    40047: MarketUnavailable,
}
_INVALID_PARAMETER_CODES = frozenset(
    {40007, 40008, 40011, 40029, 40030, 40031, 40040, 40059, *range(40038, 40050)}
)
_POST_ONLY_WORDS = ("maker", "post only", "post-only", "postonly")
_CLOUDFLARE_HINT = (
    "HTTP 403 with a non-JSON body: probably Cloudflare refusing the client "
    "(check the User-Agent header and the IP allow-list of the key)"
)


@dataclass(frozen=True, slots=True)
class Envelope:
    code: int | None
    message: str
    data: Any
    trace: str | None


def parse_code(raw: object) -> int | None:
    """BitMart's ``code`` is usually an int, sometimes a numeric string."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    return None


def parse_envelope(body: bytes) -> Envelope | None:
    """The envelope, or None if the body is not a JSON object carrying a ``code``."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(decoded, dict) or "code" not in decoded:
        return None
    code = parse_code(decoded.get("code"))
    message = decoded.get("message")
    trace = decoded.get("trace")
    return Envelope(
        code=code,
        message=message if isinstance(message, str) else "",
        data=decoded.get("data"),
        trace=trace if isinstance(trace, str) else None,
    )


def error_for_code(
    code: int,
    message: str,
    *,
    http_status: int | None = None,
    retry_after_s: float | None = None,
) -> ExchangeError:
    """The typed exception for one BitMart failure code."""
    if code in _RATE_LIMIT_CODES:
        return RateLimited(
            message,
            code=code,
            http_status=http_status,
            retry_after_s=retry_after_s if retry_after_s is not None else DEFAULT_RETRY_AFTER_S,
        )
    if code in _UNKNOWN_OUTCOME_CODES:
        return UnknownOutcome(message, code=code, http_status=http_status)
    if code in _NOT_AUTH_300XX:
        return _NOT_AUTH_300XX[code](message, code=code, http_status=http_status)
    if 30000 <= code < 31000:
        return AuthenticationFailed(message, code=code, http_status=http_status)
    if code == 40011 and _mentions_post_only(message):
        return PostOnlyWouldCross(message, code=code, http_status=http_status)
    if code in _BUSINESS:
        return _BUSINESS[code](message, code=code, http_status=http_status)
    if code in _INVALID_PARAMETER_CODES:
        return InvalidRequest(message, code=code, http_status=http_status)
    return Rejected(message, code=code, http_status=http_status)


def _mentions_post_only(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _POST_ONLY_WORDS)


def error_for_reply(
    http_status: int,
    envelope: Envelope | None,
    *,
    context: str,
    retry_after_s: float | None = None,
) -> ExchangeError:
    """The exception for a reply that is not a success envelope.

    ``context`` (method and path, never headers) prefixes the message so logs say which
    request failed.
    """
    if envelope is not None and envelope.code is not None:
        message = f"{context}: {envelope.message or 'no message'}"
        if http_status == 429:
            return RateLimited(
                message,
                code=envelope.code,
                http_status=http_status,
                retry_after_s=retry_after_s if retry_after_s is not None else DEFAULT_RETRY_AFTER_S,
            )
        if http_status >= 500 and envelope.code != 30018:
            # The gateway failed: the request may still have been executed behind it.
            return UnknownOutcome(message, code=envelope.code, http_status=http_status)
        return error_for_code(
            envelope.code, message, http_status=http_status, retry_after_s=retry_after_s
        )
    return _error_for_unreadable(http_status, context, retry_after_s)


def _error_for_unreadable(
    http_status: int, context: str, retry_after_s: float | None
) -> ExchangeError:
    """A reply without a BitMart envelope (HTML from Cloudflare, a proxy, an empty body)."""
    message = f"{context}: HTTP {http_status} without a BitMart envelope"
    if http_status == 403:
        return AuthenticationFailed(f"{context}: {_CLOUDFLARE_HINT}", http_status=http_status)
    if http_status == 401:
        return AuthenticationFailed(message, http_status=http_status)
    if http_status == 429:
        return RateLimited(
            message,
            http_status=http_status,
            retry_after_s=retry_after_s if retry_after_s is not None else DEFAULT_RETRY_AFTER_S,
        )
    if http_status >= 500 or http_status < 400 or http_status == 408:
        # 2xx/3xx we cannot read, gateway errors, request timeouts: it may have landed.
        return UnknownOutcome(message, http_status=http_status)
    return InvalidRequest(message, http_status=http_status)


def unwrap(
    http_status: int, body: bytes, *, context: str, retry_after_s: float | None = None
) -> Any:
    """``data`` of a success envelope, else raise the matching typed exception."""
    envelope = parse_envelope(body)
    if envelope is not None and envelope.code == SUCCESS_CODE:
        return envelope.data
    raise error_for_reply(http_status, envelope, context=context, retry_after_s=retry_after_s)
