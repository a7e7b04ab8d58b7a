"""The worker's contract facts, cached per symbol, for checking signals at the API.

A signal for a symbol the exchange does not trade, or smaller than one contract, used to be
stored and queued, then failed at the worker. The app has no exchange connection of its own,
so it asks the worker (``GET /api/market/{symbol}/contract``) and keeps the answer: facts
for :data:`KNOWN_TTL_S` (a venue changes a contract's size or limits rarely, and the worker
checks every order again), an unknown symbol for :data:`UNKNOWN_TTL_S` (a listing shows up
soon), and a worker that could not answer for :data:`UNCHECKED_TTL_S` (so a burst of signals
during an outage pays one timeout, not one each). Concurrent lookups of one symbol share one
request. When the worker cannot answer, signals are not refused: the worker checks the order
when it gets it, as it always did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from zoneguard.app.worker_client import WorkerError, WorkerRejected
from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.contract_facts import spec_from_facts

KNOWN_TTL_S = 600.0
UNKNOWN_TTL_S = 30.0
UNCHECKED_TTL_S = 5.0
MAX_SYMBOLS = 1024
"""Bound on the cache: symbols come from requests, and nonsense ones are cached too."""

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Known:
    spec: ContractSpec


@dataclass(frozen=True, slots=True)
class Unknown:
    """The worker says the exchange does not trade the symbol."""

    message: str


@dataclass(frozen=True, slots=True)
class Unchecked:
    """The worker could not say (down, slow, too old for the route, odd answer)."""

    reason: str


Lookup = Known | Unknown | Unchecked


@dataclass(slots=True)
class _Entry:
    result: Lookup
    expires_at: float


class ContractFacts:
    def __init__(
        self,
        fetch: Fetch,
        *,
        known_ttl_s: float = KNOWN_TTL_S,
        unknown_ttl_s: float = UNKNOWN_TTL_S,
        unchecked_ttl_s: float = UNCHECKED_TTL_S,
        max_symbols: int = MAX_SYMBOLS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = {Known: known_ttl_s, Unknown: unknown_ttl_s, Unchecked: unchecked_ttl_s}
        self._max_symbols = max_symbols
        self._clock = clock
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[Lookup]] = {}

    async def lookup(self, symbol: str) -> Lookup:
        """What is known of ``symbol`` (upper case), asking the worker when nothing fresh is."""
        entry = self._cache.get(symbol)
        if entry is not None and entry.expires_at > self._clock():
            return entry.result
        task = self._inflight.get(symbol)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._ask(symbol))
            self._inflight[symbol] = task
            task.add_done_callback(lambda _done: self._inflight.pop(symbol, None))
        # Shielded: a caller that goes away (client disconnected) leaves the answer to others.
        return await asyncio.shield(task)

    async def _ask(self, symbol: str) -> Lookup:
        result = await self._answer(symbol)
        self._store(symbol, result)
        return result

    async def _answer(self, symbol: str) -> Lookup:
        try:
            facts = await self._fetch(symbol)
        except WorkerRejected as exc:
            fields = exc.body.get("fields")
            named = isinstance(fields, list) and any(
                isinstance(f, dict) and f.get("field") == "symbol" for f in fields
            )
            if exc.status in (404, 422) and named:
                return Unknown(f"{symbol} is not traded")
            return Unchecked(f"the worker answered {exc}")
        except WorkerError as exc:
            return Unchecked(str(exc))
        try:
            spec = spec_from_facts(facts)
        except ValueError as exc:
            return Unchecked(f"the worker's contract facts are unreadable ({exc})")
        if spec.symbol != symbol:
            return Unchecked(f"the worker answered for {spec.symbol[:30]!r}")
        return Known(spec)

    def _store(self, symbol: str, result: Lookup) -> None:
        now = self._clock()
        if len(self._cache) >= self._max_symbols:
            for name in [n for n, e in self._cache.items() if e.expires_at <= now]:
                del self._cache[name]
            while len(self._cache) >= self._max_symbols:
                del self._cache[next(iter(self._cache))]  # the oldest stored
        self._cache.pop(symbol, None)  # re-stored last: the dict's order is the age
        self._cache[symbol] = _Entry(result, now + self._ttl[type(result)])
