"""``OrderPlacementService.start_submit`` against the simulator over loopback: the first
attempt is on the wire when it returns, and what follows keeps the failure policy (an
unknown outcome is looked up by client id, a refusal raises from the awaitable)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from zoneguard.domain.market import OrderType, TimeInForce
from zoneguard.domain.values import MarginMode, Side
from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings
from zoneguard.exchange.errors import InvalidRequest, PostOnlyWouldCross
from zoneguard.exchange.port import OrderRequest
from zoneguard.sim import SimConfig, SimServer
from zoneguard.worker.config import ExchangeBackstopConfig
from zoneguard.worker.markets import Markets
from zoneguard.worker.metrics import Metrics
from zoneguard.worker.placement import OrderPlacementService

SYMBOL = "BTCUSDT"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    config = SimConfig(port=0, prices={SYMBOL: Decimal("65000")}, post_only_cross="reject")
    async with SimServer(config) as server:
        yield server


@pytest.fixture
async def exchange(sim: SimServer) -> AsyncIterator[BitMartExchange]:
    client = BitMartExchange(
        BitMartSettings(
            api_key=sim.config.api_key,
            api_secret=sim.config.api_secret,
            api_memo=sim.config.api_memo,
            rest_url=sim.base_url,
            ws_public_url=sim.ws_public_url,
            ws_private_url=sim.ws_private_url,
            rest_timeout_s=2.0,
        )
    )
    await client.start()
    lane = client._lane
    assert lane is not None and await lane.wait_ready(5)
    yield client
    await client.close()


def placement_for(exchange: BitMartExchange) -> OrderPlacementService:
    return OrderPlacementService(exchange, Markets(exchange), ExchangeBackstopConfig())


def entry(price: str, cid: str, contracts: str = "10") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=Decimal(contracts),
        price=Decimal(price),
        time_in_force=TimeInForce.POST_ONLY,
        leverage=Decimal(10),
        margin_mode=MarginMode.ISOLATED,
        client_order_id=cid,
    )


def submitted(sim: SimServer) -> int:
    return sim.state.requests["/contract/private/submit-order"]


async def test_the_first_attempt_is_sent_before_start_submit_returns(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    placement = placement_for(exchange)
    pending = placement.start_submit(entry("64000", "zgnow1"))
    # Not awaited yet: the simulator (same loop) has not run, but the bytes are written.
    lane = exchange._lane
    assert lane is not None and lane.sent == 1
    assert submitted(sim) == 0
    placed = await pending
    assert submitted(sim) == 1
    found = await exchange.find_order(SYMBOL, "zgnow1")
    assert found is not None and found.order_id == placed.order_id


async def test_an_unknown_outcome_of_the_first_attempt_is_looked_up_not_doubled(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    sim.state.faults.apply({"order_response": {"count": 1, "mode": "drop"}})
    placement = placement_for(exchange)
    placed = await placement.start_submit(entry("64000", "zgnow2"))
    assert submitted(sim) == 1, "found by its client id, never sent again"
    found = await exchange.find_order(SYMBOL, "zgnow2")
    assert found is not None and found.order_id == placed.order_id


async def test_refusals_raise_from_the_awaitable(sim: SimServer, exchange: BitMartExchange) -> None:
    placement = placement_for(exchange)
    crossing = placement.start_submit(entry("66000", "zgnow3"))  # above the ask
    with pytest.raises(PostOnlyWouldCross):
        await crossing
    fractional = placement.start_submit(entry("64000", "zgnow4", contracts="1.5"))
    assert submitted(sim) == 1, "a request BitMart would misread is never sent"
    with pytest.raises(InvalidRequest):
        await fractional


async def test_with_the_lane_busy_the_order_goes_when_awaited(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    placement = placement_for(exchange)
    exchange.rest.gate.block("/contract/private/submit-order", 0.2)  # the lane declines
    pending = placement.start_submit(entry("64000", "zgnow5"))
    await asyncio.sleep(0)
    assert submitted(sim) == 0
    placed = await pending
    assert placed.order_id and submitted(sim) == 1


def test_the_price_update_counter_is_exported() -> None:
    from prometheus_client import generate_latest

    metrics = Metrics()
    metrics.price_updates.count += 3
    text = generate_latest(metrics.registry).decode()
    assert "# TYPE zoneguard_price_updates_total counter" in text
    assert "zoneguard_price_updates_total 3.0" in text
