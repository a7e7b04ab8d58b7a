"""Deterministic ``client_order_id`` values: a retry of the same intent reuses the same id,
so BitMart answers "duplicate" (40050) instead of opening a second order."""

from __future__ import annotations

import hashlib
import re

CLIENT_ORDER_ID_MAX_LEN = 32
_VALID_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def client_order_id_for(order_id: str, purpose: str) -> str:
    """``zg`` + 30 hex chars of sha256(``order_id:purpose``): letters and digits, 32 chars."""
    digest = hashlib.sha256(f"{order_id}:{purpose}".encode()).hexdigest()
    return "zg" + digest[:30]


def is_valid_client_order_id(value: str) -> bool:
    """BitMart's rule: 1-32 characters, letters and digits only (40048/40049 otherwise)."""
    return _VALID_CLIENT_ORDER_ID.fullmatch(value) is not None
