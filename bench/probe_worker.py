"""``zoneguard worker`` with timestamps at each step of the price -> order path (bench only).

Used by ``bench/tick_to_order.py --breakdown``; not part of the product and never imported
by it or by the tests. It wraps a few worker methods (the source is untouched) so that each
step of the hot path appends ``(step, CLOCK_MONOTONIC ns)`` to a list, written as JSON to
``$ZONEGUARD_PROBE_OUT`` when the worker is told to stop (SIGTERM). ``time.perf_counter_ns`` and
``time.monotonic_ns`` both read CLOCK_MONOTONIC on Linux, so these stamps compare with the
simulator's, taken in the benchmark's process.

Steps: ``bytes_in`` (bytes reach aiohttp's client protocol: any socket), ``ws_received``
(the public frame is out of ``ws.receive``), ``on_price`` (parsed,
the service's handler starts), ``journaled`` (the ``placing``/``closing`` row is committed),
``place_order`` (the adapter starts the request: ``place_order_now`` on the order lane, or
``place_order``), ``http_sent`` (the request handed to the socket: right after the lane's
write, or aiohttp's trace hook when the order went through the aiohttp session).

With ``$ZONEGUARD_PROBE_PROFILE`` set to a path, the synchronous handling of each public
frame (parse, decision, journal, send: everything before the handler returns) also runs
under ``cProfile``, whose stats are written there (``python -m pstats PATH``).

Run as the worker command itself: ``python bench/probe_worker.py worker --port ... ``.
"""

from __future__ import annotations

import cProfile
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

STAMPS: list[tuple[str, int]] = []
PROFILES: list[tuple[cProfile.Profile, str]] = []
_now = time.perf_counter_ns


def _stamp(step: str) -> None:
    STAMPS.append((step, _now()))


def _wrap_before(owner: Any, name: str, step: str, when: Callable[..., bool] | None = None) -> None:
    """Stamp ``step`` when ``owner.name`` is entered (and ``when(*args)`` holds)."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when is None or when(*args, **kwargs):
            _stamp(step)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def install() -> None:
    from aiohttp import client_proto

    from zoneguard.domain.lifecycle import OrderState
    from zoneguard.exchange.bitmart import adapter, rest, ws
    from zoneguard.worker import order_queue, service

    received = client_proto.ResponseHandler.data_received

    def _data_received(self: Any, data: bytes) -> None:
        _stamp("bytes_in")
        received(self, data)

    client_proto.ResponseHandler.data_received = _data_received  # type: ignore[method-assign]

    handle = ws.BitMartWebSocket._handle

    profile_out = os.environ.get("ZONEGUARD_PROBE_PROFILE")
    profiler = cProfile.Profile() if profile_out else None

    def _handle(self: Any, payload: Any, received_ns: int) -> object:
        if self.name != "public":
            return handle(self, payload, received_ns)
        STAMPS.append(("ws_received", received_ns))
        if profiler is None:
            return handle(self, payload, received_ns)
        profiler.enable()
        try:
            return handle(self, payload, received_ns)
        finally:
            profiler.disable()

    if profiler is not None and profile_out:
        PROFILES.append((profiler, profile_out))

    ws.BitMartWebSocket._handle = _handle  # type: ignore[method-assign]

    _wrap_before(service.WorkerService, "on_price", "on_price")

    if hasattr(order_queue.OrderQueue, "note_sending"):
        # The client id is noted, the order sent, and only then the move journaled.
        note = order_queue.OrderQueue.note_sending

        def _note(self: Any, *args: Any, **kwargs: Any) -> Any:
            noted = note(self, *args, **kwargs)
            _stamp("journaled")
            return noted

        order_queue.OrderQueue.note_sending = _note  # type: ignore[method-assign]
    else:  # older trees journal the move before sending
        move = order_queue.OrderQueue.move
        acting = (OrderState.PLACING, OrderState.CLOSING)

        def _move(self: Any, order: Any, to: Any, reason: str, **kwargs: Any) -> Any:
            event = move(self, order, to, reason, **kwargs)
            if to in acting:
                _stamp("journaled")
            return event

        order_queue.OrderQueue.move = _move  # type: ignore[method-assign]

    place = adapter.BitMartExchange.place_order

    async def _place(self: Any, request: Any) -> Any:
        _stamp("place_order")
        return await place(self, request)

    adapter.BitMartExchange.place_order = _place  # type: ignore[method-assign]
    if hasattr(adapter.BitMartExchange, "place_order_now"):  # absent from older trees
        _wrap_before(adapter.BitMartExchange, "place_order_now", "place_order")
        from zoneguard.exchange.bitmart import http1

        # The order lane writes the request synchronously: stamp right after the write.
        lane_send = http1.Http1Connection.send

        def _lane_send(self: Any, data: bytes, timeout_s: float) -> Any:
            future = lane_send(self, data, timeout_s)
            _stamp("http_sent")
            return future

        http1.Http1Connection.send = _lane_send  # type: ignore[method-assign]

    def traced_session(**kwargs: Any) -> aiohttp.ClientSession:
        session = original_new_session(**kwargs)
        trace = aiohttp.TraceConfig()

        async def sent(*_: Any) -> None:
            _stamp("http_sent")

        trace.on_request_chunk_sent.append(sent)
        trace.freeze()
        session._trace_configs.append(trace)
        return session

    original_new_session = rest.new_session
    adapter.new_session = traced_session  # type: ignore[assignment]


def dump() -> None:
    out = os.environ.get("ZONEGUARD_PROBE_OUT")
    if out:
        Path(out).write_bytes(orjson.dumps(STAMPS))
    for profiler, path in PROFILES:
        profiler.dump_stats(path)


def main() -> None:
    install()
    from zoneguard.cli import main as cli_main

    sys.argv = ["zoneguard", *sys.argv[1:]]
    try:
        cli_main()  # SIGTERM ends it through the worker's own shutdown, then sys.exit
    finally:
        dump()


if __name__ == "__main__":
    main()
