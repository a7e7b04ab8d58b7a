"""Order ids the app hands out: ``order-`` + 24 hex characters of randomness.

The seed uses ``'order-' . uniqid()``; a random part instead of a clock keeps ids unique
across processes. 30 characters fit the worker's id rule (1..64 of ``A-Za-z0-9._:-``).
"""

from __future__ import annotations

import secrets
import time

ORDER_ID_PREFIX = "order-"
MAX_ORDER_ID_LENGTH = 64
MAX_ROW_ID = 2**63 - 1
"""The largest row id either database stores (BIGINT; SQLite's INTEGER is 64-bit too)."""


def new_order_id() -> str:
    return ORDER_ID_PREFIX + secrets.token_hex(12)


def now_ms() -> int:
    """Wall-clock epoch milliseconds: every time the app stores."""
    return time.time_ns() // 1_000_000


def printable_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be an id, name or key we store, or None. NUL and other control
    characters are refused: PostgreSQL rejects NUL in text, and none belong in an id."""
    if not 0 < len(text) <= limit or not text.isprintable():
        return f"must be 1..{limit} printable characters"
    return None


def order_id_problem(order_id: str) -> str | None:
    """Why no stored order can have this id, or None (then it is worth a look-up)."""
    return printable_problem(order_id, MAX_ORDER_ID_LENGTH)
