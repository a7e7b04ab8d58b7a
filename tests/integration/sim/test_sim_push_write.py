"""Pushes written straight to the socket (nothing queued ahead) and pushes queued behind a
full socket reach the client whole and in the order they were published, at every frame
length encoding (7-bit, 16-bit and 64-bit)."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from zoneguard.sim import SimServer


async def test_direct_and_queued_pushes_arrive_whole_and_in_order(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_public_url) as ws:
        subscribe = {"action": "subscribe", "args": ["futures/ticker"]}
        await ws.send_str(orjson.dumps(subscribe).decode())
        ack = orjson.loads((await ws.receive(timeout=5)).data)  # the hub knows us by now
        assert ack["success"] is True
        (connection,) = sim.state.hub.connections
        lengths = [10, 125, 126, 1_000, 65_535, 65_536, 200_000]
        sizes: list[int] = []
        # The client reads nothing meanwhile: once the socket is full, frames must queue.
        while len(sizes) < 2_000 and (not connection._outbox or len(sizes) % 7):
            size = lengths[len(sizes) % 7]
            connection.send(orjson.dumps({"n": len(sizes), "pad": "x" * size}))
            sizes.append(size)
        assert connection._outbox, "some frames were queued behind the full socket"
        direct = len(sizes) - len(connection._outbox)
        assert direct >= 7, "the first frames were written at once, every length among them"
        received = []
        while len(received) < len(sizes):
            message = await asyncio.wait_for(ws.receive(), 10)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            body = orjson.loads(message.data)
            if "n" in body:
                received.append(body)
        assert [body["n"] for body in received] == list(range(len(sizes)))
        assert [len(body["pad"]) for body in received] == sizes
