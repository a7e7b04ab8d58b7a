"""Several entry zones for one signal (pyramiding): ``entry_zones`` in place of the seed's
``entry_zone_min`` / ``entry_zone_max``. The names are the API's contract.

Each zone places its own post-only entry when the price enters it, for its
``size_percent`` of the signal's quantity. Read here from a JSON-decoded body, every
problem named by its JSON path (``entry_zones[1].max``); zones may come in any order but
must not overlap, or one price would enter two of them at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from zoneguard.domain.exit_plan import HUNDRED, ZERO, FieldReader, object_fields, percent_field
from zoneguard.domain.values import decimal_text

MAX_ENTRY_ZONES = 10
ENTRY_ZONE_KEYS = ("min", "max", "size_percent")


@dataclass(frozen=True, slots=True)
class EntryZonePlan:
    """One zone: enter ``size_percent`` % of the quantity when the price is in ``[min, max]``."""

    min: Decimal
    max: Decimal
    size_percent: Decimal


def read_entry_zones(reader: FieldReader, value: object) -> tuple[EntryZonePlan, ...]:
    """``entry_zones``: 1..10 ``{"min", "max", "size_percent"}``, not overlapping, whose
    percents add up to 100."""
    name = "entry_zones"
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        reader.fail(name, "must be an array of {min, max, size_percent} objects")
        return ()
    if not 1 <= len(value) <= MAX_ENTRY_ZONES:
        reader.fail(name, f"must hold 1..{MAX_ENTRY_ZONES} zones, got {len(value)}")
        return ()
    zones: list[EntryZonePlan] = []
    complete = True
    for index, item in enumerate(value):
        path = f"{name}[{index}]"
        fields = object_fields(reader, path, item, ENTRY_ZONE_KEYS)
        if fields is None:
            complete = False
            continue
        low = _required(reader, f"{path}.min", fields.get("min"))
        high = _required(reader, f"{path}.max", fields.get("max"))
        percent = percent_field(reader, f"{path}.size_percent", fields)
        if low is None or high is None or percent is None:
            complete = False
            continue
        if low > high:
            reader.fail(
                f"{path}.min", f"must be <= {path}.max ({decimal_text(low)} > {decimal_text(high)})"
            )
            complete = False
            continue
        zones.append(EntryZonePlan(low, high, percent))
    if not complete:
        return ()
    total = sum((zone.size_percent for zone in zones), ZERO)
    if total != HUNDRED:
        reader.fail(name, f"size_percent values add up to {total.normalize():f}, not 100")
        return ()
    for index, zone in enumerate(zones):
        for earlier in range(index):
            other = zones[earlier]
            if zone.min <= other.max and other.min <= zone.max:
                reader.fail(
                    f"{name}[{index}]",
                    f"overlaps {name}[{earlier}] ({decimal_text(other.min)}.."
                    f"{decimal_text(other.max)}): one price would enter both",
                )
                return ()
    return tuple(zones)


def _required(reader: FieldReader, path: str, value: object) -> Decimal | None:
    if value is None:
        reader.fail(path, "is required")
        return None
    return reader.number(path, value)


def entry_zones_payload(zones: tuple[EntryZonePlan, ...]) -> dict[str, object]:
    """The JSON of the zones (nothing for a seed plan, whose payload stays the seed's)."""
    if not zones:
        return {}
    return {
        "entry_zones": [
            {
                "min": decimal_text(zone.min),
                "max": decimal_text(zone.max),
                "size_percent": decimal_text(zone.size_percent),
            }
            for zone in zones
        ]
    }
