"""``zoneguard signal --zone``: the entry zone as ``MIN MAX`` or ``MIN,MAX``; repeated, with
a share on each (``MAX:PCT``), several entry zones (``entry_zones``, pyramiding).

A click option takes a fixed number of values, so ``--zone 65000,65500`` used to swallow the
next option as its second value and fail with an unrelated "Missing option". The signal
command rewrites every form into one ``MIN,MAX[:PCT]`` value before click parses (so the
option can repeat), and refuses a zone it cannot read with one line saying what is wrong
with it.

One ``--zone`` without a percent is the seed's ``entry_zone_min`` / ``entry_zone_max``.
Several without percents share the quantity equally (as ``--tp`` rungs do). Overlaps and
percents that do not add up to 100 are the app's to judge: it names the field it refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from typer.core import TyperCommand

from zoneguard.app.exit_options import equal_shares

ZONE_OPTION = "--zone"
EXAMPLE = "e.g. --zone 65000,65500 or --zone 65000 65500"
SEVERAL = "e.g. --zone 65200 65500:50 --zone 64800 65000:50"


class ZoneError(ValueError):
    """``str()`` says what is wrong with the zone, in one line."""


@dataclass(frozen=True, slots=True)
class Zone:
    """One ``--zone`` as written (the app reads the numbers)."""

    min: str
    max: str
    percent: str | None


def split_zone_args(args: Sequence[str]) -> list[str]:
    """``args`` with every ``--zone MIN MAX`` / ``--zone MIN,MAX`` / ``--zone=MIN,MAX`` (MAX
    with its ``:PCT``, if any) written as ``--zone MIN,MAX``; raises :class:`ZoneError` for
    a zone with the wrong number of prices."""
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
        out += [ZONE_OPTION, ",".join(_zone_values(rest))]
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


def read_zone(value: str) -> Zone:
    """One ``MIN,MAX[:PCT]`` (as :func:`split_zone_args` wrote it); raises
    :class:`ZoneError`."""
    low, _, high = value.partition(",")
    high, sep, percent = high.partition(":")
    check_zone((low, high))
    if not sep:
        return Zone(low, high, None)
    try:
        share = Decimal(percent)
    except InvalidOperation:
        share = Decimal("NaN")
    if not share.is_finite() or share <= 0:
        raise ZoneError(f"PCT {percent[:40]!r} of MAX:PCT is not a positive number ({SEVERAL})")
    return Zone(low, high, percent)


def read_zones(values: Sequence[str]) -> list[Zone]:
    """Every ``--zone``, percents on all or none; raises :class:`ZoneError`."""
    zones = [read_zone(value) for value in values]
    given = [zone.percent is not None for zone in zones]
    if any(given) and not all(given):
        raise ZoneError(f"give MAX:PCT on every --zone, or a percent on none ({SEVERAL})")
    return zones


def zones_callback(values: list[str] | None) -> list[str] | None:
    """typer callback of ``--zone``: a bad zone, or percents on some zones only, is a
    one-line usage error naming it."""
    try:
        read_zones(values or [])
    except ZoneError as exc:
        raise typer.BadParameter(str(exc)) from None
    return values


def zone_fields(values: Sequence[str]) -> dict[str, Any]:
    """The API's fields of the ``--zone`` values (checked by :func:`zones_callback`): the
    seed's zone for one without a percent, else ``entry_zones`` (percents as given, or
    equal shares)."""
    zones = read_zones(values)
    if len(zones) == 1 and zones[0].percent is None:
        return {"entry_zone_min": zones[0].min, "entry_zone_max": zones[0].max}
    if not zones:
        return {}
    percents = [zone.percent for zone in zones]
    shares = equal_shares(len(zones)) if None in percents else percents
    return {
        "entry_zones": [
            {"min": zone.min, "max": zone.max, "size_percent": share}
            for zone, share in zip(zones, shares, strict=True)
        ]
    }


class SignalCommand(TyperCommand):
    """The ``signal`` command, reading every form of ``--zone`` as ``--zone MIN,MAX``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            split = split_zone_args(args)
        except ZoneError as exc:
            raise typer.BadParameter(str(exc), ctx=ctx, param_hint=f"'{ZONE_OPTION}'") from None
        result: list[str] = super().parse_args(ctx, split)
        return result
