"""Client order ids on Binance: ``newClientOrderId`` / ``clientAlgoId`` match
``^[.A-Z:/a-z0-9_-]{1,36}$`` and are unique among open orders. Ours are derived from the
order id and the intent (``zoneguard.domain.client_ids``), 32 letters and digits: a retry
of the same intent sends the same id, so Binance refuses the double."""

from __future__ import annotations

import re

from zoneguard.domain.client_ids import client_order_id_for

CLIENT_ORDER_ID_MAX_LEN = 36
__all__ = ["CLIENT_ORDER_ID_MAX_LEN", "client_order_id_for", "is_valid_client_order_id"]

_VALID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")


def is_valid_client_order_id(value: str) -> bool:
    return _VALID.fullmatch(value) is not None
