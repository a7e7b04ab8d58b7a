"""`zoneguard demo`: the whole system on loopback, carrying real-price signals to TP and SL.

Three real processes on embedded defaults: `zoneguard sim` (the BitMart-protocol exchange),
`zoneguard worker` (the WS-Worker, talking to the sim over REST and both websockets) and
`zoneguard app` (the Trading-App: SQLite, database-backed bus, dashboard). Signals enter through
the app's API and travel app -> bus -> worker -> sim -> worker -> callback -> app; the sim's price
walks real BTCUSDT minutes of 2024-08-05 (``data/``), fed through its control API; the app's
live event stream shows the progress. Exit 0 when every signal reached the expected outcome.

The demo takes the secure path: a random API token (the app's and the worker's bearer) and
a random callback secret (the worker signs, the app checks) for each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
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
    take_profit: str | None
    first_minute: int
    minutes: int
    quantity: str = "0.01"
    leverage: int = 10
    symbol: str = "BTCUSDT"
    take_profits: tuple[tuple[str, str], ...] = ()
    """A ladder of (price, size_percent) instead of ``take_profit``."""
    break_even_after: int | None = None
    zones: tuple[tuple[str, str, str], ...] = ()
    """Several entry zones (min, max, size_percent) instead of ``zone`` (pyramiding)."""

    def signal(self, order_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
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
        if self.take_profits:
            body["take_profits"] = [
                {"price": price, "size_percent": percent} for price, percent in self.take_profits
            ]
        if self.zones:
            del body["entry_zone_min"], body["entry_zone_max"]
            body["entry_zones"] = [
                {"min": low, "max": high, "size_percent": percent}
                for low, high, percent in self.zones
            ]
        if self.break_even_after is not None:
            body["break_even"] = {
                "after_take_profit": self.break_even_after,
                "offset_percent": "0.05",
            }
        return body

    @property
    def entry(self) -> str:
        if not self.zones:
            return f"zone [{self.zone[0]}, {self.zone[1]}]"
        return "zones " + ", ".join(f"[{lo}, {hi}] ({pct} %)" for lo, hi, pct in self.zones)

    @property
    def targets(self) -> str:
        if not self.take_profits:
            return f"TP {self.take_profit}"
        rungs = [f"TP{i} {p} ({pct} %)" for i, (p, pct) in enumerate(self.take_profits, 1)]
        if self.break_even_after is not None:
            rungs.append(f"break-even after TP{self.break_even_after}")
        return ", ".join(rungs)


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
    Scenario(
        "long ladder, 07:00 climb",
        "take_profit",
        "long",
        ("51400", "51500"),
        "50900",
        None,
        first_minute=420,
        minutes=45,
        take_profits=(("52000", "50"), ("52500", "50")),
        break_even_after=1,
    ),
    Scenario(
        "long pyramid, 12:45 dip",
        "take_profit",
        "long",
        ("49600", "50300"),
        "49000",
        "51500",
        first_minute=765,
        minutes=55,
        zones=(("50100", "50300", "50"), ("49600", "49800", "50")),
    ),
)


@dataclass
class Outcome:
    scenario: Scenario
    order_id: str
    statuses: list[str] = field(default_factory=list)
    entry_price: str | None = None
    close_price: str | None = None
    reason: str | None = None
    closed_by: str | None = None
    pnl: float | None = None
    latencies_ms: dict[str, float] = field(default_factory=dict)
    done: bool = False

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


class AppWatcher:
    """Follows the app's live event stream (``GET /api/events``, SSE) and prints progress."""

    def __init__(self, console: Console, app_url: str, auth: dict[str, str]) -> None:
        self.console = console
        self.app_url = app_url
        self.auth = auth
        self.outcomes: dict[str, Outcome] = {}
        self._last_status: dict[str, str] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._notes_seen: set[str] = set()
        self._note_tasks: set[asyncio.Task[None]] = set()

    async def start(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        connected = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._listen(session, connected))
        await asyncio.wait_for(connected.wait(), 10)

    async def stop(self) -> None:
        for task in list(self._note_tasks):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self, session: aiohttp.ClientSession, connected: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        url = f"{self.app_url}/api/events"
        async with session.get(url, timeout=timeout, headers=self.auth) as reply:
            reply.raise_for_status()
            event = ""
            async for raw in reply.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "hello":
                        connected.set()
                    else:
                        self._apply(event, orjson.loads(line[5:]))

    def _apply(self, event: str, row: dict[str, Any]) -> None:
        order_id = str(row.get("order_id") if event == "position" else row.get("id"))
        outcome = self.outcomes.get(order_id)
        if outcome is None:
            return
        status = str(row.get("status"))
        key = f"{event}:{order_id}"
        if self._last_status.get(key) == status:
            if event == "order" and (outcome.scenario.take_profits or outcome.scenario.zones):
                self._spawn_notes(order_id)  # a partial close or a stop move: no new status
            return
        self._last_status[key] = status
        say = self.console.print
        if event == "order":
            outcome.statuses.append(status)
            if status == "submitted":
                say("  [dim]submitted[/]  the bus delivered it; the worker waits for the zone")
            elif status == "placed":
                say(
                    f"  [cyan]placed[/]     post-only entry on the exchange "
                    f"(order {row.get('exchange_order_id')})"
                )
            elif status == "filled":
                say(
                    f"  [green]filled[/]     {row.get('filled_contracts')} contracts @ "
                    f"{row.get('entry_price')}: the worker guards SL {row.get('stop_loss')} / "
                    f"TP {_targets_of(row)}"
                )
            elif status not in ("queued", "closed"):
                say(f"  [yellow]{status}[/]  {row.get('error') or row.get('reason') or ''}")
        elif status == "closed":
            outcome.entry_price = row.get("entry_price")
            outcome.close_price = row.get("exit_price")
            outcome.reason = row.get("close_reason")
            pnl = row.get("realized_pnl")
            outcome.pnl = None if pnl is None else float(pnl)
            shown = "" if outcome.pnl is None else f", realised PnL {outcome.pnl:+.2f} USDT"
            say(f"  [bold green]closed[/]     {outcome.reason} @ {outcome.close_price}{shown}")
            outcome.done = True
        self._changed.set()

    def _spawn_notes(self, order_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._print_notes(order_id))
        self._note_tasks.add(task)
        task.add_done_callback(self._note_tasks.discard)

    async def _print_notes(self, order_id: str) -> None:
        """Show the order's partial closes and stop moves (kept in its history)."""
        assert self._session is not None
        url = f"{self.app_url}/api/orders/{order_id}"
        async with self._session.get(url, headers=self.auth) as reply:
            detail = await reply.json()
        for step in detail.get("transitions", []):
            data = step.get("data") or {}
            zone_note = (
                step["event"] in ("placed", "filled")
                and data.get("entry_index") is not None
                and step.get("from_status") == step.get("to_status")
            )
            if step["event"] not in ("partially_closed", "stop_moved") and not zone_note:
                continue
            if step["event_id"] in self._notes_seen:
                continue
            self._notes_seen.add(step["event_id"])
            if zone_note and step["event"] == "placed":
                self.console.print(
                    f"  [cyan]zone {data.get('entry_index')}[/]     entered: its own post-only "
                    f"entry of {data.get('contracts')} contracts @ {data.get('entry_price')}"
                )
            elif zone_note:
                self.console.print(
                    f"  [green]zone {data.get('entry_index')} filled[/] "
                    f"{data.get('zone_filled_contracts')} @ {data.get('zone_entry_price')}: "
                    f"the position holds {data.get('filled_contracts')} @ "
                    f"{data.get('entry_price')} (average), guarded as one"
                )
            elif step["event"] == "partially_closed":
                self.console.print(
                    f"  [green]TP{data.get('take_profit_index')} hit[/]    closed "
                    f"{data.get('closed_quantity')} contracts @ {data.get('close_price')}; "
                    f"{data.get('remaining_quantity')} left"
                )
            else:
                self.console.print(
                    f"  [cyan]stop moved[/] to {data.get('stop_loss')} ({data.get('reason')})"
                )

    async def wait_closed(self, order_id: str, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while not self.outcomes[order_id].done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True


def _targets_of(row: dict[str, Any]) -> str:
    rungs = row.get("take_profits") or []
    return " / ".join(str(r["price"]) for r in rungs) if rungs else str(row.get("take_profit"))


@dataclass(frozen=True)
class System:
    sim_url: str
    worker_url: str
    app_url: str
    watcher: AppWatcher
    session: aiohttp.ClientSession
    token: str
    """ZONEGUARD_API_TOKEN of this run: the app's and the worker's APIs and the dashboard."""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.asynccontextmanager
async def running_system(
    console: Console, var_dir: Path, first_price: Decimal
) -> AsyncIterator[System]:
    """Start sim, worker and app as child processes; stop them in reverse order."""
    sim_port, worker_port, app_port = free_port(8090), free_port(8089), free_port(8080)
    sim_url = f"http://127.0.0.1:{sim_port}"
    worker_url = f"http://127.0.0.1:{worker_port}"
    app_url = f"http://127.0.0.1:{app_port}"
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "BITMART_API_KEY": SIM_CREDENTIALS["key"],
        "BITMART_API_SECRET": SIM_CREDENTIALS["secret"],
        "BITMART_API_MEMO": SIM_CREDENTIALS["memo"],
        "BITMART_REST_URL": sim_url,
        "BITMART_WS_PUBLIC_URL": f"ws://127.0.0.1:{sim_port}/api?protocol=1.1",
        "BITMART_WS_PRIVATE_URL": f"ws://127.0.0.1:{sim_port}/user?protocol=1.1",
        "APP_BASE_URL": app_url,
        "WS_WORKER_BASE_URL": worker_url,
        "DATABASE_URL": f"sqlite:///{(var_dir / 'app' / 'app.db').resolve()}",
        "ZONEGUARD_VAR_DIR": str(var_dir / "app"),
        "ZONEGUARD_API_TOKEN": token,
        "ZONEGUARD_CALLBACK_SECRET": secrets.token_urlsafe(32),
    }
    (var_dir / "app").mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    session = aiohttp.ClientSession()
    watcher = AppWatcher(console, app_url, {"Authorization": f"Bearer {token}"})
    try:
        price = f"BTCUSDT={first_price}"
        sim = Child("sim", ["sim", "--port", str(sim_port), "--price", price], env, var_dir)
        children.append(sim)
        await sim.wait_http(session, f"{sim_url}/_sim/health", 20)
        console.print(
            f"[bold]sim[/]     BitMart protocol on {sim_url} (REST, /api and /user websockets)"
        )
        worker_args = ["worker", "--port", str(worker_port), "--var-dir", str(var_dir / "worker")]
        worker = Child("worker", worker_args, env, var_dir)
        children.append(worker)
        await worker.wait_http(session, f"{worker_url}/health", 30)
        console.print(f"[bold]worker[/]  control API on {worker_url} (OpenAPI: {worker_url}/docs)")
        app = Child("app", ["app", "--port", str(app_port)], env, var_dir)
        children.append(app)
        await app.wait_http(session, f"{app_url}/health", 30)
        console.print(f"[bold]app[/]     {app_url} (SQLite, database bus); dashboard: {app_url}/")
        await watcher.start(session)
        yield System(sim_url, worker_url, app_url, watcher, session, token)
    finally:
        await watcher.stop()
        await session.close()
        for child in reversed(children):
            child.stop()


async def play(
    scenario: Scenario, bars: Sequence[KlineRow], system: System, step_s: float, console: Console
) -> Outcome:
    console.rule(f"{scenario.name}: {scenario.side} {scenario.symbol}, expect {scenario.expected}")
    session = system.session
    window = bars[scenario.first_minute : scenario.first_minute + scenario.minutes]
    path = [point.price for point in KlinePricePath(list(window))]
    await _set_price(session, system.sim_url, scenario.symbol, path[0])
    signal = {k: v for k, v in scenario.signal("").items() if k != "id"}
    async with session.post(
        f"{system.app_url}/api/signals", json=signal, headers=system.auth
    ) as reply:
        answer = await reply.json()
        if reply.status != 201:
            raise RuntimeError(f"the app refused the signal: {answer}")
    order_id = str(answer["id"])
    outcome = system.watcher.outcomes[order_id] = Outcome(scenario, order_id)
    console.print(
        f"  signal     {order_id}: {scenario.entry}, "
        f"SL {scenario.stop_loss}, {scenario.targets}; "
        f"{scenario.minutes} real minutes ({len(path)} prices)"
    )
    await _wait_submitted(system, order_id)
    for price in path[1:]:
        if outcome.done:
            break
        await _set_price(session, system.sim_url, scenario.symbol, price)
        await asyncio.sleep(step_s)
    if not await system.watcher.wait_closed(order_id, 15):
        console.print(f"  [red]not closed[/]: {outcome.statuses}")
    url = f"{system.worker_url}/api/orders/{order_id}"
    async with session.get(url, headers=system.auth) as reply:
        facts = (await reply.json())["facts"]
    extra = facts.get("extra", {})
    outcome.latencies_ms = {k: v / 1000 for k, v in extra.items() if k.endswith("_us")}
    outcome.closed_by = "exchange" if extra.get("exchange_close") else "worker"
    return outcome


async def _wait_submitted(system: System, order_id: str) -> None:
    """The worker has the order (the bus delivered it) before the prices start moving."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        url = f"{system.worker_url}/api/orders/{order_id}"
        async with system.session.get(url, headers=system.auth) as reply:
            if reply.status == 200:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the worker never received {order_id}")


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
    async with running_system(console, var_dir, first) as system:
        outcomes = [await play(sc, bars, system, step_ms / 1000, console) for sc in SCENARIOS]
        summary(outcomes, console)
        console.print(
            f"dashboard: {system.app_url}/   logs: {var_dir}/ "
            f"(worker {var_dir}/worker/log/app.log, app {var_dir}/app/log/orders.log)"
        )
        if keep:
            console.print(
                f"token (ZONEGUARD_API_TOKEN) for the dashboard and the APIs: {system.token}"
            )
            console.print("[bold]--keep[/]: sim, worker and app keep running; Ctrl-C to stop")
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
        """Sim + worker + app on loopback: real-price signals from zone entry to TP and SL."""
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
