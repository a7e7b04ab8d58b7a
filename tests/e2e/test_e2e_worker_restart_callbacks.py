"""Issue 4, restart: callbacks that were due when the worker was SIGKILLed are delivered
after the restart, in order, each fact once (a repeat carries the same ``event_id``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from e2e_harness import (
    ENTRY_SIDES,
    SEED_ORDER,
    CrashStack,
    Receiver,
    distinct_callbacks,
    eventually,
    journal_state,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
IN_ZONE = 65400
TRADES_THROUGH = 65300


@dataclass
class UnsteadyReceiver(Receiver):
    """A callback receiver that can refuse (HTTP 503, counted) or take a callback and never
    answer (``hold``), as an app that crashed in the middle of a request."""

    refused: int = 0
    hold: bool = False
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        if self.status != 200:
            self.refused += 1
            return web.json_response({"status": "down"}, status=self.status)
        self.bodies.append(orjson.loads(await request.read()))
        self.headers.append(dict(request.headers))
        if self.hold:
            await self._release.wait()
        return web.json_response({"status": "ok"})

    def release(self) -> None:
        self.hold = False
        self._release.set()


pytestmark = pytest.mark.slow


@pytest.fixture
async def crash(tmp_path: Path) -> AsyncIterator[CrashStack]:
    stack = CrashStack(tmp_path)
    stack.receiver = UnsteadyReceiver()
    try:
        yield stack
    finally:
        receiver = stack.receiver
        assert isinstance(receiver, UnsteadyReceiver)
        receiver.release()
        await stack.close()


def receiver_of(crash: CrashStack) -> UnsteadyReceiver:
    receiver = crash.receiver
    assert isinstance(receiver, UnsteadyReceiver)
    return receiver


def statuses(crash: CrashStack) -> list[str]:
    return [str(body["status"]) for body in distinct_callbacks(crash.receiver, ORDER_ID)]


async def test_callbacks_refused_when_killed_are_delivered_after_restart(
    crash: CrashStack,
) -> None:
    receiver = receiver_of(crash)
    receiver.status = 503
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    await client.wait_state(ORDER_ID, "placed")
    await client.price(SYMBOL, TRADES_THROUGH)
    await client.wait_state(ORDER_ID, "open")
    await eventually(lambda: receiver.refused >= 1, 5, "a refused callback")
    crash.kill()
    assert receiver.bodies == []

    receiver.status = 200
    await crash.restart()
    await receiver.wait_for(ORDER_ID, "filled")
    assert statuses(crash) == ["placed", "filled"]  # in order, each once
    assert len(receiver.of(ORDER_ID)) == 2


async def test_callback_in_flight_when_killed_is_repeated_with_its_event_id(
    crash: CrashStack,
) -> None:
    receiver = receiver_of(crash)
    receiver.hold = True  # takes the callback, never answers: the worker cannot know
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, IN_ZONE)
    first = await receiver.wait_for(ORDER_ID, "placed")
    crash.kill()
    receiver.release()

    await crash.restart()
    await eventually(lambda: len(receiver.of(ORDER_ID)) == 2, 8, "the placed callback again")
    again = receiver.of(ORDER_ID)[1]
    assert again == first  # same event, same body: the app's dedupe drops it
    await client.price(SYMBOL, TRADES_THROUGH)
    await receiver.wait_for(ORDER_ID, "filled")
    assert statuses(crash) == ["placed", "filled"]


async def test_timeout_due_while_down_is_reported_after_restart(crash: CrashStack) -> None:
    client = await crash.start()
    status, body = await client.post("/api/place-order", dict(SEED_ORDER, timeout_seconds=1))
    assert status == 200, body
    crash.kill()
    await asyncio.sleep(1.1)  # the order's deadline passes while nobody runs
    await client.price(SYMBOL, IN_ZONE)  # too late: must not be placed
    assert journal_state(crash.tmp_path, ORDER_ID) == "waiting_zone"

    await crash.restart()
    timeout = await crash.receiver.wait_for(ORDER_ID, "timeout")
    assert timeout["reason"]
    assert sim_orders(await client.sim_state(), sides=ENTRY_SIDES) == []
    assert statuses(crash) == ["timeout"]
