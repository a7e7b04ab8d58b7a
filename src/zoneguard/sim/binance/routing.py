"""What a Binance REST route is: security level, request weight, order counting, handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance.memory import Memory
from zoneguard.sim.binance.params import Params
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.engine import Engine

Security = Literal["NONE", "KEY", "SIGNED"]
"""NONE: public; KEY: ``X-MBX-APIKEY`` only (USER_STREAM); SIGNED: TRADE and USER_DATA."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a handler sees it."""

    engine: Engine
    memory: Memory
    params: Params


Handler = Callable[[Call], object]
"""Runs one request and returns the JSON body of the answer."""


@dataclass(frozen=True, slots=True)
class Route:
    security: Security
    handler: Handler
    weight: int = 1
    weight_without_symbol: int | None = None
    """Binance charges more for the all-symbols form of some reads."""
    counts_order: bool = False
    """Counts on ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` (new orders and algo orders)."""

    def weight_of(self, params: Params) -> int:
        if self.weight_without_symbol is not None and not params.get("symbol"):
            return self.weight_without_symbol
        return self.weight


def contract_of(engine: Engine, symbol: str) -> SimContract:
    """The symbol's contract; -1121 for an unknown symbol."""
    if symbol not in engine.symbols:
        raise e.bad_symbol()
    return engine.contract(symbol)
