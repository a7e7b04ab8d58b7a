"""`zoneguard`: one command, with a sub-command per process (sim, demo; worker and app later).

Bad arguments end in a single line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from zoneguard import __version__

app = typer.Typer(
    name="zoneguard",
    help="Execute crypto-futures signals: entry zone, stop-loss and take-profit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"zoneguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Sub-commands: sim, worker, app, signal, demo, chaos."""


def _register_subcommands() -> None:
    from zoneguard import demo
    from zoneguard.app import cli as app_cli
    from zoneguard.chaos import cli as chaos_cli
    from zoneguard.sim import cli as sim_cli
    from zoneguard.worker import cli as worker_cli

    sim_cli.register(app)
    worker_cli.register(app)
    app_cli.register(app)
    demo.register(app)
    chaos_cli.register(app)


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: bad usage is one line on stderr and exit 2."""
    try:
        result = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.TyperException as exc:  # typer's own click: usage errors, bad parameters
        ctx = getattr(exc, "ctx", None)
        name = getattr(ctx, "info_name", None) if ctx is not None and ctx.parent else None
        prefix = f"zoneguard {name}" if name else "zoneguard"
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        print(f"{prefix}: error: {message}", file=sys.stderr)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
