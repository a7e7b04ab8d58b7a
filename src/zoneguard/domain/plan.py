"""The order plan: the seed's ``POST /api/place-order`` payload, validated once at the door.

:func:`parse_plan` turns a JSON-decoded body into an immutable :class:`OrderPlan` or raises
:class:`PlanValidationError` listing *every* refused field, so a trader fixes a signal in one
round trip. Numbers become exact ``Decimal`` (floats go through ``str()`` so ``0.1`` stays
``0.1``). Anything a trader would call nonsense is refused here, before money moves: a stop
that sits inside the (tolerance-widened) entry zone would fire the moment we enter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from zoneguard.domain.entry_plan import EntryZonePlan, entry_zones_payload, read_entry_zones
from zoneguard.domain.errors import FieldError, PlanValidationError
from zoneguard.domain.exit_plan import (
    BreakEvenPlan,
    TakeProfitTarget,
    TrailingPlan,
    exits_payload,
    read_break_even,
    read_take_profits,
    read_trailing,
)
from zoneguard.domain.values import Side, Symbol, decimal_text

_T = TypeVar("_T")
_NO_TARGETS: tuple[TakeProfitTarget, ...] = ()
_NO_ZONES: tuple[EntryZonePlan, ...] = ()

MAX_LEVERAGE = 200
MAX_TIMEOUT_SECONDS = 604_800  # one week
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 32
MAX_FIELD_NAME = 64
"""An unknown key longer than this (or not a plain name at all) is named quoted and cut."""
MAX_URL_LENGTH = 2048
MAX_NUMBER = Decimal("1e15")
"""Sanity bound on any price or quantity: far above any real price, far below overflow games."""
MAX_DECIMAL_PLACES = 18
MAX_NUMBER_TEXT = 64

ID_RULE = "[A-Za-z0-9._:-]{1,64}"
"""An order id, whole (the API documents anchor it)."""
SYMBOL_RULE = "[A-Za-z0-9]{2,30}"
"""A symbol, whole, in any case (``BTCUSDT``)."""
_ID_PATTERN = re.compile(ID_RULE)
_SYMBOL_PATTERN = re.compile(SYMBOL_RULE)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""ASCII digits only: ``\\d`` would also take other scripts' digits (``"٣"``), which
``Decimal`` reads as numbers."""
ASCII_SPACES = " \t\n\r\f\v"
"""Spaces a number written as text may carry around it (``str.strip()`` would also take
Unicode separators that regular expressions elsewhere do not count as spaces)."""
_EXACT = Context(prec=80, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999)

KNOWN_FIELDS = (
    "id",
    "symbol",
    "side",
    "entry_zone_min",
    "entry_zone_max",
    "quantity",
    "leverage",
    "stop_loss",
    "take_profit",
    "timeout_seconds",
    "callback_url",
    "metadata",
    "take_profits",
    "break_even",
    "trailing_stop",
    "entry_zones",
)


@dataclass(frozen=True, slots=True)
class PlanDefaults:
    """What a payload may leave out, from ``config/orders.yaml``."""

    timeout_seconds: int = 300
    leverage: int = 1
    tolerance_percent: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        if not 1 <= self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"timeout_seconds must be 1..{MAX_TIMEOUT_SECONDS}")
        if not 1 <= self.leverage <= MAX_LEVERAGE:
            raise ValueError(f"leverage must be 1..{MAX_LEVERAGE}")
        if not self.tolerance_percent.is_finite() or not 0 <= self.tolerance_percent < 100:
            raise ValueError("tolerance_percent must be in [0, 100)")


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """A validated signal. Prices and ``quantity`` (base currency) are exact and positive."""

    id: str
    symbol: Symbol
    side: Side
    entry_zone_min: Decimal
    entry_zone_max: Decimal
    quantity: Decimal
    leverage: int
    stop_loss: Decimal | None
    take_profit: Decimal | None
    timeout_seconds: int
    callback_url: str | None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    take_profits: tuple[TakeProfitTarget, ...] = ()
    """The take-profit ladder (empty: the seed's single ``take_profit``, if any)."""
    break_even: BreakEvenPlan | None = None
    trailing_stop: TrailingPlan | None = None
    entry_zones: tuple[EntryZonePlan, ...] = ()
    """Several entry zones (pyramiding); empty: the seed's one zone. With zones,
    ``entry_zone_min`` / ``entry_zone_max`` span them all."""

    @property
    def has_exit_legs(self) -> bool:
        """A ladder, break-even, trailing stop or several entries: the position engine
        decides its exits (its guard grows with each entry's fills)."""
        return (
            bool(self.take_profits)
            or self.break_even is not None
            or self.trailing_stop is not None
            or bool(self.entry_zones)
        )

    @property
    def targets(self) -> tuple[TakeProfitTarget, ...]:
        """The ladder, the seed's single target as one leg of 100 %, or nothing."""
        if self.take_profits:
            return self.take_profits
        if self.take_profit is not None:
            return (TakeProfitTarget(self.take_profit, Decimal(100)),)
        return ()

    @property
    def final_take_profit(self) -> Decimal | None:
        """The farthest target: the seed's ``take_profit``, or the ladder's last rung."""
        return self.take_profits[-1].price if self.take_profits else self.take_profit

    def to_payload(self) -> dict[str, object]:
        """The seed's JSON shape (Decimals as canonical strings): journal it, compare it."""
        zone: dict[str, object] = (
            entry_zones_payload(self.entry_zones)
            if self.entry_zones
            else {
                "entry_zone_min": decimal_text(self.entry_zone_min),
                "entry_zone_max": decimal_text(self.entry_zone_max),
            }
        )
        return {
            "id": self.id,
            "symbol": self.symbol,
            "side": self.side.value,
            **zone,
            "quantity": decimal_text(self.quantity),
            "leverage": self.leverage,
            "stop_loss": None if self.stop_loss is None else decimal_text(self.stop_loss),
            "take_profit": None if self.take_profit is None else decimal_text(self.take_profit),
            "timeout_seconds": self.timeout_seconds,
            "callback_url": self.callback_url,
            "metadata": _thaw(self.metadata),
            **exits_payload(self.take_profits, self.break_even, self.trailing_stop),
        }

    def widened_zone(self, tolerance_percent: Decimal) -> tuple[Decimal, Decimal]:
        """The zone in which the entry may fill, see :func:`widen_zone`."""
        return widen_zone(self.entry_zone_min, self.entry_zone_max, tolerance_percent)


def widen_zone(lo: Decimal, hi: Decimal, tolerance_percent: Decimal) -> tuple[Decimal, Decimal]:
    """``(lo * (1 - t/100), hi * (1 + t/100))``, exact: the seed's entry-zone tolerance."""
    fraction = _EXACT.divide(tolerance_percent, Decimal(100))
    return (
        _EXACT.multiply(lo, _EXACT.subtract(Decimal(1), fraction)),
        _EXACT.multiply(hi, _EXACT.add(Decimal(1), fraction)),
    )


def parse_plan(
    payload: Mapping[str, object], defaults: PlanDefaults, *, check_exits: bool = True
) -> OrderPlan:
    """Validate a JSON-decoded ``place-order`` body; raise :class:`PlanValidationError` listing
    every bad field (unknown keys included, to catch typos like ``stop_los``).

    ``check_exits=False`` leaves out where SL/TP sit against the zone: for checking every
    other field of a request whose zone is not known yet (a position to adopt)."""
    return _read_plan(payload, defaults, check_exits=check_exits)


def restore_plan(payload: Mapping[str, object]) -> OrderPlan:
    """Rebuild a plan journaled when its order was accepted (the payload of
    :meth:`OrderPlan.to_payload`), without judging its levels again.

    Where SL/TP may sit depends on configuration (``tolerance_percent``) that can change
    between runs, and a position opened elsewhere was accepted with no tolerance at all: a
    restart that refused an order it had accepted would leave its position unguarded."""
    return _read_plan(payload, PlanDefaults(), check_exits=False)


def _read_plan(
    payload: Mapping[str, object], defaults: PlanDefaults, *, check_exits: bool
) -> OrderPlan:
    if not isinstance(payload, Mapping):
        raise PlanValidationError([FieldError("payload", "must be a JSON object")])
    reader = _Reader(payload)
    for key in payload:
        if key not in KNOWN_FIELDS:
            reader.fail(unknown_field_name(str(key)), "unknown field")

    plan_id = reader.text("id", _ID_PATTERN, "must be 1..64 characters of A-Z a-z 0-9 . _ : -")
    symbol = reader.symbol()
    side = reader.side()
    zones = reader.optional("entry_zones", read_entry_zones, _NO_ZONES)
    if "entry_zones" in payload and payload["entry_zones"] is not None:
        zone_min, zone_max = _zones_span(reader, payload, zones)
    else:
        zone_min = reader.price("entry_zone_min", required=True)
        zone_max = reader.price("entry_zone_max", required=True)
    quantity = reader.price("quantity", required=True)
    leverage = reader.integer("leverage", defaults.leverage, 1, MAX_LEVERAGE)
    stop_loss = reader.price("stop_loss", required=False)
    take_profit = reader.price("take_profit", required=False)
    timeout = reader.integer("timeout_seconds", defaults.timeout_seconds, 1, MAX_TIMEOUT_SECONDS)
    callback_url = reader.callback_url()
    metadata = reader.metadata()
    take_profits = reader.optional("take_profits", read_take_profits, _NO_TARGETS)
    break_even = reader.optional("break_even", read_break_even, None)
    trailing = reader.optional("trailing_stop", read_trailing, None)
    if take_profits and take_profit is not None:
        reader.fail("take_profits", "give take_profit or take_profits, not both")
    if side is not None:
        _check_ladder_order(reader, side, take_profits)
    legs = len(take_profits) if take_profits else (1 if take_profit is not None else 0)
    after = None if break_even is None else break_even.after_take_profit
    if after is not None and not 1 <= after < legs:
        reader.fail(
            "break_even.after_take_profit",
            f"must be 1..{legs - 1} (a take-profit before the last of {legs}: after the "
            "last nothing is left to protect)"
            if legs > 1
            else "needs a take_profits ladder of 2 or more",
        )

    if zone_min is not None and zone_max is not None:
        if zone_min > zone_max:
            reader.fail(
                "entry_zone_min",
                f"must be <= entry_zone_max ({decimal_text(zone_min)} > {decimal_text(zone_max)})",
            )
        elif side is not None and check_exits:
            targets = [(f"take_profits[{i}].price", t.price) for i, t in enumerate(take_profits)]
            if take_profit is not None:
                targets.insert(0, ("take_profit", take_profit))
            if trailing is not None and trailing.activation_price is not None:
                targets.append(("trailing_stop.activation_price", trailing.activation_price))
            names = (
                ("the lowest entry_zones min", "the highest entry_zones max")
                if zones
                else ("entry_zone_min", "entry_zone_max")
            )
            _check_exits(reader, side, zone_min, zone_max, stop_loss, targets, defaults, names)
    if stop_loss is not None and stop_loss == take_profit:
        reader.fail("stop_loss", "must differ from take_profit")

    if (
        reader.errors
        or plan_id is None
        or symbol is None
        or side is None
        or zone_min is None
        or zone_max is None
        or quantity is None
        or leverage is None
        or timeout is None
    ):  # every None above has already recorded its FieldError
        raise PlanValidationError(reader.errors)
    return OrderPlan(
        id=plan_id,
        symbol=symbol,
        side=side,
        entry_zone_min=zone_min,
        entry_zone_max=zone_max,
        quantity=quantity,
        leverage=leverage,
        stop_loss=stop_loss,
        take_profit=take_profit,
        timeout_seconds=timeout,
        callback_url=callback_url,
        metadata=_freeze(metadata),
        take_profits=take_profits,
        break_even=break_even,
        trailing_stop=trailing,
        entry_zones=zones,
    )


def _zones_span(
    reader: _Reader, payload: Mapping[str, object], zones: tuple[EntryZonePlan, ...]
) -> tuple[Decimal | None, Decimal | None]:
    """``entry_zones`` stands in for ``entry_zone_min`` / ``entry_zone_max``: those must be
    absent, and the plan's zone is the span of all zones (where SL/TP are judged)."""
    for name in ("entry_zone_min", "entry_zone_max"):
        if payload.get(name) is not None:
            reader.fail(name, "give entry_zone_min/entry_zone_max or entry_zones, not both")
    if not zones:
        return None, None
    return min(zone.min for zone in zones), max(zone.max for zone in zones)


_PLAIN_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_FIELD_NAME}}}")


def unknown_field_name(key: str) -> str:
    """How an unknown key is named in its error: as sent when it is a plain name
    (``stop_los``), else quoted and cut at 64 characters, so an empty, blank or very long
    key is still visible (``''``, ``'\\t'``)."""
    return key if _PLAIN_NAME.fullmatch(key) else repr(key[:MAX_FIELD_NAME])


def _check_exits(
    reader: _Reader,
    side: Side,
    zone_min: Decimal,
    zone_max: Decimal,
    stop_loss: Decimal | None,
    targets: list[tuple[str, Decimal]],
    defaults: PlanDefaults,
    names: tuple[str, str] = ("entry_zone_min", "entry_zone_max"),
) -> None:
    """The stop and every target (``take_profit``, each ladder rung, a trailing stop's
    activation price: ``(field, level)``) beyond the *widened* zone, the stop against the
    position, the targets in its favour: the entry may fill anywhere in the zone, and a
    level inside it could fire the moment we enter."""
    low, high = widen_zone(zone_min, zone_max, defaults.tolerance_percent)
    tolerance = f"{decimal_text(defaults.tolerance_percent)}% tolerance"
    above = f"must be above {names[1]} widened by {tolerance} ({decimal_text(high)})"
    below = f"must be below {names[0]} widened by {tolerance} ({decimal_text(low)})"
    against = [] if stop_loss is None else [("stop_loss", stop_loss)]
    for levels, favour in ((against, False), (targets, True)):
        rises = favour == (side is Side.LONG)
        for name, level in levels:
            if rises and not level > high:
                reader.fail(name, f"{above} for a {side.value}")
            elif not rises and not level < low:
                reader.fail(name, f"{below} for a {side.value}")


def _check_ladder_order(
    reader: _Reader, side: Side, take_profits: tuple[TakeProfitTarget, ...]
) -> None:
    """TP1 nearest the entry, each next one farther: a long's ladder rises, a short's falls."""
    for index in range(1, len(take_profits)):
        previous, price = take_profits[index - 1].price, take_profits[index].price
        farther = price > previous if side is Side.LONG else price < previous
        if not farther:
            way = "above" if side is Side.LONG else "below"
            reader.fail(
                f"take_profits[{index}].price",
                f"must be {way} take_profits[{index - 1}].price ({decimal_text(previous)}) "
                f"for a {side.value}: TP1 is the nearest",
            )


class _Reader:
    """Reads one field at a time, collecting errors instead of stopping at the first."""

    def __init__(self, payload: Mapping[str, object]) -> None:
        self.payload = payload
        self.errors: list[FieldError] = []

    def fail(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def text(self, name: str, pattern: re.Pattern[str], rule: str) -> str | None:
        value = self.payload.get(name)
        if value is None:
            self.fail(name, "is required")
        elif not isinstance(value, str):
            self.fail(name, f"must be a string, got {_json_type(value)}")
        elif not pattern.fullmatch(value):
            self.fail(name, rule)
        else:
            return value
        return None

    def symbol(self) -> Symbol | None:
        value = self.text(
            "symbol", _SYMBOL_PATTERN, "must be 2..30 letters or digits, e.g. BTCUSDT"
        )
        return None if value is None else value.upper()

    def side(self) -> Side | None:
        value = self.payload.get("side")
        if value is None:
            self.fail("side", "is required")
        elif not isinstance(value, str):
            self.fail("side", f"must be a string, got {_json_type(value)}")
        elif value.isascii() and value.lower() in ("long", "short"):
            return Side(value.lower())
        else:
            self.fail("side", f"must be 'long' or 'short', got {value[:20]!r}")
        return None

    def price(self, name: str, *, required: bool) -> Decimal | None:
        """A positive finite number (int, float or decimal string); also used for quantity."""
        value = self.payload.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        return self.number(name, value)

    def number(self, name: str, value: object, *, allow_zero: bool = False) -> Decimal | None:
        """``value`` (named ``name`` in errors) as an exact number above 0 (or 0 with
        ``allow_zero``), within the sanity bounds."""
        number, problem = _to_decimal(value)
        if number is None:
            self.fail(name, problem)
        elif number < 0 or (number == 0 and not allow_zero):
            self.fail(name, f"must be {'>=' if allow_zero else '>'} 0, got {decimal_text(number)}")
        elif number >= MAX_NUMBER:
            self.fail(name, f"must be < {decimal_text(MAX_NUMBER)}")
        elif _decimal_places(number) > MAX_DECIMAL_PLACES:
            self.fail(name, f"must have at most {MAX_DECIMAL_PLACES} decimal places")
        else:
            return Decimal(decimal_text(number))
        return None

    def optional(self, name: str, read: Callable[[Any, object], _T], absent: _T) -> _T:
        """Field ``name`` read by ``read`` when present (null counts as absent)."""
        value = self.payload.get(name)
        return absent if value is None else read(self, value)

    def integer(self, name: str, default: int, low: int, high: int) -> int | None:
        value = self.payload.get(name)
        if value is None:
            return default
        number, problem = _to_decimal(value)
        if number is None:
            self.fail(name, problem)
        elif number != number.to_integral_value():
            self.fail(name, f"must be a whole number, got {decimal_text(number)}")
        elif not low <= number <= high:
            self.fail(name, f"must be between {low} and {high}, got {decimal_text(number)}")
        else:
            return int(number)
        return None

    def callback_url(self) -> str | None:
        value = self.payload.get("callback_url")
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail("callback_url", f"must be a string, got {_json_type(value)}")
            return None
        problem = _url_problem(value)
        if problem:
            self.fail("callback_url", problem)
            return None
        return value

    def metadata(self) -> Mapping[str, Any]:
        value = self.payload.get("metadata")
        if value is None:
            return {}
        copy, problem = checked_metadata(value)
        if copy is None:
            self.fail("metadata", problem)
            return {}
        return copy


def checked_metadata(value: object) -> tuple[dict[str, Any] | None, str]:
    """``(a private copy, "")`` or ``(None, why not)``: a JSON object with string keys, nested
    at most ``MAX_METADATA_DEPTH`` levels, at most ``MAX_METADATA_BYTES`` serialised. Every
    door that takes metadata checks it here, so none lets through what a later hop (the
    bus, the worker) would choke on."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        return None, "must be a JSON object with string keys"
    if _nesting_exceeds(value, MAX_METADATA_DEPTH):
        return None, f"must not nest deeper than {MAX_METADATA_DEPTH} levels"
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None, "must contain only JSON values (no NaN or Infinity)"
    size = len(encoded.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        return None, f"is {size} bytes serialised, at most {MAX_METADATA_BYTES}"
    # A private copy, so later changes to the caller's dict cannot reach the plan.
    copy: dict[str, Any] = json.loads(encoded)
    return copy, ""


def _to_decimal(value: object) -> tuple[Decimal | None, str]:
    """``(number, "")`` or ``(None, why not)``; refuses bools, NaN, Infinity and odd text."""
    if isinstance(value, bool):
        return None, "must be a number, got a boolean"
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**MAX_NUMBER_TEXT else "inf"
    elif isinstance(value, float):
        text = str(value)  # repr is the shortest round-trip text: 0.1 -> "0.1"
    elif isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else "inf"
    elif isinstance(value, str):
        text = value.strip(ASCII_SPACES)
        if not text:
            return None, "must be a number, got an empty string"
        if len(text) > MAX_NUMBER_TEXT:
            return None, f"must be a number of at most {MAX_NUMBER_TEXT} characters"
    else:
        return None, f"must be a number, got {_json_type(value)}"
    if not _DECIMAL_TEXT.fullmatch(text):
        return None, f"must be a finite number, got {str(value)[:30]!r}"
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern above already guarantees it
        return None, f"must be a finite number, got {str(value)[:30]!r}"
    if not number.is_finite() or abs(number.adjusted()) > 100:
        return None, f"must be a finite number of sane size, got {str(value)[:30]!r}"
    return number, ""


def _decimal_places(number: Decimal) -> int:
    return len(decimal_text(number).partition(".")[2])


def _url_problem(url: str) -> str:
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number in 0..65535
    except ValueError:
        return "must be a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    return ""


def _json_type(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _nesting_exceeds(value: object, limit: int) -> bool:
    """Whether objects/arrays nest deeper than ``limit``; iterative, so a hostile payload
    cannot exhaust the interpreter's recursion limit here or in the copies below."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _freeze(value: Any) -> Any:
    """Deep read-only copy: objects become mapping proxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    """Inverse of :func:`_freeze`: plain dicts and lists for JSON encoders."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value
