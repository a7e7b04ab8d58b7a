"""The exit legs a plan may carry beyond the seed's single stop and target: a take-profit
ladder (``take_profits``), a break-even rule (``break_even``) and a trailing stop
(``trailing_stop``). The names are the API's contract.

Read here from a JSON-decoded body, every problem named by its JSON path
(``take_profits[1].price``, ``break_even.after_take_profit``), so a trader fixes a signal in
one round trip. Where the levels sit against the entry zone is judged by the plan, which
knows the zone and its tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from zoneguard.domain.values import decimal_text

MAX_TAKE_PROFITS = 10
HUNDRED = Decimal(100)
ZERO = Decimal(0)

TAKE_PROFIT_KEYS = ("price", "size_percent")
BREAK_EVEN_KEYS = ("after_take_profit", "trigger_percent", "offset_percent")
TRAILING_KEYS = ("activation_price", "activation_percent", "callback_percent")


@dataclass(frozen=True, slots=True)
class TakeProfitTarget:
    """One rung of the ladder: close ``size_percent`` % of the filled quantity at ``price``."""

    price: Decimal
    size_percent: Decimal


@dataclass(frozen=True, slots=True)
class BreakEvenPlan:
    """Move the stop to the average entry plus ``offset_percent`` once TP
    ``after_take_profit`` (1-based) has filled, or once the price is ``trigger_percent`` %
    in favour. Exactly one of the two is set."""

    after_take_profit: int | None
    trigger_percent: Decimal | None
    offset_percent: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TrailingPlan:
    """Follow the best price at ``callback_percent`` behind it once the price reaches
    ``activation_price``, or ``activation_percent`` % in favour from the average entry."""

    callback_percent: Decimal
    activation_price: Decimal | None = None
    activation_percent: Decimal | None = None


class FieldReader(Protocol):
    """What the plan's reader lends us: record a refused field, read one number."""

    def fail(self, name: str, message: str) -> None: ...

    def number(self, name: str, value: object, *, allow_zero: bool = False) -> Decimal | None: ...


def read_take_profits(reader: FieldReader, value: object) -> tuple[TakeProfitTarget, ...]:
    """``take_profits``: 1..10 ``{"price", "size_percent"}`` whose percents add up to 100."""
    name = "take_profits"
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        reader.fail(name, "must be an array of {price, size_percent} objects")
        return ()
    if not 1 <= len(value) <= MAX_TAKE_PROFITS:
        reader.fail(name, f"must hold 1..{MAX_TAKE_PROFITS} take-profits, got {len(value)}")
        return ()
    targets: list[TakeProfitTarget] = []
    complete = True
    for index, item in enumerate(value):
        path = f"{name}[{index}]"
        fields = object_fields(reader, path, item, TAKE_PROFIT_KEYS)
        if fields is None:
            complete = False
            continue
        price = _required_number(reader, f"{path}.price", fields)
        percent = percent_field(reader, f"{path}.size_percent", fields)
        if price is None or percent is None:
            complete = False
            continue
        targets.append(TakeProfitTarget(price, percent))
    if not complete:
        return ()
    total = sum((t.size_percent for t in targets), ZERO)
    if total != HUNDRED:
        reader.fail(name, f"size_percent values add up to {total.normalize():f}, not 100")
        return ()
    return tuple(targets)


def read_break_even(reader: FieldReader, value: object) -> BreakEvenPlan | None:
    name = "break_even"
    fields = object_fields(reader, name, value, BREAK_EVEN_KEYS)
    if fields is None:
        return None
    after_raw = fields.get("after_take_profit")
    trigger_raw = fields.get("trigger_percent")
    if (after_raw is None) == (trigger_raw is None):
        reader.fail(name, "give one of after_take_profit or trigger_percent")
        return None
    after: int | None = None
    trigger: Decimal | None = None
    if after_raw is not None:
        number = reader.number(f"{name}.after_take_profit", after_raw)
        if number is None:
            return None
        if number != number.to_integral_value():
            reader.fail(f"{name}.after_take_profit", "must be a whole number (1 is TP1)")
            return None
        after = int(number)
    else:
        trigger = percent_field(reader, f"{name}.trigger_percent", fields, below=HUNDRED)
        if trigger is None:
            return None
    offset = ZERO
    if fields.get("offset_percent") is not None:
        read = reader.number(f"{name}.offset_percent", fields["offset_percent"], allow_zero=True)
        if read is None:
            return None
        if read >= HUNDRED:
            reader.fail(f"{name}.offset_percent", "must be below 100")
            return None
        offset = read
    return BreakEvenPlan(after, trigger, offset)


def read_trailing(reader: FieldReader, value: object) -> TrailingPlan | None:
    name = "trailing_stop"
    fields = object_fields(reader, name, value, TRAILING_KEYS)
    if fields is None:
        return None
    callback = percent_field(reader, f"{name}.callback_percent", fields, below=HUNDRED)
    price_raw = fields.get("activation_price")
    percent_raw = fields.get("activation_percent")
    if (price_raw is None) == (percent_raw is None):
        reader.fail(name, "give one of activation_price or activation_percent")
        return None
    price = percent = None
    if price_raw is not None:
        price = reader.number(f"{name}.activation_price", price_raw)
        if price is None:
            return None
    else:
        percent = percent_field(reader, f"{name}.activation_percent", fields, below=HUNDRED)
        if percent is None:
            return None
    if callback is None:
        return None
    return TrailingPlan(callback, price, percent)


def object_fields(
    reader: FieldReader, path: str, value: object, keys: tuple[str, ...]
) -> Mapping[str, object] | None:
    if not isinstance(value, Mapping):
        reader.fail(path, f"must be an object with {', '.join(keys)}")
        return None
    unknown = [str(key) for key in value if key not in keys]
    for key in unknown:
        reader.fail(f"{path}.{key[:64]}", "unknown field")
    return None if unknown else value


def _required_number(
    reader: FieldReader, path: str, fields: Mapping[str, object]
) -> Decimal | None:
    key = path.rsplit(".", 1)[1]
    if fields.get(key) is None:
        reader.fail(path, "is required")
        return None
    return reader.number(path, fields[key])


def percent_field(
    reader: FieldReader, path: str, fields: Mapping[str, object], *, below: Decimal | None = None
) -> Decimal | None:
    """A percent above 0: at most 100, or strictly ``below`` when given."""
    number = _required_number(reader, path, fields)
    if number is None:
        return None
    if below is not None and number >= below:
        reader.fail(path, f"must be below {below}")
        return None
    if number > HUNDRED:
        reader.fail(path, "must be at most 100")
        return None
    return number


def exits_payload(
    take_profits: tuple[TakeProfitTarget, ...],
    break_even: BreakEvenPlan | None,
    trailing: TrailingPlan | None,
) -> dict[str, object]:
    """The JSON of the legs that are set (none for a seed plan: its payload stays the
    seed's, and so does its hash)."""
    out: dict[str, object] = {}
    if take_profits:
        out["take_profits"] = [
            {"price": decimal_text(t.price), "size_percent": decimal_text(t.size_percent)}
            for t in take_profits
        ]
    if break_even is not None:
        rule: dict[str, object] = {"offset_percent": decimal_text(break_even.offset_percent)}
        if break_even.after_take_profit is not None:
            rule["after_take_profit"] = break_even.after_take_profit
        if break_even.trigger_percent is not None:
            rule["trigger_percent"] = decimal_text(break_even.trigger_percent)
        out["break_even"] = rule
    if trailing is not None:
        trail: dict[str, object] = {"callback_percent": decimal_text(trailing.callback_percent)}
        if trailing.activation_price is not None:
            trail["activation_price"] = decimal_text(trailing.activation_price)
        if trailing.activation_percent is not None:
            trail["activation_percent"] = decimal_text(trailing.activation_percent)
        out["trailing_stop"] = trail
    return out
