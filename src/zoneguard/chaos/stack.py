"""One slot's processes: a simulator, a worker on its journal, the harness's callback
receiver and, when lifecycles go through it, the app. Lifecycles of a slot run one after
another on the same processes; slots run side by side, each with its own exchange, so one
lifecycle's kills and faults are its own (and a seed replays alone)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp

from zoneguard.chaos.clients import AppClient, SimClient, WorkerClient
from zoneguard.chaos.geometry import BASE_PRICE, SYMBOL
from zoneguard.chaos.processes import Child, child_env, free_port
from zoneguard.chaos.receiver import Receiver

SIM_KEYS = {
    "BITMART_API_KEY": "chaos-key",
    "BITMART_API_SECRET": "chaos-secret",
    "BITMART_API_MEMO": "chaos-memo",
}
WORKER_CONFIG = "orders:\n  entry_zone:\n    immediate_if_in_zone: true\n"
"""The built-in defaults, written out: each signal carries its own timeout."""


class SlotStack:
    def __init__(self, root: Path, with_app: bool) -> None:
        self.root = root
        self.with_app = with_app
        self.token = secrets.token_hex(16)
        self.callback_secret = secrets.token_hex(16)
        self.sim_port, self.worker_port, self.app_port = free_port(), free_port(), free_port()
        self.receiver = Receiver()
        self.session: aiohttp.ClientSession | None = None
        self.worker_kills = 0
        self.app_kills = 0
        self._worker_lock = asyncio.Lock()
        self._app_lock = asyncio.Lock()
        env = child_env(
            {
                **SIM_KEYS,
                "BITMART_REST_URL": self.sim_url,
                "BITMART_WS_PUBLIC_URL": f"ws://127.0.0.1:{self.sim_port}/api?protocol=1.1",
                "BITMART_WS_PRIVATE_URL": f"ws://127.0.0.1:{self.sim_port}/user?protocol=1.1",
                "APP_BASE_URL": self.receiver.base_url,
                "WS_WORKER_BASE_URL": self.worker_url,
                "ZONEGUARD_API_TOKEN": self.token,
                "ZONEGUARD_CALLBACK_SECRET": self.callback_secret,
            }
        )
        root.mkdir(parents=True, exist_ok=True)
        (root / "orders.yaml").write_text(WORKER_CONFIG, encoding="utf-8")
        self.sim_child = Child(
            "sim",
            ["sim", "--port", str(self.sim_port), "--price", f"{SYMBOL}={BASE_PRICE}"],
            env,
            root / "sim.log",
        )
        worker_args = ["worker", "--port", str(self.worker_port), "--var-dir", str(root / "worker")]
        worker_args += ["--config", str(root / "orders.yaml")]
        self.worker_child = Child("worker", worker_args, env, root / "worker.log")
        app_dir = root / "app"
        app_env = {
            **env,
            "DATABASE_URL": f"sqlite:///{(app_dir / 'app.db').resolve()}",
            "MESSENGER_TRANSPORT_DSN": "db://",
            "ZONEGUARD_VAR_DIR": str(app_dir),
            # A killed consumer's claim returns to the queue after this (default 120 s).
            "BUS_LEASE_S": "5",
            "BUS_POLL_INTERVAL_S": "0.2",
        }
        self.app_child = Child(
            "app", ["app", "--port", str(self.app_port)], app_env, root / "app.log"
        )

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def _session(self) -> aiohttp.ClientSession:
        assert self.session is not None, "start() first"
        return self.session

    @property
    def sim(self) -> SimClient:
        return SimClient(self._session(), self.sim_url)

    @property
    def worker(self) -> WorkerClient:
        return WorkerClient(self._session(), self.worker_url, self._bearer)

    @property
    def app(self) -> AppClient:
        return AppClient(self._session(), self.app_url, self._bearer)

    @property
    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        (self.root / "app").mkdir(exist_ok=True)
        await self.receiver.start()
        self.sim_child.start()
        await self.sim_child.wait_ready(self.session, self.sim_url + "/_sim/health")
        await self.start_worker()
        if self.with_app:
            self.receiver.forward_to = self.app_url
            await self.start_app()

    async def start_worker(self) -> None:
        self.worker_child.start()
        await self.worker_child.wait_ready(self._session(), self.worker_url + "/health")

    async def start_app(self) -> None:
        self.app_child.start()
        await self.app_child.wait_ready(self._session(), self.app_url + "/health")

    async def kill_worker(self, down_ms: int, again_ms: int | None) -> None:
        """SIGKILL the worker, start it again after ``down_ms`` (killing it once more
        ``again_ms`` into that start, when given); returns when it is ready."""
        async with self._worker_lock:
            self.worker_kills += self.worker_child.kill()
            await asyncio.sleep(down_ms / 1000)
            if again_ms is not None:
                self.worker_child.start()
                await asyncio.sleep(again_ms / 1000)
                self.worker_kills += self.worker_child.kill()
            await self.start_worker()

    async def kill_app(self, down_ms: int) -> None:
        async with self._app_lock:
            self.app_kills += self.app_child.kill()
            await asyncio.sleep(down_ms / 1000)
            await self.start_app()

    async def ensure_up(self) -> None:
        """Every process up (a restart that raised left one down)."""
        async with self._worker_lock:
            if not self.worker_child.alive:
                await self.start_worker()
        if self.with_app:
            async with self._app_lock:
                if not self.app_child.alive:
                    await self.start_app()

    async def close(self) -> None:
        for child in (self.app_child, self.worker_child, self.sim_child):
            child.stop()
        await self.receiver.stop()
        if self.session is not None:
            await self.session.close()
            self.session = None
