"""Deterministic client order ids: the same intent always gets the same id.

A retry of "order X, entry attempt 2" reuses ``client_order_id_for(X, "entry2")``, so an
exchange that already has it refuses the double instead of opening a second position.
Letters and digits only, 32 characters: the strictest rule among the venues we know
(BitMart: alphanumeric, at most 32).
"""

from __future__ import annotations

import hashlib


def client_order_id_for(order_id: str, purpose: str) -> str:
    """``zg`` + 30 hex characters of sha256(``order_id:purpose``)."""
    digest = hashlib.sha256(f"{order_id}:{purpose}".encode()).hexdigest()
    return "zg" + digest[:30]
