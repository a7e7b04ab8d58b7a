"""``zoneguard signal --zone``: the entry zone as ``MIN MAX`` or ``MIN,MAX``.

A click option takes a fixed number of values, so ``--zone 65000,65500`` used to swallow the
next option as its second value and fail with an unrelated "Missing option". The signal
command rewrites the comma form into two values before click parses, and refuses a zone it
cannot read with one line saying what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from typer.core import TyperCommand

ZONE_OPTION = "--zone"
EXAMPLE = "e.g. --zone 65000,65500 or --zone 65000 65500"


class ZoneError(ValueError):
    """``str()`` says what is wrong with the zone, in one line."""


def split_zone_args(args: Sequence[str]) -> list[str]:
    """``args`` with every ``--zone MIN,MAX`` / ``--zone=MIN,MAX`` written as ``--zone MIN
    MAX``; raises :class:`ZoneError` for a zone with the wrong number of prices."""
    out: list[str] = []
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "--":  # the end of the options: leave the rest alone
            out += [token, *rest]
            break
        if token.startswith(ZONE_OPTION + "="):
            rest.insert(0, token[len(ZONE_OPTION) + 1 :])
            token = ZONE_OPTION
        if token != ZONE_OPTION:
            out.append(token)
            continue
        out += [ZONE_OPTION, *_zone_values(rest)]
    return out


def _zone_values(rest: list[str]) -> list[str]:
    """Take the zone's two prices off the front of ``rest``."""
    if not rest or rest[0].startswith("--"):
        raise ZoneError(f"needs two prices, MIN and MAX ({EXAMPLE})")
    first = rest.pop(0)
    if "," in first:
        parts = [part.strip() for part in first.split(",")]
        if len(parts) != 2 or not all(parts):
            raise ZoneError(f"{first[:40]!r} is not MIN,MAX ({EXAMPLE})")
        return parts
    if not rest or rest[0].startswith("--"):
        raise ZoneError(f"got one price ({first[:40]}); give MIN and MAX ({EXAMPLE})")
    return [first, rest.pop(0)]


def check_zone(zone: tuple[str, str]) -> tuple[str, str]:
    """Both prices positive numbers, MIN not above MAX; raises :class:`ZoneError`."""
    prices = []
    for text in zone:
        try:
            price = Decimal(text)
        except InvalidOperation:
            raise ZoneError(f"{text[:40]!r} is not a price ({EXAMPLE})") from None
        if not price.is_finite() or price <= 0:
            raise ZoneError(f"{text[:40]!r} is not a positive price ({EXAMPLE})")
        prices.append(price)
    if prices[0] > prices[1]:
        raise ZoneError(f"MIN {zone[0]} is above MAX {zone[1]} (MIN comes first)")
    return zone


def zone_callback(value: tuple[str, str] | None) -> tuple[str, str] | None:
    """typer callback of ``--zone``: a bad zone is a one-line usage error naming it."""
    if value is None:
        return None
    try:
        return check_zone(value)
    except ZoneError as exc:
        raise typer.BadParameter(str(exc)) from None


class SignalCommand(TyperCommand):
    """The ``signal`` command, reading ``--zone MIN,MAX`` as ``--zone MIN MAX``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            split = split_zone_args(args)
        except ZoneError as exc:
            raise typer.BadParameter(str(exc), ctx=ctx, param_hint=f"'{ZONE_OPTION}'") from None
        result: list[str] = super().parse_args(ctx, split)
        return result
