"""Fixtures: a simulator on a free loopback port, and a raw-wire client bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_wire import KEY, MEMO, SECRET, Wire

from zoneguard.sim import SimConfig, SimServer

StartSim = Callable[..., Awaitable[SimServer]]


@pytest.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    servers: list[SimServer] = []

    async def start(**overrides: Any) -> SimServer:
        settings: dict[str, Any] = {
            "port": 0,
            "api_key": KEY,
            "api_secret": SECRET,
            "api_memo": MEMO,
            "prices": {"BTCUSDT": Decimal(65000), "ETHUSDT": Decimal(3000)},
            "ticker_refresh_s": 0,
        }
        settings.update(overrides)
        server = SimServer(SimConfig(**settings))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def sim(start_sim: StartSim) -> SimServer:
    return await start_sim()


@pytest.fixture
async def wire(sim: SimServer) -> AsyncIterator[Wire]:
    async with aiohttp.ClientSession() as session:
        yield Wire(session, sim)
