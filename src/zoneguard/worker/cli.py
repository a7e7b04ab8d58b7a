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
        config: Path | None = typer.Option(
            None,
            help=f"orders.yaml [default: {DEFAULT_CONFIG} in the working directory; "
            "built-in defaults if that is absent]",
            show_default=False,
        ),
        var_dir: Path = typer.Option(Path("var"), help="journal and logs (var/log/app.log)"),
        live: bool = typer.Option(False, help="allow a real BitMart host (real money)"),
    ) -> None:
        """The WS-Worker: entry zones, SL/TP guard and callbacks, on BitMart or `zoneguard sim`."""
        config_path = _config_path(config)
        from zoneguard.eventloop import run
        from zoneguard.worker.config import ConfigError
        from zoneguard.worker.journal import JournalLocked
        from zoneguard.worker.runner import serve

        try:
            run(serve(host, port, config_path, var_dir, live=live))
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from None
        except JournalLocked as exc:
            # A second worker on one journal would place every order twice: refuse, in one
            # line, so a supervisor restarting too early sees why (and retries).
            raise typer.BadParameter(
                f"{exc}: is another worker still running?", param_hint="--var-dir"
            ) from None


def _config_path(given: Path | None) -> Path | None:
    """The file to load: the one named (which must exist: a typo must not trade on the
    defaults), else ``config/orders.yaml`` if present, else None (built-in defaults)."""
    if given is None:
        return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
    if not given.exists():
        raise typer.BadParameter(f"{given} does not exist", param_hint="--config")
    if not given.is_file():
        raise typer.BadParameter(f"{given} is not a file", param_hint="--config")
    return given
