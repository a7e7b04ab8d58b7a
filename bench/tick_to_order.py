"""Tick-to-order latency of the worker, end to end on loopback, as the exchange sees it.

Run:  python bench/tick_to_order.py                (from the repository root, venv active)
      python bench/tick_to_order.py --triggers 200 (a quicker look)
      python bench/tick_to_order.py --breakdown    (where the time goes, step by step)
      python bench/tick_to_order.py --idle-ms 20     (each trigger after 20 ms of quiet)
      KEEP_BENCH_DIR=1 python bench/tick_to_order.py  (keep the worker's var dir and log)

Targets: the seed asks < 500 ms from price to order and < 500 ms for a stop; the project
aims at p99 <= 1 ms over loopback. On a 2-vCPU VM about 0.4 ms of each span is the
simulator's own work (push, HTTP parsing, checks) and two cross-process wake-ups.

Two numbers, each over ``--triggers`` cycles (1,000 by default) after a short warm-up:
* ``zone -> entry``: the simulator pushes a price that enters a waiting order's zone, until
  the simulator receives the worker's entry order (``submit-order``, post-only limit);
* ``stop -> close``: the simulator pushes a price that crosses a guarded position's
  stop-loss, until it receives the worker's reduce-only market close.

Method. The simulator runs in this process (``zoneguard.sim.SimServer``, unmodified, with
``rate_limits=False``: BitMart allows 24 submit-order per 2 s, which would throttle the
benchmark, not the worker) and the worker is the real ``zoneguard worker`` command in its
own process, talking to the simulator over loopback sockets like to BitMart. Both ends of a
measurement are taken inside the simulator's process with ``time.perf_counter_ns``:
* start: just before the price moves, the in-process equivalent of ``POST /_sim/price``
  (``SimServer.set_price``: the new price is queued to every subscribed socket, then
  resting orders and exchange-side triggers are matched);
* end: when the simulator's matching engine receives the order, through a wrapper around
  the engine's ``submit_order`` installed on the instance by this script (the simulator
  source is untouched; its order ``create_time`` only has millisecond resolution).
The span therefore covers the simulator's websocket push, the worker's parsing, decision
(trigger index, journal write) and signed REST request, and the simulator's HTTP parsing and
signature check: everything but the order's matching and the reply.

Two more, ``(wire)``, from the same cycles: from the price push handed to the worker's
socket to the first bytes of its order arriving at the simulator. That is the worker's whole
share (both loopback hops included) without the simulator's own work on either side, i.e.
tick-to-order as the exchange's network edge sees it; the target (p99 <= 1 ms) is about it.

``--idle-ms N`` pauses N ms before each timed price, so both processes go idle as between
real ticks; on a VM, waking an idle vCPU then adds to every span (see the README).

One cycle: place the seed's long (zone 65000-65500, SL 64000) through the worker's control
API, price 65400 (zone entered: timed), wait for the entry, price 65300 (the entry fills),
wait for the ``filled`` callback (the position is guarded by then), price 63950 (under the
SL, above the exchange's preset backstop at 63872: timed), wait for the close and the
``closed`` callback, price back to 66000. Cycles run one after another, so each number is
the latency of an idle worker, not of a queue.

``--breakdown`` runs the worker through ``bench/probe_worker.py`` (the same command with
timestamps at each step: bytes in, websocket frame read, handler entered, journal row
committed, adapter called, request handed to the socket) and stamps the
simulator's side too (push handed to the worker's connection, request bytes in, REST
handler entered). All stamps read CLOCK_MONOTONIC, so they compare across the two processes; the
table shows each step's share of the total, per measure. The probes cost a few us each, so
totals run a little above an unprobed run.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from zoneguard.eventloop import run
from zoneguard.sim.config import SimConfig
from zoneguard.sim.engine import OrderRequest
from zoneguard.sim.model import Order, OrderOrigin, PlanOrder
from zoneguard.sim.server import SimServer

SYMBOL = "BTCUSDT"
OUTSIDE = Decimal(66000)
IN_ZONE = Decimal(65400)
TRADES_THROUGH = Decimal(65300)
UNDER_STOP = Decimal(63950)
ENTRY_SIDES = (1, 4)
WARM_UP = 20
WAIT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Arrivals:
    """When the simulator received the first entry / close order after :meth:`expect`."""

    at_ns: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, asyncio.Event] = field(default_factory=dict)

    def expect(self, kind: str) -> asyncio.Event:
        """Wait for the next ``"entry"`` or ``"close"``; its time lands in ``at_ns[kind]``."""
        event = asyncio.Event()
        self.waiting[kind] = event
        return event

    def record(self, request: OrderRequest, now_ns: int) -> None:
        kind = "entry" if request.side in ENTRY_SIDES else "close"
        event = self.waiting.pop(kind, None)
        if event is not None:
            self.at_ns[kind] = now_ns
            event.set()


def hook_submissions(sim: SimServer, arrivals: Arrivals) -> None:
    """Timestamp every order a client submits (not those the engine's own triggers send)."""
    engine = sim.engine
    original = engine.submit_order

    def submit_order(
        req: OrderRequest, *, origin: OrderOrigin | None = None, plan: PlanOrder | None = None
    ) -> Order:
        if origin is None and plan is None:
            arrivals.record(req, time.perf_counter_ns())
        return original(req, origin=origin, plan=plan)

    engine.submit_order = submit_order  # type: ignore[method-assign]


STEPS = (
    ("sim_pushed", "sim: price -> push"),
    ("bytes_in", "loopback -> worker bytes"),
    ("ws_received", "worker ws read"),
    ("on_price", "parse + dispatch"),
    ("journaled", "decide + note (or journal)"),
    ("place_order", "build request"),
    ("http_sent", "body + sign + write"),
    ("sim_bytes_in", "loopback -> sim"),
    ("sim_handler", "sim: HTTP parse"),
    ("end", "sim: auth + params"),
)
"""Breakdown steps in path order: (stamp name, what the span *ending* at it covers)."""


class SimProbe:
    """Stamps on the simulator's side of the path (``--breakdown`` only).

    Wraps, on the classes, the simulator's websocket ``Connection.send`` (a push handed to
    a connection: written at once, or queued behind others), aiohttp's server
    ``data_received`` (request bytes arrive) and the simulator's REST entry point; the
    simulator's source is untouched.
    """

    def __init__(self) -> None:
        self.stamps: list[tuple[str, int]] = []

    def install(self) -> None:
        from aiohttp import web_protocol

        from zoneguard.sim.rest import RestApi
        from zoneguard.sim.ws import Connection

        stamps = self.stamps
        clock = time.perf_counter_ns
        send = Connection.send

        def sent(self: Connection, frame: bytes) -> None:
            stamps.append(("sim_pushed", clock()))
            send(self, frame)

        received = web_protocol.RequestHandler.data_received

        def data_in(self: web_protocol.RequestHandler[Any], data: bytes) -> None:
            stamps.append(("sim_bytes_in", clock()))
            received(self, data)

        handle = RestApi.handle

        async def handled(self: RestApi, request: web.Request) -> web.StreamResponse:
            stamps.append(("sim_handler", clock()))
            return await handle(self, request)

        Connection.send = sent  # type: ignore[method-assign]
        web_protocol.RequestHandler.data_received = data_in  # type: ignore[method-assign]
        RestApi.handle = handled  # type: ignore[method-assign]


def breakdown(windows: list[tuple[str, int, int]], stamps: list[tuple[str, int]]) -> str:
    """Per measure and step: median and p99 of the time since the previous step.

    Each step takes its first stamp inside the span, after the previous step's stamp.
    """
    by_step: dict[str, list[int]] = {}
    for step, at in stamps:
        by_step.setdefault(step, []).append(at)
    for times in by_step.values():
        times.sort()
    lines: list[str] = []
    for measure in dict.fromkeys(name for name, _, _ in windows):
        spans: dict[str, list[int]] = {step: [] for step, _ in STEPS}
        for name, start, end in windows:
            if name != measure:
                continue
            previous = start
            for step, _ in STEPS:
                at = end if step == "end" else _first_at_or_after(by_step.get(step, []), previous)
                if at is None or at > end:
                    continue
                spans[step].append(at - previous)
                previous = at
        header = f"{measure:<34}{'n':>6}{'p50 us':>10}{'p90 us':>10}{'p99 us':>10}"
        lines += ["", header, "-" * len(header)]
        for step, label in STEPS:
            us = sorted(v / 1e3 for v in spans[step])
            if us:
                lines.append(
                    f"{label:<34}{len(us):>6}{statistics.median(us):>10.1f}"
                    f"{percentile(us, 0.90):>10.1f}{percentile(us, 0.99):>10.1f}"
                )
    return "\n".join(lines)


def wire_to_wire(
    windows: list[tuple[str, int, int]], stamps: list[tuple[str, int]]
) -> dict[str, list[int]]:
    """Per measure, from the price push handed to the worker's socket to the first bytes
    of the worker's order arriving at the simulator: the worker's whole share (two
    loopback hops, its parsing, decision, note and signed request), without the
    simulator's own work on either side (building the push; parsing, authenticating and
    matching the order)."""
    pushed = sorted(at for step, at in stamps if step == "sim_pushed")
    arrived = sorted(at for step, at in stamps if step == "sim_bytes_in")
    spans: dict[str, list[int]] = {}
    for name, start, end in windows:
        push = _first_at_or_after(pushed, start)
        request = None if push is None else _first_at_or_after(arrived, push)
        if push is None or request is None or request > end:
            continue
        spans.setdefault(f"{name} (wire)", []).append(request - push)
    return spans


def _first_at_or_after(sorted_times: list[int], floor: int) -> int | None:
    index = bisect.bisect_left(sorted_times, floor)
    return sorted_times[index] if index < len(sorted_times) else None


@dataclass
class CallbackInbox:
    """The trading app's callback endpoint: wakes whoever waits for (order, status)."""

    port: int = field(default_factory=free_port)
    waiting: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def expect(self, order_id: str, status: str) -> asyncio.Event:
        event = asyncio.Event()
        self.waiting[(order_id, status)] = event
        return event

    async def _handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        key = (str(body.get("order_id") or body.get("position_id")), str(body.get("status")))
        event = self.waiting.pop(key, None)
        if event is not None:
            event.set()
        return web.json_response({"status": "ok"})


def start_worker(
    sim: SimServer, inbox: CallbackInbox, var_dir: Path, port: int, probe_out: Path | None
) -> subprocess.Popen[bytes]:
    config = var_dir / "orders.yaml"
    config.write_text("orders: {}\n", encoding="utf-8")
    env = {
        **os.environ,
        "BITMART_API_KEY": sim.config.api_key,
        "BITMART_API_SECRET": sim.config.api_secret,
        "BITMART_API_MEMO": sim.config.api_memo,
        "BITMART_REST_URL": sim.base_url,
        "BITMART_WS_PUBLIC_URL": sim.ws_public_url,
        "BITMART_WS_PRIVATE_URL": sim.ws_private_url,
        "APP_BASE_URL": f"http://127.0.0.1:{inbox.port}",
    }
    command = [sys.executable, "-m", "zoneguard.cli", "worker", "--port", str(port)]
    if probe_out is not None:
        env["ZONEGUARD_PROBE_OUT"] = str(probe_out)
        command[1:4] = [str(Path(__file__).with_name("probe_worker.py")), "worker"]
    command += ["--var-dir", str(var_dir), "--config", str(config)]
    log = open(var_dir / "worker-stderr.txt", "ab")  # noqa: SIM115 (the child keeps it)
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


async def wait_ready(
    session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited with {proc.returncode}")
        try:
            async with session.get(url + "/health") as reply:
                if reply.status == 200 and (await reply.json())["ready"]:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise SystemExit("the worker did not become ready")


async def waited(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), WAIT_S)
    except TimeoutError:
        raise SystemExit(f"timed out waiting for {what}") from None


@dataclass
class Cycle:
    sim: SimServer
    arrivals: Arrivals
    inbox: CallbackInbox
    session: aiohttp.ClientSession
    worker_url: str
    idle_s: float = 0.0
    """Pause before each timed price (``--idle-ms``)."""
    windows: list[tuple[str, int, int]] = field(default_factory=list)
    """(measure, start ns, end ns) of every timed span, for ``--breakdown``."""

    async def run(self, number: int) -> tuple[int, int]:
        """One order from zone to stop; returns (zone->entry, stop->close) in ns."""
        order_id = f"bench-{number}"
        payload = {
            "id": order_id,
            "symbol": SYMBOL,
            "side": "long",
            "entry_zone_min": 65000,
            "entry_zone_max": 65500,
            "quantity": 0.01,
            "leverage": 10,
            "stop_loss": 64000,
            "take_profit": 68000,
            "timeout_seconds": 300,
        }
        async with self.session.post(self.worker_url + "/api/place-order", json=payload) as r:
            if r.status != 200:
                raise SystemExit(f"place-order refused: {r.status} {await r.text()}")
        entry_seen = self.arrivals.expect("entry")
        filled = self.inbox.expect(order_id, "filled")
        closed = self.inbox.expect(order_id, "closed")
        if self.idle_s:
            await asyncio.sleep(self.idle_s)
        entry_start = time.perf_counter_ns()
        await self.sim.set_price(SYMBOL, IN_ZONE)
        await waited(entry_seen, f"the entry of {order_id}")
        entry_ns = self.arrivals.at_ns["entry"] - entry_start
        self.windows.append(("zone -> entry", entry_start, self.arrivals.at_ns["entry"]))
        await self.sim.set_price(SYMBOL, TRADES_THROUGH)
        await waited(filled, f"the fill of {order_id}")
        close_seen = self.arrivals.expect("close")
        if self.idle_s:
            await asyncio.sleep(self.idle_s)
        close_start = time.perf_counter_ns()
        await self.sim.set_price(SYMBOL, UNDER_STOP)
        await waited(close_seen, f"the close of {order_id}")
        close_ns = self.arrivals.at_ns["close"] - close_start
        self.windows.append(("stop -> close", close_start, self.arrivals.at_ns["close"]))
        await waited(closed, f"the closed callback of {order_id}")
        await self.sim.set_price(SYMBOL, OUTSIDE)
        return entry_ns, close_ns


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def table(rows: dict[str, list[int]]) -> str:
    header = f"{'measure':<24}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    lines = [header, "-" * len(header)]
    for name, values in rows.items():
        ms = sorted(v / 1e6 for v in values)
        lines.append(
            f"{name:<24}{len(ms):>6}{statistics.median(ms):>10.3f}"
            f"{percentile(ms, 0.90):>10.3f}{percentile(ms, 0.99):>10.3f}{ms[-1]:>10.3f}"
        )
    return "\n".join(lines)


async def bench(
    triggers: int, progress: Callable[[int], None], *, probe: bool = False, idle_s: float = 0.0
) -> tuple[dict[str, list[int]], str | None]:
    """Timed spans by measure, and the ``--breakdown`` table when ``probe``."""
    config = SimConfig(
        port=0,
        prices={SYMBOL: OUTSIDE},
        rate_limits=False,
        usdt_balance=Decimal(10_000_000),
    )
    var_dir = Path(tempfile.mkdtemp(prefix="zoneguard-bench-"))
    arrivals = Arrivals()
    inbox = CallbackInbox()
    sim = SimServer(config)
    await sim.start()
    hook_submissions(sim, arrivals)
    sim_probe = SimProbe()  # its stamps are the wire-to-wire measure (a list append each)
    sim_probe.install()
    probe_out = var_dir / "probe.json" if probe else None
    await inbox.start()
    port = free_port()
    proc = start_worker(sim, inbox, var_dir, port, probe_out)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, list[int]] = {"zone -> entry": [], "stop -> close": []}
    windows: list[tuple[str, int, int]] = []
    table_text: str | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, proc)
            cycle = Cycle(sim, arrivals, inbox, session, url, idle_s)
            for number in range(WARM_UP + triggers):
                entry_ns, close_ns = await cycle.run(number)
                if number >= WARM_UP:
                    results["zone -> entry"].append(entry_ns)
                    results["stop -> close"].append(close_ns)
                    progress(number - WARM_UP + 1)
            windows = cycle.windows[2 * WARM_UP :]
            results.update(wire_to_wire(windows, sim_probe.stamps))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        await inbox.stop()
        await sim.stop()
        if probe_out is not None:
            if probe_out.exists():
                worker_stamps = [(step, at) for step, at in orjson.loads(probe_out.read_bytes())]
                table_text = breakdown(windows, sim_probe.stamps + worker_stamps)
            else:
                stderr = (var_dir / "worker-stderr.txt").read_text(errors="replace")
                table_text = "no probe file from the worker; its stderr ends:\n" + stderr[-2000:]
        if os.environ.get("KEEP_BENCH_DIR"):  # the worker's log and journal, to look at
            print(f"kept {var_dir}", file=sys.stderr)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    return results, table_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triggers", type=int, default=1000, help="timed cycles (>= 1)")
    parser.add_argument(
        "--breakdown", action="store_true", help="stamp each step (worker run via a probe)"
    )
    parser.add_argument(
        "--idle-ms",
        type=float,
        default=0.0,
        help="pause before each timed price (the processes go idle, as between real ticks)",
    )
    args = parser.parse_args()
    if args.triggers < 1:
        parser.error("--triggers must be at least 1")
    if args.idle_ms < 0:
        parser.error("--idle-ms must be >= 0")

    def progress(done: int) -> None:
        if done % 250 == 0 and done < args.triggers:
            print(f"{done}/{args.triggers} cycles", file=sys.stderr, flush=True)

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results, steps = run(
        bench(args.triggers, progress, probe=args.breakdown, idle_s=args.idle_ms / 1000)
    )
    print(
        f"tick -> order at the simulator, loopback, worker as a separate process "
        f"({args.triggers} triggers each, {time.monotonic() - started:.0f} s; 1-min load "
        f"{load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(table(results))
    if args.breakdown:
        print(steps)


if __name__ == "__main__":
    main()
