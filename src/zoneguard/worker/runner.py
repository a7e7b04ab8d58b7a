"""Runs the WS-Worker process: settings, logging, the service and its control API."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from zoneguard.envfile import environment_with_env_file
from zoneguard.exchange.registry import VenueConfigError, venue_from_env
from zoneguard.web.addresses import is_loopback
from zoneguard.worker.config import (
    DEFAULT_ORDERS_CONFIG_PATH,
    ConfigError,
    load_orders_config,
    load_worker_settings,
)
from zoneguard.worker.http import create_app
from zoneguard.worker.logs import register_secrets, setup_worker_logging
from zoneguard.worker.service import WorkerService

log = logging.getLogger("zoneguard.worker")


async def serve(
    host: str, port: int, config_path: Path | None, var_dir: Path, *, live: bool
) -> None:
    settings = load_worker_settings()
    config = load_orders_config(config_path)
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without ZONEGUARD_API_TOKEN (anyone could trade)"
        )
    # Read after load_worker_settings, which has checked the .env file line by line.
    try:
        venue = venue_from_env(environment_with_env_file(), live=live)
    except VenueConfigError as exc:
        raise ConfigError(str(exc)) from exc
    setup_worker_logging(var_dir)
    register_secrets([*venue.secrets, *settings.secret_values()])
    worker = WorkerService(venue.exchange, config, settings, var_dir, freeze_heap=True)
    _log_config_source(config_path)  # once the journal is ours: a refused start says one line
    try:
        await worker.start()
        app = create_app(worker, token)
        server = _ControlServer(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        )
        log.info("worker control API on http://%s:%d", host, port)
        print(f"zoneguard worker listening on http://{host}:{port}", flush=True)
        await server.serve()
    finally:
        await worker.stop()


def _log_config_source(config_path: Path | None) -> None:
    """Say which trading configuration runs: a worker started away from ``config/`` would
    otherwise trade on the built-in defaults without a word."""
    if config_path is None:
        log.warning(
            "no config file: %s not found in %s; the built-in defaults apply",
            DEFAULT_ORDERS_CONFIG_PATH,
            Path.cwd(),
        )
    else:
        log.info("config loaded from %s", config_path.resolve())


class _ControlServer(uvicorn.Server):
    """uvicorn, minus one habit: after a SIGTERM/SIGINT it re-raises the signal the moment it
    stops serving, which ends the process before the worker can stop (callbacks in flight get
    their grace period, sockets close politely, the journal closes). Here the signal only
    stops serving; the worker's own shutdown then runs and the process exits normally."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
