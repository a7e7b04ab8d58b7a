"""Fixtures: a Binance-dialect simulator per test, an HTTP session, and ccxt on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from binance_clients import binance_config, ccxt_client

from zoneguard.sim.server import SimServer


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(binance_config()) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def ccxt(sim: SimServer) -> AsyncIterator[Any]:
    exchange = ccxt_client(sim)
    try:
        yield exchange
    finally:
        await exchange.close()
