"""What a BitMart REST route is: method, authentication level, rate rule and handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from zoneguard.sim.engine import Engine
from zoneguard.sim.params import Params
from zoneguard.sim.ratelimit import RateRule

AuthLevel = Literal["none", "keyed", "signed"]
Handler = Callable[[Engine, Params], object]
"""Runs one request against the engine and returns the envelope's ``data``."""


@dataclass(frozen=True, slots=True)
class Route:
    method: Literal["GET", "POST"]
    auth: AuthLevel
    rule: RateRule
    handler: Handler
    recv_window: bool = False
    """The body's ``recvWindow`` (default 5000 ms) narrows the timestamp window."""


def every_2s(limit: int, keyed_by: Literal["IP", "KEY", "UID"]) -> RateRule:
    return RateRule(limit=limit, keyed_by=keyed_by, window_s=2)
