"""A worker started with ``freeze_heap`` (the real process) moves what it holds out of the
cyclic GC's reach, so a full collection no longer walks every waiting order."""

from __future__ import annotations

import gc
from decimal import Decimal
from pathlib import Path

from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings
from zoneguard.sim import SimConfig, SimServer
from zoneguard.worker.config import OrdersConfig, WorkerSettings
from zoneguard.worker.service import WorkerService


async def test_a_started_worker_freezes_its_heap_once(
    tmp_path: Path,
) -> None:
    async with SimServer(SimConfig(port=0, prices={"BTCUSDT": Decimal(66000)})) as sim:
        exchange = BitMartExchange(
            BitMartSettings(
                api_key=sim.config.api_key,
                api_secret=sim.config.api_secret,
                api_memo=sim.config.api_memo,
                rest_url=sim.base_url,
                ws_public_url=sim.ws_public_url,
                ws_private_url=sim.ws_private_url,
            )
        )
        service = WorkerService(
            exchange,
            OrdersConfig(),
            WorkerSettings(APP_BASE_URL="http://127.0.0.1:9"),  # type: ignore[call-arg]
            tmp_path,
            freeze_heap=True,
        )
        gc.unfreeze()
        try:
            await service.start()
            frozen = gc.get_freeze_count()
            assert frozen > 0
            await service.stop()
        finally:
            gc.unfreeze()  # give the test process its collector back


async def test_an_in_process_worker_leaves_the_heap_alone(tmp_path: Path) -> None:
    exchange = BitMartExchange(BitMartSettings())
    service = WorkerService(
        exchange,
        OrdersConfig(),
        WorkerSettings(APP_BASE_URL="http://127.0.0.1:9"),  # type: ignore[call-arg]
        tmp_path,
    )
    try:
        assert not service._freeze_heap_on
    finally:
        service.journal.close()
