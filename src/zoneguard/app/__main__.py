"""``python -m zoneguard.app``: the app's commands without the rest of the CLI (used by
the tests that run the app as a child process). Errors as in ``zoneguard.cli``: one line."""

from __future__ import annotations

import sys

import typer

from zoneguard.app.cli import register

_cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
register(_cli)


def main() -> None:
    try:
        result = _cli(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.TyperException as exc:  # typer's own click: usage errors, bad parameters
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        print(f"zoneguard: error: {message}", file=sys.stderr)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
