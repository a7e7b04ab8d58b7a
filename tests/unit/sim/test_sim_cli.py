"""``zoneguard sim`` argument errors: one line, exit status 2, no traceback."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from zoneguard.sim import cli, server
from zoneguard.sim.config import SimConfig


def make_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    cli.register(app)

    @app.callback()
    def _root() -> None:  # keeps "sim" a sub-command
        pass

    return app


def test_bad_price_is_a_bad_parameter_naming_the_value() -> None:
    with pytest.raises(typer.BadParameter) as caught:
        make_app()(["sim", "--price", "BTCUSDT=abc"], standalone_mode=False)
    message = caught.value.format_message()
    assert "BTCUSDT=abc" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "args",
    [
        ["sim", "--price", "BTCUSDT=abc"],
        ["sim", "--price", "BTCUSDT"],
        ["sim", "--price", "BTCUSDT=-5"],
        ["sim", "--replay", "/nonexistent/file.csv.gz"],
        ["sim", "--post-only-cross", "maybe"],
        ["sim", "--speed", "0"],
    ],
)
def test_bad_arguments_exit_2_without_traceback(args: list[str]) -> None:
    result = CliRunner().invoke(make_app(), args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "Invalid value" in result.output


def test_replay_symbol_without_price_is_refused(tmp_path: Path) -> None:
    replay = tmp_path / "k.csv"
    replay.write_text("open_time,open,high,low,close\n0,1,1,1,1\n")
    result = CliRunner().invoke(
        make_app(), ["sim", "--replay", str(replay), "--replay-symbol", "DOGEUSDT"]
    )
    assert result.exit_code == 2
    assert "DOGEUSDT" in result.output


def test_prices_parse_and_upper_case() -> None:
    assert cli.parse_prices(["btcusdt=65000.5", "XRPUSDT=0.52"]) == {
        "BTCUSDT": Decimal("65000.5"),
        "XRPUSDT": Decimal("0.52"),
    }


def test_help_lists_every_option() -> None:
    result = CliRunner().invoke(make_app(), ["sim", "--help"])
    assert result.exit_code == 0
    for option in (
        "--host", "--port", "--api-key", "--api-secret", "--api-memo", "--replay",
        "--replay-symbol", "--speed", "--price", "--post-only-cross", "--no-rate-limits",
        "--lenient-types",
    ):  # fmt: skip
        assert option in result.output


@pytest.mark.parametrize(("args", "strict"), [([], True), (["--lenient-types"], False)])
def test_request_types_are_strict_unless_lenient_is_asked(
    monkeypatch: pytest.MonkeyPatch, args: list[str], strict: bool
) -> None:
    started: list[SimConfig] = []
    monkeypatch.setattr(server, "run_sim", started.append)
    result = CliRunner().invoke(make_app(), ["sim", *args])
    assert result.exit_code == 0, result.output
    (config,) = started
    assert config.strict_types is strict


def test_unknown_venue_is_a_bad_parameter() -> None:
    with pytest.raises(typer.BadParameter) as caught:
        make_app()(["sim", "--venue", "kraken"], standalone_mode=False)
    assert "--venue" in caught.value.format_message() or "binance" in str(caught.value)
