"""``zoneguard sim``: run the exchange simulator (BitMart or Binance dialect) in the foreground."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from zoneguard.sim.config import SimConfig
from zoneguard.sim.decimals import to_decimal

_DEFAULTS = SimConfig()


def parse_prices(values: list[str]) -> dict[str, Decimal]:
    """``["BTCUSDT=65000", ...]`` -> prices; raises typer.BadParameter naming the bad one."""
    prices: dict[str, Decimal] = {}
    for value in values:
        symbol, sep, raw = value.partition("=")
        symbol = symbol.strip().upper()
        price = to_decimal(raw) if sep else None
        if not symbol.isalnum() or price is None or price <= 0:
            raise typer.BadParameter(
                f"{value!r} is not SYMBOL=PRICE with a positive price (e.g. BTCUSDT=65000)",
                param_hint="--price",
            )
        prices[symbol] = price
    return prices


def sim(
    venue: Annotated[
        str, typer.Option(help="Wire dialect to speak: 'bitmart' or 'binance' (USDⓈ-M REST).")
    ] = _DEFAULTS.venue,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = _DEFAULTS.host,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port for REST, websockets and /_sim (0: any).")
    ] = _DEFAULTS.port,
    api_key: Annotated[
        str, typer.Option(envvar="BITMART_API_KEY", help="API key clients must send.")
    ] = _DEFAULTS.api_key,
    api_secret: Annotated[
        str,
        typer.Option(
            envvar="BITMART_API_SECRET", help="Secret that signs requests.", show_default=False
        ),
    ] = _DEFAULTS.api_secret,
    api_memo: Annotated[
        str, typer.Option(envvar="BITMART_API_MEMO", help="Memo that is part of each signature.")
    ] = _DEFAULTS.api_memo,
    replay: Annotated[
        Path | None,
        typer.Option(help="Kline CSV(.gz) to replay as the price of --replay-symbol."),
    ] = None,
    replay_symbol: Annotated[
        str, typer.Option(help="Symbol whose price the replay drives.")
    ] = _DEFAULTS.replay_symbol,
    speed: Annotated[
        float, typer.Option(help="Replay speed: historical minutes per real minute.")
    ] = _DEFAULTS.replay_speed,
    price: Annotated[
        list[str] | None,
        typer.Option(help="Initial last price, SYMBOL=PRICE; repeat for several symbols."),
    ] = None,
    post_only_cross: Annotated[
        str,
        typer.Option(help="A crossing maker-only order is 'reject'ed (40011) or 'cancel'led."),
    ] = _DEFAULTS.post_only_cross,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="Do not enforce BitMart's rate limits.")
    ] = False,
    lenient_types: Annotated[
        bool,
        typer.Option(
            "--lenient-types",
            help='Accept numbers as numeric strings and back ("size":"1", "price":65000); '
            "by default a field of another JSON type than BitMart's is refused (40007).",
        ),
    ] = False,
) -> None:
    """Run a local exchange that speaks BitMart USDT-M futures (REST and websockets), or
    Binance USDⓈ-M futures' REST API with --venue binance."""
    if venue not in ("bitmart", "binance"):
        raise typer.BadParameter("must be 'bitmart' or 'binance'", param_hint="--venue")
    prices = dict(_DEFAULTS.prices)
    prices.update(parse_prices(price or []))
    if post_only_cross not in ("reject", "cancel"):
        raise typer.BadParameter("must be 'reject' or 'cancel'", param_hint="--post-only-cross")
    if speed <= 0:
        raise typer.BadParameter("must be positive", param_hint="--speed")
    replay_symbol = replay_symbol.upper()
    if replay is not None:
        if not replay.is_file():
            raise typer.BadParameter(f"no such file: {replay}", param_hint="--replay")
        if replay_symbol not in prices:
            raise typer.BadParameter(
                f"{replay_symbol} has no price; add --price {replay_symbol}=...",
                param_hint="--replay-symbol",
            )
    config = SimConfig(
        venue="binance" if venue == "binance" else "bitmart",
        host=host,
        port=port,
        api_key=api_key,
        api_secret=api_secret,
        api_memo=api_memo,
        prices=prices,
        post_only_cross="cancel" if post_only_cross == "cancel" else "reject",
        replay_file=replay,
        replay_symbol=replay_symbol,
        replay_speed=speed,
        rate_limits=not no_rate_limits,
        strict_types=not lenient_types,
    )
    try:
        from zoneguard.sim.server import run_sim  # heavy: only when the command runs

        run_sim(config)
    except ValueError as exc:  # an unreadable replay file
        raise typer.BadParameter(str(exc), param_hint="--replay") from None
    except OSError as exc:  # the port is taken, the host cannot be bound
        typer.echo(f"zoneguard sim: error: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add the ``sim`` command to the ``zoneguard`` CLI."""
    app.command("sim")(sim)
