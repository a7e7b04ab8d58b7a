"""What the dialect remembers beside the engine: each order's Binance terms, the algo
orders, the client ids in use, the listenKey.

The engine knows orders in BitMart's terms (sides 1..4, no time in force names, client
ids of its own rules); Binance's client ids (``^[.A-Z:/a-z0-9_-]{1,36}$``, unique among
*open* orders only) and words (GTX, positionSide, reduceOnly, CANCELED vs EXPIRED) live
here, keyed by the engine's order id. One :class:`Memory` belongs to one engine: a
``/_sim/reset`` makes a new engine, and the front then starts a new memory.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from decimal import Decimal

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.engine import Engine
from zoneguard.sim.model import PLAN_STATE_ACTIVE, PlanOrder

CLIENT_ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
GENERATED_ID_LENGTH = 22
"""Binance generates client ids of this length when a client sends none (as seen in its
documentation's examples; the alphabet is the simulator's choice)."""
LISTEN_KEY_VALIDITY_MS = 60 * 60 * 1000
LISTEN_KEY_LENGTH = 64


@dataclass(slots=True)
class OrderTerms:
    """A /fapi/v1/order order's Binance terms, as the client sent them."""

    client_order_id: str
    order_type: str  # LIMIT, MARKET; for an algo's child, its algo type (origType)
    time_in_force: str
    reduce_only: bool
    position_side: str
    close_position: bool = False
    stop_price: Decimal = Decimal(0)
    cancelled: bool = False
    """Cancelled at a client's request (CANCELED); finished unfilled otherwise: EXPIRED."""


@dataclass(slots=True)
class AlgoTerms:
    """An algo (conditional) order: the engine's plan order plus Binance's words."""

    plan: PlanOrder
    client_algo_id: str
    order_type: str  # STOP_MARKET, TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT
    side: str
    position_side: str
    quantity: Decimal  # 0 with closePosition
    price: Decimal  # 0 for the *_MARKET types
    trigger_price: Decimal
    time_in_force: str
    working_type: str
    close_position: bool
    reduce_only: bool
    price_protect: bool
    cancelled: bool = False


def generated_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(GENERATED_ID_LENGTH))


def check_client_id(client_id: str) -> None:
    if not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise BinanceError(e.INVALID_CL_ORD_ID, "Client order id is not valid.")


class Memory:
    def __init__(
        self, engine: Engine, listen_key_validity_ms: int = LISTEN_KEY_VALIDITY_MS
    ) -> None:
        self.engine = engine
        self.listen_key_validity_ms = listen_key_validity_ms
        self.orders: dict[int, OrderTerms] = {}
        self._by_client_id: dict[str, int] = {}
        self.algos: dict[int, AlgoTerms] = {}
        self._by_client_algo_id: dict[str, int] = {}
        self.listen_key = ""
        self.listen_key_expires_ms = 0

    # ------------------------------------------------------------------ orders

    def claim_client_id(self, client_id: str) -> str:
        """A valid client id not used by an open order (-4015, -4116); one generated if
        empty."""
        if not client_id:
            return generated_id()
        check_client_id(client_id)
        taken = self._by_client_id.get(client_id)
        order = self.engine.order(taken) if taken is not None else None
        if order is not None and order.is_open:
            raise BinanceError(e.DUPLICATED_CLIENT_ID, "ClientOrderId is duplicated.")
        return client_id

    def remember(self, order_id: int, terms: OrderTerms) -> None:
        self.orders[order_id] = terms
        self._by_client_id[terms.client_order_id] = order_id

    def order_id_of(self, client_id: str) -> int | None:
        """The latest order that used ``client_id``."""
        return self._by_client_id.get(client_id)

    # ------------------------------------------------------------------ algo orders

    def claim_client_algo_id(self, client_id: str) -> str:
        if not client_id:
            return generated_id()
        check_client_id(client_id)
        taken = self._by_client_algo_id.get(client_id)
        if taken is not None and self.algos[taken].plan.state == PLAN_STATE_ACTIVE:
            raise BinanceError(e.DUPLICATED_CLIENT_ID, "ClientOrderId is duplicated.")
        return client_id

    def remember_algo(self, terms: AlgoTerms) -> None:
        self.algos[terms.plan.order_id] = terms
        self._by_client_algo_id[terms.client_algo_id] = terms.plan.order_id

    def algo_id_of(self, client_id: str) -> int | None:
        return self._by_client_algo_id.get(client_id)

    def algo_of_order(self, plan_order_id: int | None) -> AlgoTerms | None:
        """The algo order that sent an engine order (its ``plan_order_id``), if any."""
        return self.algos.get(plan_order_id) if plan_order_id is not None else None

    # ------------------------------------------------------------------ listenKey

    def open_listen_key(self, now_ms: int) -> str:
        """The active key, kept alive, or a new one (Binance hands back the active one)."""
        if not self.listen_key or now_ms >= self.listen_key_expires_ms:
            self.listen_key = secrets.token_hex(LISTEN_KEY_LENGTH // 2)
        self.listen_key_expires_ms = now_ms + self.listen_key_validity_ms
        return self.listen_key

    def keep_alive(self, now_ms: int) -> str:
        if not self.listen_key or now_ms >= self.listen_key_expires_ms:
            raise BinanceError(e.NO_SUCH_LISTEN_KEY, "This listenKey does not exist.")
        self.listen_key_expires_ms = now_ms + self.listen_key_validity_ms
        return self.listen_key

    def listen_key_valid(self, key: str, now_ms: int) -> bool:
        """Whether ``key`` is the account's listenKey and has not expired."""
        return bool(key) and key == self.listen_key and now_ms < self.listen_key_expires_ms

    def close_listen_key(self) -> None:
        self.listen_key = ""
        self.listen_key_expires_ms = 0
