"""`zoneguard app` (serve, consume, migrate, failed) and `zoneguard signal`.

The lead wires :func:`register` into ``zoneguard.cli``. Bad arguments end in one line on
stderr: typer's usage errors (exit 2), or :func:`fail` with the app's answer (exit 1).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from enum import StrEnum
from typing import Any, NoReturn

import typer

from zoneguard.app.exit_options import break_even_fields, take_profit_fields, trailing_fields
from zoneguard.app.settings import AppSettings, SettingsError, load_settings
from zoneguard.app.zone_option import SignalCommand, zone_fields, zones_callback
from zoneguard.envfile import EnvFileError, environment_with_env_file

DEFAULT_APP_URL = "http://127.0.0.1:8080"


class SignalSide(StrEnum):
    long = "long"
    short = "short"


def fail(message: str) -> NoReturn:
    """One line on stderr, exit status 1 (typer's Exit works with or without standalone
    mode, and with typer's own copy of click)."""
    typer.echo(f"zoneguard: error: {message}", err=True)
    raise typer.Exit(1)


def _settings() -> AppSettings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(f"environment: {exc}")


def register(app: typer.Typer) -> None:
    """Add the ``app`` sub-app and the ``signal`` command to the ``zoneguard`` CLI."""
    sub = typer.Typer(
        name="app",
        help="The Trading-App: signals, bus, callbacks, dashboard (serves HTTP by default).",
        add_completion=False,
        rich_markup_mode=None,
    )

    @sub.callback(invoke_without_command=True)
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", help="address to listen on"),
        port: int = typer.Option(8080, min=1, max=65535, help="port to listen on"),
        consume: bool = typer.Option(
            True, "--consume/--no-consume", help="run the bus consumer in this process"
        ),
    ) -> None:
        """Serve the app's API and dashboard (DATABASE_URL, MESSENGER_TRANSPORT_DSN,
        WS_WORKER_BASE_URL, APP_BASE_URL from the environment)."""
        if ctx.invoked_subcommand is not None:
            return
        from zoneguard.app.server import serve as run_server

        try:
            asyncio.run(run_server(_settings(), host, port, consume=consume))
        except SettingsError as exc:
            fail(str(exc))

    @sub.command("consume")
    def consume() -> None:
        """Run only the bus consumer (PlaceOrderMessage, MonitorPositionMessage)."""
        from zoneguard.app.server import consume as run_consumer

        asyncio.run(run_consumer(_settings()))

    @sub.command("migrate")
    def migrate() -> None:
        """Bring the database schema up to date (also done on every start)."""
        from zoneguard.app.db.engine import Database
        from zoneguard.app.db.migrate import upgrade

        settings = _settings()
        db = Database(settings.database_url)
        try:
            revision = upgrade(db.engine)
        except Exception as exc:
            fail(f"migration failed: {type(exc).__name__}: {exc}")
        finally:
            db.dispose()
        typer.echo(f"database at revision {revision}")

    @sub.command("failed")
    def failed(
        retry: int | None = typer.Option(
            None, "--retry", metavar="ID", help="put message ID back on the bus"
        ),
        limit: int = typer.Option(50, min=1, max=1000, help="how many to list"),
    ) -> None:
        """List the failure queue, or retry one of its messages."""
        from zoneguard.app.bus import table
        from zoneguard.app.db.engine import Database
        from zoneguard.app.ids import now_ms
        from zoneguard.app.views import failed_message_view

        db = Database(_settings().database_url)
        try:
            if retry is not None:
                row = db.call(lambda s: table.retry_failed(s, retry, now_ms=now_ms()))
                if row is None:
                    fail(f"no failed message {retry}")
                typer.echo(f"message {retry} is back on the bus ({row.message_type})")
                return
            listed = db.call(
                lambda s: [failed_message_view(m) for m in table.list_failed(s, limit=limit)]
            )
        finally:
            db.dispose()
        if not listed:
            typer.echo("the failure queue is empty")
        for item in listed:
            order_id = item["body"].get("order_id", "-")
            typer.echo(
                f"{item['id']}\t{item['failed_at']}\t{item['type']}\t{order_id}\t"
                f"attempts={item['attempts']}\t{item['last_error']}"
            )

    app.add_typer(sub, name="app")

    @app.command("signal", cls=SignalCommand)
    def signal(
        symbol: str = typer.Option(..., help="e.g. BTCUSDT"),
        side: SignalSide = typer.Option(..., help="long or short"),
        zone: list[str] = typer.Option(
            ...,
            metavar="MIN MAX[:PCT]",
            callback=zones_callback,
            help="entry zone: --zone 65000 65500 or --zone 65000,65500; repeat for several "
            "zones, each with its share of the quantity: --zone 65200 65500:50 "
            "--zone 64800 65000:50",
        ),
        quantity: str = typer.Option(..., help="in base currency, e.g. 0.01"),
        leverage: int | None = typer.Option(None, min=1, help="default 1"),
        sl: str | None = typer.Option(None, "--sl", help="stop-loss price"),
        tp: list[str] | None = typer.Option(
            None,
            "--tp",
            metavar="PRICE[:PCT]",
            help="take-profit price; repeat for a ladder, each with its share: "
            "--tp 66000:50 --tp 67000:50",
        ),
        break_even_after: int | None = typer.Option(
            None,
            "--break-even-after",
            metavar="K",
            min=1,
            help="move the stop to the entry once take-profit K has filled",
        ),
        trailing: str | None = typer.Option(
            None,
            metavar="ACTIVATION_PCT:CALLBACK_PCT",
            help="trailing stop: active once the price is ACTIVATION_PCT % in favour, "
            "CALLBACK_PCT % behind the best price",
        ),
        timeout: int | None = typer.Option(
            None, min=1, help="seconds to wait for the zone (default 300)"
        ),
        metadata: str | None = typer.Option(None, help='JSON object, e.g. \'{"strategy": "x"}\''),
        app_url: str | None = typer.Option(
            None,
            help=f"the app's base URL (default: APP_BASE_URL from the environment or .env, "
            f"else {DEFAULT_APP_URL})",
            show_default=False,
        ),
    ) -> None:
        """Send a trading signal to the app; prints the new order's id."""
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": side.value,
            **zone_fields(zone),
            "quantity": quantity,
        }
        optional = {
            "leverage": leverage,
            "stop_loss": sl,
            "timeout_seconds": timeout,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(take_profit_fields(tp or []))
        body.update(break_even_fields(break_even_after))
        body.update(trailing_fields(trailing))
        if metadata is not None:
            try:
                body["metadata"] = json.loads(metadata)
            except json.JSONDecodeError as exc:
                raise typer.BadParameter(f"not JSON: {exc.msg}", param_hint="--metadata") from None
        environment = _environment()
        app_url = app_url or environment.get("APP_BASE_URL") or DEFAULT_APP_URL
        answer = post_signal(app_url, body, token=environment.get("ZONEGUARD_API_TOKEN"))
        typer.echo(answer["id"])


def _environment() -> dict[str, str]:
    """The variables as the app itself reads them: the environment over ``.env``."""
    try:
        return environment_with_env_file()
    except EnvFileError as exc:
        fail(f"environment: {exc}")


def post_signal(
    app_url: str, body: dict[str, Any], *, token: str | None = None, attempts: int = 3
) -> dict[str, Any]:
    """POST the signal with an Idempotency-Key, so resending after a lost answer cannot
    create a second order; a 4xx ends the command with one line naming the field."""
    url = app_url.rstrip("/") + "/api/signals"
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    if token:  # the app's token, as the worker's is: the same variable
        headers["Authorization"] = f"Bearer {token}"
    problem = ""
    for _ in range(attempts):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                parsed: dict[str, Any] = json.loads(reply.read())
                return parsed
        except urllib.error.HTTPError as exc:
            fail(_error_of(exc))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = f"cannot reach the app at {app_url}: {reason}"
    fail(problem)


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        parsed = json.loads(exc.read())
    except (json.JSONDecodeError, OSError):
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return f"{parsed['error']} (HTTP {exc.code})"
    return f"the app answered HTTP {exc.code}"
