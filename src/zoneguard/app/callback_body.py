"""Reading a callback body: what passes here can be stored on SQLite and PostgreSQL alike.

Strict where a value is nonsense: an unknown status, an id with control characters or
longer than its column, an error code beyond 32 bits, a number of absurd size. Lenient
where the worker may say something odd but meaningful, because the worker delivers each
order's callbacks in order and retries a refused one forever, so a 422 holds back every
later callback of that order: free text (``reason``, ``error``) loses its NUL characters
(PostgreSQL refuses them) and is cut to :data:`MAX_TEXT` characters, and a number with
more than 18 decimal places is rounded to 18 (what NUMERIC(38, 18) would store anyway).
The body itself is kept whole with the transition, so nothing the worker said is lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from zoneguard.app.ids import MAX_ORDER_ID_LENGTH, printable_problem
from zoneguard.app.rules import CALLBACK_STATUSES
from zoneguard.app.store import Facts
from zoneguard.domain.entry_plan import MAX_ENTRY_ZONES
from zoneguard.domain.errors import FieldError

MAX_EVENT_ID_LENGTH = 128
MAX_TIMESTAMP_LENGTH = 40
"""``event_time``'s column; the worker sends ``2026-05-09T07:35:25.123Z`` (24)."""
MAX_FACT_ID_LENGTH = 64
MAX_TEXT = 4000
MAX_NUMBER = Decimal("1e20")
"""NUMERIC(38, 18) holds 20 digits before the point."""
MAX_NUMBER_TEXT = 100
MAX_EXPONENT = 100
"""Beyond 1e±100 a number is no price, quantity or PnL (the domain's own bound)."""
SCALE = Decimal("1e-18")
_ROUNDING = Context(prec=60, rounding=ROUND_HALF_EVEN)
ERROR_CODE_RANGE = range(-(2**31), 2**31)
CUT_MARK = " [cut]"

_NUMBER_FIELDS = (
    "entry_price",
    "close_price",
    "quantity",
    "filled_contracts",
    "realized_pnl",
    "fees",
    "fee",
)
_ZONE_NUMBER_FIELDS = ("zone_filled_contracts", "zone_entry_price")
"""One entry zone's own fill (kept in the body; the order takes the totals)."""
_ID_FIELDS = ("exchange_order_id", "client_order_id", "close_order_id")
_FREE_TEXT_FIELDS = ("reason", "error")


class CallbackInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


@dataclass(frozen=True, slots=True)
class IncomingCallback:
    status: str
    order_id: str
    event_id: str
    timestamp: str | None
    symbol: str | None
    side: str | None
    facts: Facts
    body: dict[str, Any]
    entry_index: int | None = None
    """Which of the plan's ``entry_zones`` (1-based) a ``placed`` / ``filled`` is of."""


def parse_callback(body: Mapping[str, Any], raw: bytes) -> IncomingCallback:
    """Check a callback body; raise :class:`CallbackInvalid` naming every bad field."""
    reader = _Reader(body)
    status = reader.status()
    order_id = reader.order_id()
    event_id = reader.printable("event_id", MAX_EVENT_ID_LENGTH)
    timestamp = reader.printable("timestamp", MAX_TIMESTAMP_LENGTH)
    numbers = {name: reader.number(name) for name in _NUMBER_FIELDS}
    for name in _ZONE_NUMBER_FIELDS:
        reader.number(name)
    entry_index = reader.entry_index()
    ids = {name: reader.fact_id(name) for name in _ID_FIELDS}
    texts = {name: reader.free_text(name) for name in _FREE_TEXT_FIELDS}
    error_code = reader.error_code()
    if reader.errors or status is None or order_id is None:
        raise CallbackInvalid(reader.errors)
    facts = Facts(
        exchange_order_id=ids["exchange_order_id"],
        client_order_id=ids["client_order_id"],
        close_order_id=ids["close_order_id"],
        entry_price=numbers["entry_price"],
        close_price=numbers["close_price"],
        quantity=numbers["quantity"],
        filled_contracts=numbers["filled_contracts"],
        realized_pnl=numbers["realized_pnl"],
        fees=numbers["fees"] if numbers["fees"] is not None else numbers["fee"],
        reason=texts["reason"],
        error=texts["error"],
        error_code=error_code,
    )
    return IncomingCallback(
        status=status,
        order_id=order_id,
        # The seed's own example has no event_id: the body's hash dedupes exact repeats.
        event_id=event_id or "sha256:" + hashlib.sha256(raw).hexdigest(),
        timestamp=timestamp,
        symbol=_loose_text(body.get("symbol")),
        side=_loose_text(body.get("side")),
        facts=facts,
        body=dict(body),
        entry_index=entry_index,
    )


class _Reader:
    """Reads one field at a time, collecting every problem (one 422 names them all)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.errors: list[FieldError] = []

    def fail(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def status(self) -> str | None:
        status = self.body.get("status")
        if not isinstance(status, str) or not status:
            self.fail("status", "is required")
        elif status not in CALLBACK_STATUSES:
            known = ", ".join(sorted(CALLBACK_STATUSES))
            self.fail("status", f"unknown status {status[:40]!r}; known: {known}")
        else:
            return status
        return None

    def order_id(self) -> str | None:
        value = self.body.get("order_id") or self.body.get("position_id")
        if not isinstance(value, str) or not value.strip():
            self.fail("order_id", "is required (order_id or position_id)")
            return None
        problem = printable_problem(value.strip(), MAX_ORDER_ID_LENGTH)
        if problem is not None:
            self.fail("order_id", problem)
            return None
        return value.strip()

    def printable(self, name: str, limit: int) -> str | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, f"must be a string of 1..{limit} printable characters")
            return None
        return self._checked(name, value, limit)

    def fact_id(self, name: str) -> str | None:
        value = self.body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # exchanges number their orders
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        return self._checked(name, value, MAX_FACT_ID_LENGTH)

    def _checked(self, name: str, value: str, limit: int) -> str | None:
        problem = printable_problem(value, limit)
        if problem is not None:
            self.fail(name, problem)
            return None
        return value

    def free_text(self, name: str) -> str | None:
        value = self.body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(name, "must be a string")
            return None
        text = str(value).replace("\x00", "")
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - len(CUT_MARK)] + CUT_MARK
        return text or None

    def number(self, name: str) -> Decimal | None:
        value = self.body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.fail(name, "must be a number")
            return None
        # str() of a float is its shortest exact text: 65250.0 -> Decimal("65250.0").
        text = str(value).strip()
        if len(text) > MAX_NUMBER_TEXT:
            self.fail(name, f"must be a number of at most {MAX_NUMBER_TEXT} characters")
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            self.fail(name, f"must be a number, got {text[:30]!r}")
            return None
        if not number.is_finite() or (number and abs(number.adjusted()) > MAX_EXPONENT):
            self.fail(name, "must be a finite number of sane size")
            return None
        if number.copy_abs() >= MAX_NUMBER:
            self.fail(name, f"must be below {MAX_NUMBER:.0e} in size")
            return None
        return _at_most_18_places(number)

    def entry_index(self) -> int | None:
        value = self.body.get("entry_index")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("entry_index", "must be a whole number")
            return None
        if not 1 <= value <= MAX_ENTRY_ZONES:
            self.fail("entry_index", f"must be 1..{MAX_ENTRY_ZONES} (an entry zone's place)")
            return None
        return value

    def error_code(self) -> int | None:
        value = self.body.get("error_code")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("error_code", "must be a whole number")
            return None
        if value not in ERROR_CODE_RANGE:
            self.fail("error_code", "must fit in 32 bits (-2147483648..2147483647)")
            return None
        return value


def _at_most_18_places(number: Decimal) -> Decimal:
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        return number.quantize(SCALE, context=_ROUNDING)
    return number


def _loose_text(value: object) -> str | None:
    """A hint (symbol, side) for an order first heard of here: cleaned, never refused."""
    if not isinstance(value, str):
        return None
    text = "".join(char for char in value if char.isprintable())[:32]
    return text or None
