"""Order ids the app hands out: ``order-`` + 24 hex characters of randomness.

The seed uses ``'order-' . uniqid()``; a random part instead of a clock keeps ids unique
across processes. 30 characters fit the worker's id rule (1..64 of ``A-Za-z0-9._:-``).
"""

from __future__ import annotations

import secrets
import time

ORDER_ID_PREFIX = "order-"


def new_order_id() -> str:
    return ORDER_ID_PREFIX + secrets.token_hex(12)


def now_ms() -> int:
    """Wall-clock epoch milliseconds: every time the app stores."""
    return time.time_ns() // 1_000_000
