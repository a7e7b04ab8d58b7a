"""`zoneguard app ...` and `zoneguard signal ...`: help, one-line errors, and the real
thing against a running app (the CLI as a child process, the app in this loop)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from app_harness import AppStarter, sqlite_url
from typer.testing import CliRunner

from zoneguard.app.bus import table
from zoneguard.app.cli import register
from zoneguard.app.db.engine import Database
from zoneguard.app.db.migrate import head_revision

ROOT = Path(__file__).resolve().parents[3]


def cli() -> typer.Typer:
    root = typer.Typer(add_completion=False, rich_markup_mode=None)
    register(root)
    return root


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["app", "--help"], ["--host", "--port", "--consume", "consume", "migrate", "failed"]),
        (["app", "consume", "--help"], ["consumer"]),
        (["app", "migrate", "--help"], ["schema"]),
        (["app", "failed", "--help"], ["--retry"]),
        (
            ["signal", "--help"],
            [
                "--symbol",
                "--side",
                "--zone",
                "MIN MAX[:PCT]",
                "--quantity",
                "--sl",
                "--tp",
                "--app-url",
            ],
        ),
    ],
)
def test_every_command_has_help(args: list[str], expected: list[str]) -> None:
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    for word in expected:
        assert word in result.output


def test_migrate_and_the_failure_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqlite_url(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(cli(), ["app", "migrate"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    result = CliRunner().invoke(cli(), ["app", "failed"])
    assert (result.exit_code, result.output.strip()) == (0, "the failure queue is empty")

    db = Database(url)
    try:
        envelope = table.Envelope("uuid-1", "PlaceOrderMessage", {"order_id": "order-7"}, 4, 1)
        failed_id = db.call(
            lambda s: table.add_failed(s, envelope, attempts=5, error="HTTP 503", now_ms=2).id
        )
        result = CliRunner().invoke(cli(), ["app", "failed"])
        assert result.exit_code == 0
        assert f"{failed_id}\t" in result.output
        assert "order-7" in result.output
        assert "HTTP 503" in result.output
        result = CliRunner().invoke(cli(), ["app", "failed", "--retry", str(failed_id)])
        assert result.exit_code == 0, result.output
        assert db.call(table.pending_count) == 1
        assert db.call(lambda s: table.list_failed(s, limit=5)) == []
        result = CliRunner().invoke(cli(), ["app", "failed", "--retry", str(failed_id)])
        assert result.exit_code == 1
        assert f"no failed message {failed_id}" in result.stderr
    finally:
        db.dispose()


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zoneguard.app",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def signal_args(**changes: Any) -> list[str]:
    values = {
        "--symbol": "BTCUSDT",
        "--side": "long",
        "--quantity": "0.01",
        "--leverage": "10",
        "--sl": "64000",
        "--tp": "68000",
        "--timeout": "300",
        **changes,
    }
    args = ["signal", "--zone", "65000", "65500"]
    for key, value in values.items():
        if value is not None:
            args += [key, value]
    return args


async def test_signal_posts_to_the_app_and_prints_the_order_id(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    code, out, err = await run_cli(*signal_args(), "--app-url", app.http.base_url)
    assert code == 0, err
    order_id = out.strip()
    assert order_id.startswith("order-")
    _, order = await app.http.get(f"/api/orders/{order_id}")
    assert (order["symbol"], order["side"], order["entry_zone_min"], order["entry_zone_max"]) == (
        "BTCUSDT",
        "long",
        "65000",
        "65500",
    )
    assert (order["quantity"], order["leverage"], order["stop_loss"], order["take_profit"]) == (
        "0.01",
        10,
        "64000",
        "68000",
    )
    code, out, err = await run_cli(
        *signal_args(**{"--sl": "65400"}), "--app-url", app.http.base_url
    )
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "stop_loss" in err
    assert "HTTP 422" in err


async def test_signal_sends_the_apps_token_from_the_environment(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, api_token="cli-t0ken")
    args = [*signal_args(), "--app-url", app.http.base_url]
    code, out, err = await run_cli(*args, env={"ZONEGUARD_API_TOKEN": "cli-t0ken"})
    assert code == 0, err
    assert out.strip().startswith("order-")
    code, out, err = await run_cli(*args, env={"ZONEGUARD_API_TOKEN": "wrong"})
    assert code == 1 and out == ""
    assert "authorization: wrong bearer token (HTTP 401)" in err, err


async def test_signal_bad_arguments_and_no_app_are_one_line_errors(tmp_path: Path) -> None:
    code, _out, err = await run_cli(*signal_args(**{"--side": "up"}))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "--side" in err
    code, _out, err = await run_cli(*signal_args(**{"--leverage": "ten"}))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    code, _out, err = await run_cli(*signal_args(), "--app-url", "http://127.0.0.1:9")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "cannot reach the app" in err


@pytest.mark.parametrize("zone", [["65000,65500"], ["--zone=65000,65500"], ["65000", "65500"]])
async def test_signal_takes_the_zone_as_min_max_or_min_comma_max(
    start_app: AppStarter, tmp_path: Path, zone: list[str]
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    zone_args = zone if zone[0].startswith("--") else ["--zone", *zone]
    args = signal_args()[4:]  # without its own "signal --zone 65000 65500"
    code, out, err = await run_cli("signal", *zone_args, *args, "--app-url", app.http.base_url)
    assert code == 0, err
    _, order = await app.http.get(f"/api/orders/{out.strip()}")
    assert (order["entry_zone_min"], order["entry_zone_max"]) == ("65000", "65500")


@pytest.mark.parametrize(
    ("zone", "says"),
    [
        (["65000"], "got one price (65000)"),
        (["65000,"], "'65000,' is not MIN,MAX"),
        (["65000,65500,66000"], "is not MIN,MAX"),
        (["65000;65500"], "got one price"),
        (["abc,65500"], "'abc' is not a price"),
        (["0", "65500"], "'0' is not a positive price"),
        (["65500,65000"], "MIN 65500 is above MAX 65000"),
    ],
)
async def test_a_malformed_zone_is_one_line_saying_what_is_wrong(
    zone: list[str], says: str
) -> None:
    args = signal_args()[4:]
    code, out, err = await run_cli(
        "signal", "--zone", *zone, *args, "--app-url", "http://127.0.0.1:9"
    )
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1, err
    assert "'--zone'" in err
    assert says in err


async def test_signal_takes_a_ladder_break_even_and_a_trailing_stop(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    args = [a for a in signal_args() if a not in ("--tp", "68000")]
    ladder = ["--tp", "66000:50", "--tp", "67000:50", "--break-even-after", "1"]
    trailing = ["--trailing", "1:0.5"]
    code, out, err = await run_cli(*args, *ladder, *trailing, "--app-url", app.http.base_url)
    assert code == 0, err
    _, order = await app.http.get(f"/api/orders/{out.strip()}")
    assert order["take_profit"] is None
    assert order["take_profits"] == [
        {"price": "66000", "size_percent": "50"},
        {"price": "67000", "size_percent": "50"},
    ]
    assert order["break_even"] == {"after_take_profit": 1, "offset_percent": "0"}
    assert order["trailing_stop"] == {"activation_percent": "1", "callback_percent": "0.5"}

    equal = ["--tp", "66000", "--tp", "67000", "--tp", "68000"]
    code, out, err = await run_cli(*args, *equal, "--app-url", app.http.base_url)
    assert code == 0, err
    _, order = await app.http.get(f"/api/orders/{out.strip()}")
    assert [r["size_percent"] for r in order["take_profits"]] == ["33.33", "33.33", "33.34"]

    for bad, named in (
        (["--tp", "66000:50", "--tp", "67000"], "--tp"),
        (["--trailing", "1"], "--trailing"),
        (["--tp", "66000:x"], "--tp"),
    ):
        code, out, err = await run_cli(*args, *bad, "--app-url", app.http.base_url)
        assert code == 2 and out == "", (bad, err)
        assert len(err.strip().splitlines()) == 1 and named in err, (bad, err)
    code, out, err = await run_cli(
        *args, "--tp", "67000:50", "--tp", "66000:50", "--app-url", app.http.base_url
    )
    assert code == 1 and "take_profits[1].price" in err and "HTTP 422" in err, err


async def test_signal_takes_several_entry_zones_each_with_its_share(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    args = signal_args()[4:]  # without its own "signal --zone 65000 65500"
    zones = ["--zone", "65200", "65500:60", "--zone=64800,65000:40"]
    code, out, err = await run_cli("signal", *zones, *args, "--app-url", app.http.base_url)
    assert code == 0, err
    _, order = await app.http.get(f"/api/orders/{out.strip()}")
    assert order["entry_zones"] == [
        {"min": "65200", "max": "65500", "size_percent": "60"},
        {"min": "64800", "max": "65000", "size_percent": "40"},
    ]
    assert (order["entry_zone_min"], order["entry_zone_max"]) == ("64800", "65500")

    equal = ["--zone", "65200", "65500", "--zone", "64800", "65000"]
    code, out, err = await run_cli("signal", *equal, *args, "--app-url", app.http.base_url)
    assert code == 0, err
    _, order = await app.http.get(f"/api/orders/{out.strip()}")
    assert [z["size_percent"] for z in order["entry_zones"]] == ["50", "50"]

    for bad, says in (
        (["--zone", "65200", "65500:50", "--zone", "64800", "65000"], "on every --zone"),
        (["--zone", "65200", "65500:x"], "PCT 'x'"),
        (["--zone", "65200,65500:", "--zone", "64800,65000:50"], "PCT ''"),
        (["--zone", "65500", "65200:50"], "MIN 65500 is above MAX 65200"),
    ):
        code, out, err = await run_cli("signal", *bad, *args, "--app-url", app.http.base_url)
        assert code == 2 and out == "", (bad, err)
        assert len(err.strip().splitlines()) == 1 and "'--zone'" in err and says in err, (
            bad,
            err,
        )
    overlapping = ["--zone", "65200", "65500:50", "--zone", "65400", "65600:50"]
    code, out, err = await run_cli("signal", *overlapping, *args, "--app-url", app.http.base_url)
    assert code == 1 and out == "", err
    assert len(err.strip().splitlines()) == 1, err
    assert "entry_zones[1]" in err and "HTTP 422" in err, err
