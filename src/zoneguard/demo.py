"""`zoneguard demo`: the whole system on loopback, carrying real-price signals to TP and SL.

Three real processes are started: `zoneguard sim` (the BitMart-protocol exchange), `zoneguard
worker` (the WS-Worker, talking to the sim over REST and both websockets) and a callback
receiver standing in for the trading app. Signals go to the worker's control API; the sim's
price walks real BTCUSDT minutes of 2024-08-05 (``data/``), fed through its control API; the
worker's callbacks show the progress. Exit 0 when every signal reached the expected outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import typer
from aiohttp import web

from zoneguard.sim.replay import KlinePricePath, KlineRow, load_klines

if TYPE_CHECKING:
    from rich.console import Console

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEFAULT_DATA = DATA_DIR / "BTCUSDT_1m_2024-08-05.csv.gz"
SIM_CREDENTIALS = {"key": "demo-key", "secret": "demo-secret", "memo": "demo-memo"}


@dataclass(frozen=True)
class Scenario:
    """A signal and the slice of real prices it is played on (minutes from the file's start)."""

    name: str
    expected: str  # the close reason we expect
    side: str
    zone: tuple[str, str]
    stop_loss: str
    take_profit: str
    first_minute: int
    minutes: int
    quantity: str = "0.01"
    leverage: int = 10
    symbol: str = "BTCUSDT"

    def signal(self, order_id: str) -> dict[str, Any]:
        return {
            "id": order_id,
            "symbol": self.symbol,
            "side": self.side,
            "entry_zone_min": self.zone[0],
            "entry_zone_max": self.zone[1],
            "quantity": self.quantity,
            "leverage": self.leverage,
            "stop_loss": self.stop_loss,
            "take_profit": self.take_profit,
            "timeout_seconds": 120,
            "metadata": {"strategy": "demo", "scenario": self.name},
        }


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "long, 13:00 rebound",
        "take_profit",
        "long",
        ("49700", "49900"),
        "49200",
        "51500",
        first_minute=780,
        minutes=90,
    ),
    Scenario(
        "long, 00:20 sell-off",
        "stop_loss",
        "long",
        ("57000", "57200"),
        "56300",
        "58500",
        first_minute=20,
        minutes=70,
    ),
    Scenario(
        "short, 05:30 crash",
        "take_profit",
        "short",
        ("52800", "53000"),
        "53700",
        "50500",
        first_minute=330,
        minutes=90,
    ),
)


@dataclass
class Outcome:
    scenario: Scenario
    order_id: str
    statuses: list[str] = field(default_factory=list)
    entry_price: float | None = None
    close_price: float | None = None
    reason: str | None = None
    closed_by: str | None = None
    pnl: float | None = None
    latencies_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason == self.scenario.expected


def free_port(preferred: int) -> int:
    """``preferred`` when it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise RuntimeError("no free port")


class Child:
    """A `zoneguard` sub-command as a child process, its output in ``var/demo/<name>.log``."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zoneguard.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_http(self, session: aiohttp.ClientSession, url: str, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{tail}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as reply:
                    if reply.status == 200:
                        body = await reply.json(content_type=None)
                        if body.get("ready", True):
                            return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url} within {within_s:.0f}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class CallbackDesk:
    """Receives the worker's callbacks (the trading app's endpoint) and prints the progress."""

    def __init__(self, console: Console, port: int) -> None:
        self.console = console
        self.port = port
        self.outcomes: dict[str, Outcome] = {}
        self.seen: set[str] = set()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/orders/callback", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        event_id = str(body.get("event_id"))
        if event_id not in self.seen:  # at-least-once delivery: dedupe by event_id
            self.seen.add(event_id)
            self._apply(body)
        return web.json_response({"status": "ok"})

    def _apply(self, body: dict[str, Any]) -> None:
        order_id = str(body.get("order_id") or body.get("position_id"))
        outcome = self.outcomes.get(order_id)
        if outcome is None:
            return
        status = str(body["status"])
        outcome.statuses.append(status)
        say = self.console.print
        if status == "placed":
            say(
                f"  [cyan]placed[/]   post-only entry @ {body['entry_price']} "
                f"(exchange order {body['exchange_order_id']})"
            )
        elif status == "filled":
            outcome.entry_price = body.get("entry_price")
            say(
                f"  [green]filled[/]   {body['filled_contracts']:g} contracts @ "
                f"{body['entry_price']}: guarding SL {body['stop_loss']} / TP {body['take_profit']}"
            )
        elif status == "closed":
            outcome.close_price = body.get("close_price")
            outcome.reason = body.get("reason")
            outcome.closed_by = body.get("closed_by")
            outcome.pnl = body.get("realized_pnl")
            pnl = "" if outcome.pnl is None else f", PnL {outcome.pnl:+.2f} USDT"
            say(
                f"  [bold green]closed[/]   {outcome.reason} @ {outcome.close_price} "
                f"by {outcome.closed_by}{pnl}"
            )
        else:
            say(f"  [yellow]{status}[/]  {body.get('error') or body.get('reason') or ''}")
        self._changed.set()

    async def wait_closed(self, order_id: str, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while "closed" not in self.outcomes[order_id].statuses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True


@contextlib.asynccontextmanager
async def running_system(
    console: Console, var_dir: Path, first_price: Decimal
) -> AsyncIterator[tuple[str, str, CallbackDesk, aiohttp.ClientSession]]:
    """Start sim + worker + callback desk; yield (sim URL, worker URL, desk, session)."""
    sim_port, worker_port = free_port(8090), free_port(8089)
    desk = CallbackDesk(console, free_port(8080))
    sim_url, worker_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{worker_port}"
    env = {
        **os.environ,
        "BITMART_API_KEY": SIM_CREDENTIALS["key"],
        "BITMART_API_SECRET": SIM_CREDENTIALS["secret"],
        "BITMART_API_MEMO": SIM_CREDENTIALS["memo"],
        "BITMART_REST_URL": sim_url,
        "BITMART_WS_PUBLIC_URL": f"ws://127.0.0.1:{sim_port}/api?protocol=1.1",
        "BITMART_WS_PRIVATE_URL": f"ws://127.0.0.1:{sim_port}/user?protocol=1.1",
        "APP_BASE_URL": desk.base_url,
    }
    children: list[Child] = []
    session = aiohttp.ClientSession()
    try:
        await desk.start()
        sim = Child(
            "sim",
            ["sim", "--port", str(sim_port), "--price", f"BTCUSDT={first_price}"],
            env,
            var_dir,
        )
        children.append(sim)
        await sim.wait_http(session, f"{sim_url}/_sim/health", 20)
        console.print(
            f"[bold]sim[/]     BitMart protocol on {sim_url} (REST + /api + /user websockets)"
        )
        worker = Child(
            "worker",
            ["worker", "--port", str(worker_port), "--var-dir", str(var_dir / "worker")],
            env,
            var_dir,
        )
        children.append(worker)
        await worker.wait_http(session, f"{worker_url}/health", 30)
        console.print(f"[bold]worker[/]  control API on {worker_url} (docs: {worker_url}/docs)")
        console.print(f"[bold]app[/]     callbacks received on {desk.base_url}/api/orders/callback")
        yield sim_url, worker_url, desk, session
    finally:
        await session.close()
        for child in reversed(children):
            child.stop()
        await desk.stop()


async def play(
    scenario: Scenario,
    bars: Sequence[KlineRow],
    sim_url: str,
    worker_url: str,
    desk: CallbackDesk,
    session: aiohttp.ClientSession,
    step_s: float,
    console: Console,
) -> Outcome:
    console.rule(f"{scenario.name}: {scenario.side} {scenario.symbol}, expect {scenario.expected}")
    order_id = f"demo-{scenario.first_minute}-{int(time.time())}"
    outcome = desk.outcomes[order_id] = Outcome(scenario, order_id)
    window = bars[scenario.first_minute : scenario.first_minute + scenario.minutes]
    path = [point.price for point in KlinePricePath(list(window))]
    await _set_price(session, sim_url, scenario.symbol, path[0])
    async with session.post(f"{worker_url}/api/place-order", json=scenario.signal(order_id)) as r:
        answer = await r.json()
        if r.status != 200:
            raise RuntimeError(f"worker refused the signal: {answer}")
    console.print(
        f"  signal   zone [{scenario.zone[0]}, {scenario.zone[1]}], SL {scenario.stop_loss}, "
        f"TP {scenario.take_profit}; replaying {scenario.minutes} real minutes ({len(path)} prices)"
    )
    for price in path[1:]:
        if "closed" in outcome.statuses:
            break
        await _set_price(session, sim_url, scenario.symbol, price)
        await asyncio.sleep(step_s)
    if not await desk.wait_closed(order_id, 10):
        console.print(f"  [red]not closed[/]: {outcome.statuses}")
    async with session.get(f"{worker_url}/api/orders/{order_id}") as r:
        facts = (await r.json())["facts"].get("extra", {})
    outcome.latencies_ms = {k: v / 1000 for k, v in facts.items() if k.endswith("_us")}
    return outcome


async def _set_price(
    session: aiohttp.ClientSession, sim_url: str, symbol: str, price: Decimal
) -> None:
    async with session.post(
        f"{sim_url}/_sim/price", json={"symbol": symbol, "price": str(price)}
    ) as r:
        r.raise_for_status()


def summary(outcomes: Sequence[Outcome], console: Console) -> None:
    from rich.table import Table

    table = Table(title="summary")
    for column in (
        "signal",
        "outcome",
        "entry",
        "exit",
        "by",
        "PnL USDT",
        "tick->entry",
        "tick->close",
    ):
        table.add_column(
            column, justify="right" if column not in ("signal", "outcome", "by") else "left"
        )
    for out in outcomes:
        lat = out.latencies_ms
        table.add_row(
            out.scenario.name,
            ("[green]" if out.ok else "[red]")
            + (out.reason or (out.statuses[-1] if out.statuses else "none")),
            f"{out.entry_price}" if out.entry_price else "-",
            f"{out.close_price}" if out.close_price else "-",
            out.closed_by or "-",
            f"{out.pnl:+.2f}" if out.pnl is not None else "-",
            f"{lat['tick_to_entry_ack_us']:.2f} ms" if "tick_to_entry_ack_us" in lat else "-",
            f"{lat['tick_to_close_ack_us']:.2f} ms" if "tick_to_close_ack_us" in lat else "-",
        )
    console.print(table)


async def run_demo(data: Path, step_ms: float, keep: bool, console: Console) -> list[Outcome]:
    bars = load_klines(data)
    first = bars[SCENARIOS[0].first_minute].open
    var_dir = Path("var/demo")
    async with running_system(console, var_dir, first) as (sim_url, worker_url, desk, session):
        outcomes = [
            await play(sc, bars, sim_url, worker_url, desk, session, step_ms / 1000, console)
            for sc in SCENARIOS
        ]
        summary(outcomes, console)
        console.print(f"logs: {var_dir}/ (worker: {var_dir}/worker/log/app.log)")
        if keep:
            console.print("[bold]--keep[/]: everything keeps running; Ctrl-C to stop")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    return outcomes


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        data: Path = typer.Option(DEFAULT_DATA, help="kline CSV(.gz) of real prices to replay"),
        step_ms: float = typer.Option(4.0, min=0.0, help="pause between two replayed prices"),
        keep: bool = typer.Option(False, help="keep the system running after the signals"),
    ) -> None:
        """Sim + worker on loopback: real-price signals from zone entry to TP and SL."""
        if not data.is_file():
            raise typer.BadParameter(f"{data} is not a file", param_hint="--data")
        from rich.console import Console

        console = Console(highlight=False, width=max(110, shutil.get_terminal_size().columns))
        var_dir = Path("var/demo")
        if var_dir.exists():
            shutil.rmtree(var_dir)  # a fresh journal: the demo's order ids start over
        var_dir.mkdir(parents=True)
        try:
            outcomes = asyncio.run(run_demo(data, step_ms, keep, console))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        if not all(out.ok for out in outcomes):
            raise typer.Exit(1)
