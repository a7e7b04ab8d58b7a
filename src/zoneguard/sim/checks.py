"""Request checks that orders, plans, TP/SL and trailing orders share.

Each check raises the :class:`~zoneguard.sim.errors.SimError` BitMart answers for that
mistake (a price off the tick, an unknown price type, a bad or reused client id, a preset
TP/SL on the wrong side of the entry, a trigger already reached), so every entry point
refuses the same request with the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from zoneguard.sim import errors as e
from zoneguard.sim.book import Book
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import LONG, position_type_of
from zoneguard.sim.order_requests import OrderRequest

CLIENT_ORDER_ID_MAX = 32


def check_price(contract: SimContract, price: Decimal, name: str) -> None:
    if price <= 0:
        raise SimError(e.SIZE_OUT_OF_RANGE, f"{name} must be positive")
    if not contract.is_tick_multiple(price):
        raise SimError(
            e.PRECISION_INVALID, f"{name} {price} is not a multiple of the tick {contract.tick}"
        )


def check_price_type(price_type: int) -> None:
    if price_type not in (1, 2):
        raise SimError(e.INVALID_REQUEST, f"Invalid price_type {price_type}")


def check_client_order_id(client_order_id: str, taken: Mapping[str, int]) -> None:
    if not client_order_id:
        return
    if len(client_order_id) > CLIENT_ORDER_ID_MAX:
        raise SimError(e.CLIENT_ID_TOO_LONG, "client_order_id is longer than 32 characters")
    if not (client_order_id.isascii() and client_order_id.isalnum()):
        raise SimError(e.CLIENT_ID_NOT_ALNUM, "client_order_id must be letters and digits")
    if client_order_id in taken:
        raise SimError(e.CLIENT_ID_DUPLICATE, "Duplicate client_order_id")


def check_presets(contract: SimContract, req: OrderRequest, reference: Decimal) -> None:
    """Preset TP must lie beyond the entry in the profit direction, SL in the loss one."""
    long = position_type_of(req.side) == LONG
    for name, price, price_type in (
        ("preset_take_profit_price", req.preset_tp, req.preset_tp_type),
        ("preset_stop_loss_price", req.preset_sl, req.preset_sl_type),
    ):
        if price is None:
            continue
        check_price(contract, price, name)
        check_price_type(price_type)
        above = price > reference
        wants_above = long == (name == "preset_take_profit_price")
        if above != wants_above or price == reference:
            where = "above" if wants_above else "below"
            raise SimError(e.INVALID_REQUEST, f"{name} must be {where} the order price")


def refuse_immediate_trigger(book: Book, trigger_ticks: int, rising: bool) -> None:
    """A trigger already reached is refused rather than fired (no source says which)."""
    reached = trigger_ticks <= book.last_ticks if rising else trigger_ticks >= book.last_ticks
    if reached:
        raise SimError(e.INVALID_REQUEST, "Trigger price would trigger immediately")
