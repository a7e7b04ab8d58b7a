"""``zoneguard signal``'s exit options, read into the API's fields: ``--tp PRICE[:PCT]``
(repeated: a ladder), ``--break-even-after K`` and ``--trailing ACTIVATION_PCT:CALLBACK_PCT``.

One ``--tp`` without a percent is the seed's ``take_profit``. Several without percents share
the position equally, in hundredths of a percent, the last taking what rounding leaves (three
rungs: 33.33, 33.33, 33.34). Numbers are passed on as written: the app judges them and
names the field of any it refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import typer

HUNDRED = Decimal(100)


def _number(text: str, option: str, what: str) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise typer.BadParameter(f"{what} must be a number, got {text!r}", param_hint=option)
    return text


def equal_shares(count: int) -> list[str]:
    """``count`` percents adding up to 100, in hundredths, the last taking what rounding
    leaves (three: 33.33, 33.33, 33.34)."""
    share = (HUNDRED / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    last = HUNDRED - share * (count - 1)
    return [str(share)] * (count - 1) + [str(last)]


def take_profit_fields(values: Sequence[str]) -> dict[str, Any]:
    """``take_profit`` for one plain ``--tp``, else ``take_profits`` with every rung's
    percent (given on each, or none given: equal shares)."""
    if not values:
        return {}
    rungs = [value.partition(":") for value in values]
    if len(rungs) == 1 and not rungs[0][1]:
        return {"take_profit": _number(rungs[0][0], "--tp", "PRICE")}
    given = [bool(sep) for _, sep, _ in rungs]
    if any(given) and not all(given):
        raise typer.BadParameter(
            "give PRICE:PCT on every --tp, or a percent on none (equal shares)",
            param_hint="--tp",
        )
    prices = [_number(price, "--tp", "PRICE") for price, _, _ in rungs]
    if all(given):
        percents = [_number(pct, "--tp", "PCT") for _, _, pct in rungs]
    else:
        percents = equal_shares(len(rungs))
    return {
        "take_profits": [
            {"price": price, "size_percent": pct}
            for price, pct in zip(prices, percents, strict=True)
        ]
    }


def trailing_fields(value: str | None) -> dict[str, Any]:
    """``--trailing ACTIVATION_PCT:CALLBACK_PCT`` as ``trailing_stop``."""
    if value is None:
        return {}
    activation, sep, callback = value.partition(":")
    if not sep:
        raise typer.BadParameter(
            f"needs ACTIVATION_PCT:CALLBACK_PCT, e.g. 1:0.5, got {value!r}",
            param_hint="--trailing",
        )
    return {
        "trailing_stop": {
            "activation_percent": _number(activation, "--trailing", "ACTIVATION_PCT"),
            "callback_percent": _number(callback, "--trailing", "CALLBACK_PCT"),
        }
    }


def break_even_fields(after: int | None) -> dict[str, Any]:
    """``--break-even-after K``: the stop to the entry once TP K has filled."""
    return {} if after is None else {"break_even": {"after_take_profit": after}}
