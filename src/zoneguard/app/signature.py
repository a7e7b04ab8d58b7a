"""Checks the worker's callback signature.

Re-implemented here rather than imported: the app shares nothing with the worker but the
wire contract. That contract is ``X-Zoneguard-Signature: sha256=<hex>``, the HMAC-SHA256
under the shared secret of ``<X-Zoneguard-Timestamp>.<raw body>``, where the timestamp is
the sender's wall clock in epoch milliseconds. The tests sign with the worker's own
function, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Zoneguard-Signature"
TIMESTAMP_HEADER = "X-Zoneguard-Timestamp"
_PREFIX = "sha256="
MAX_TIMESTAMP_DIGITS = 15
"""Epoch milliseconds have 13 digits until the year 2286; more is not a timestamp."""
MAX_SIGNATURE_LENGTH = 128
"""``sha256=`` and 64 hex digits is 71 characters; the bound keeps junk headers cheap."""


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return _PREFIX + digest.hexdigest()


def signature_problem(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    max_age_s: float,
    now_ms: int | None = None,
) -> str | None:
    """None when the signature is good and fresh, else why not (for the 401 and the log).

    The timestamp must lie within ``max_age_s`` of now either way (clocks drift), so an old
    signed body cannot be replayed later; the comparison runs in constant time, on bytes
    (``compare_digest`` raises on non-ASCII text, and headers arrive as Latin-1 text).
    """
    if not signature:
        return f"missing {SIGNATURE_HEADER}"
    given = signature.strip()
    if not given.isascii() or len(given) > MAX_SIGNATURE_LENGTH:
        return f"{SIGNATURE_HEADER} must be sha256=<hex> (at most {MAX_SIGNATURE_LENGTH} ASCII)"
    if not timestamp:
        return f"missing {TIMESTAMP_HEADER}"
    # isdigit() alone lets '²' through, which int() refuses; 5000 digits make int() raise.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return f"{TIMESTAMP_HEADER} must be epoch milliseconds (ASCII digits only)"
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if abs(now - int(timestamp)) > max_age_s * 1000:
        return f"{TIMESTAMP_HEADER} is more than {max_age_s:g} s away from now"
    expected = expected_signature(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, given.encode("ascii")):
        return "signature does not match"
    return None
