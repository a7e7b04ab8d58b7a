"""The app's cache of contract facts: how long each kind of answer is kept, one request for
concurrent lookups, a bounded size, and every odd answer read as "could not check". The
worker is a scripted function here (the cache takes any); the real route is exercised in
tests/e2e/test_e2e_app_contract_checks.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zoneguard.app.contracts import ContractFacts, Known, Unchecked, Unknown
from zoneguard.app.worker_client import WorkerRejected, WorkerUnavailable

FACTS = {
    "symbol": "BTCUSDT",
    "base_currency": "BTC",
    "quote_currency": "USDT",
    "contract_size": "0.001",
    "lot_size": "1",
    "tick_size": "0.1",
    "min_contracts": "1",
    "max_contracts": "500000",
    "market_max_contracts": "100000",
    "min_leverage": "1",
    "max_leverage": "100",
}
NOT_TRADED = WorkerRejected(
    404,
    "symbol: XYZUSDT is not traded",
    {"ok": False, "fields": [{"field": "symbol", "message": "XYZUSDT is not traded"}]},
)


class Worker:
    """Answers per symbol: a dict of facts or an exception; counts the questions."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, symbol: str) -> dict[str, Any]:
        self.asked.append(symbol)
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers[symbol]
        if isinstance(answer, Exception):
            raise answer
        result: dict[str, Any] = answer
        return result


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_each_answer_is_kept_for_its_own_time() -> None:
    worker = Worker({"BTCUSDT": FACTS, "XYZUSDT": NOT_TRADED, "ETHUSDT": WorkerUnavailable("down")})
    clock = Clock()
    facts = ContractFacts(worker, known_ttl_s=600, unknown_ttl_s=30, unchecked_ttl_s=5, clock=clock)
    assert isinstance(await facts.lookup("BTCUSDT"), Known)
    assert await facts.lookup("XYZUSDT") == Unknown("XYZUSDT is not traded")
    assert isinstance(await facts.lookup("ETHUSDT"), Unchecked)
    for symbol in ("BTCUSDT", "XYZUSDT", "ETHUSDT"):
        await facts.lookup(symbol)
    assert worker.asked == ["BTCUSDT", "XYZUSDT", "ETHUSDT"]

    clock.now += 6  # the unreachable answer is over
    await facts.lookup("ETHUSDT")
    await facts.lookup("XYZUSDT")
    assert worker.asked[3:] == ["ETHUSDT"]
    clock.now += 30  # so is the unknown one; the facts stay
    await facts.lookup("XYZUSDT")
    await facts.lookup("BTCUSDT")
    assert worker.asked[4:] == ["XYZUSDT"]
    clock.now += 600
    await facts.lookup("BTCUSDT")
    assert worker.asked[5:] == ["BTCUSDT"]


async def test_concurrent_lookups_share_one_request() -> None:
    worker = Worker({"BTCUSDT": FACTS})
    worker.gate = asyncio.Event()
    facts = ContractFacts(worker)
    waiting = [asyncio.create_task(facts.lookup("BTCUSDT")) for _ in range(20)]
    await asyncio.sleep(0)
    worker.gate.set()
    results = await asyncio.gather(*waiting)
    assert worker.asked == ["BTCUSDT"]
    assert len({id(r) for r in results}) == 1


async def test_the_cache_is_bounded() -> None:
    symbols = [f"S{i}USDT" for i in range(10)]
    worker = Worker(dict.fromkeys(symbols, NOT_TRADED))
    facts = ContractFacts(worker, max_symbols=4)
    for symbol in symbols:
        await facts.lookup(symbol)
    await facts.lookup(symbols[-1])  # the newest is kept
    assert worker.asked == symbols
    await facts.lookup(symbols[0])  # the oldest is not
    assert worker.asked[-1] == symbols[0]


@pytest.mark.parametrize(
    "answer",
    [
        WorkerRejected(404, "Not Found", {"detail": "Not Found"}),  # a worker without the route
        WorkerRejected(401, "authorization: wrong", {"ok": False}),
        {"symbol": "BTCUSDT"},  # not contract facts
        {**FACTS, "symbol": "ETHUSDT"},  # facts of another symbol
    ],
)
async def test_an_odd_answer_means_unchecked(answer: Any) -> None:
    found = await ContractFacts(Worker({"BTCUSDT": answer})).lookup("BTCUSDT")
    assert isinstance(found, Unchecked)
