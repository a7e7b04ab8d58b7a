"""Deterministic ``client_order_id`` values: a retry of the same intent reuses the same id,
so BitMart answers "duplicate" (40050) instead of opening a second order."""

from __future__ import annotations

import re

from zoneguard.domain.client_ids import client_order_id_for

CLIENT_ORDER_ID_MAX_LEN = 32
__all__ = ["CLIENT_ORDER_ID_MAX_LEN", "client_order_id_for", "is_valid_client_order_id"]

_VALID_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def is_valid_client_order_id(value: str) -> bool:
    """BitMart's rule: 1-32 characters, letters and digits only (40048/40049 otherwise)."""
    return _VALID_CLIENT_ORDER_ID.fullmatch(value) is not None
