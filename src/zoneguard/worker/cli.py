"""`zoneguard worker`: the command line of the WS-Worker (kept light: the service is imported
only when the command runs, so `zoneguard --help` and the other commands start fast)."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_CONFIG = Path("config/orders.yaml")


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        host: str = typer.Option("127.0.0.1", help="control API address"),
        port: int = typer.Option(8089, min=1, max=65535, help="control API port"),
        config: Path = typer.Option(
            DEFAULT_CONFIG, help="orders.yaml (built-in defaults if absent)"
        ),
        var_dir: Path = typer.Option(Path("var"), help="journal and logs (var/log/app.log)"),
        live: bool = typer.Option(False, help="allow a real BitMart host (real money)"),
    ) -> None:
        """The WS-Worker: entry zones, SL/TP guard and callbacks, on BitMart or `zoneguard sim`."""
        if not config.exists() and config != DEFAULT_CONFIG:
            raise typer.BadParameter(f"{config} does not exist", param_hint="--config")
        from zoneguard.eventloop import run
        from zoneguard.worker.config import ConfigError
        from zoneguard.worker.journal import JournalLocked
        from zoneguard.worker.runner import serve

        try:
            run(serve(host, port, config if config.exists() else None, var_dir, live=live))
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from None
        except JournalLocked as exc:
            # A second worker on one journal would place every order twice: refuse, in one
            # line, so a supervisor restarting too early sees why (and retries).
            raise typer.BadParameter(
                f"{exc}: is another worker still running?", param_hint="--var-dir"
            ) from None
