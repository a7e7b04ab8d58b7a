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
    signed body cannot be replayed later; the comparison runs in constant time.
    """
    if not signature:
        return f"missing {SIGNATURE_HEADER}"
    if not timestamp or not timestamp.isdigit():
        return f"missing or non-numeric {TIMESTAMP_HEADER}"
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if abs(now - int(timestamp)) > max_age_s * 1000:
        return f"{TIMESTAMP_HEADER} is more than {max_age_s:g} s away from now"
    if not hmac.compare_digest(expected_signature(secret, timestamp, body), signature.strip()):
        return "signature does not match"
    return None
