"""The app's doors: with ``ZONEGUARD_API_TOKEN`` set, every API route needs the bearer token
while ``/health``, the dashboard and the OpenAPI pages stay open; without a token the app
will not listen off loopback; unsigned callbacks are taken from loopback peers only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from app_harness import AppStarter, RunningApp, free_port, sqlite_url

from zoneguard.app.server import AppServer
from zoneguard.app.settings import AppSettings, SettingsError

TOKEN = "door-t0ken-42"
OPEN_PATHS = ("/health", "/", "/static/js/main.js", "/docs", "/openapi.json")


def concrete(path: str) -> str:
    """A documented path with its parameters filled in."""
    return (
        path.replace("{order_id}", "order-unknown")
        .replace("{failed_id}", "1")
        .replace("{symbol}", "BTCUSDT")
    )


async def api_routes(app: RunningApp) -> list[tuple[str, str]]:
    status, document = await app.http.get("/openapi.json")
    assert status == 200
    routes = [
        (method.upper(), concrete(path))
        for path, item in document["paths"].items()
        for method in item
        if path not in ("/health", "/api/orders/callback")
    ]
    assert len(routes) >= 10, routes
    return routes


async def call(app: RunningApp, method: str, path: str, **headers: str) -> tuple[int, Any]:
    if path == "/api/events":  # a stream: the status and first bytes are enough
        url = app.http.base_url + path
        async with app.http.session.get(url, headers=headers) as reply:
            if reply.status == 200:
                return 200, await reply.content.readline()
            return reply.status, await reply.json()
    body = {} if method == "POST" else None
    answer: tuple[int, Any] = await app.http.request(method, path, body, headers=headers)
    return answer


async def test_with_a_token_every_api_route_needs_it(start_app: AppStarter, tmp_path: Path) -> None:
    app = await start_app(sqlite_url(tmp_path), api_token=TOKEN)
    for method, path in await api_routes(app):
        for given in ("", "Bearer wrong-token", f"Basic {TOKEN}", TOKEN):
            status, body = await call(app, method, path, Authorization=given)
            assert status == 401, (method, path, given, body)
            assert body["fields"] == [
                {"field": "authorization", "message": body["fields"][0]["message"]}
            ]
            assert body["error"].startswith("authorization: "), body
        status, body = await call(app, method, path, Authorization=f"Bearer {TOKEN}")
        assert status not in (401, 403, 500), (method, path, body)


async def test_with_a_token_health_dashboard_and_docs_stay_open(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), api_token=TOKEN)
    for path in OPEN_PATHS:
        async with app.http.session.get(app.http.base_url + path) as reply:
            assert reply.status == 200, path
    async with app.http.session.get(app.http.base_url + "/api/orders") as reply:
        assert reply.status == 401
        assert reply.headers["WWW-Authenticate"] == "Bearer"


async def test_the_openapi_document_declares_the_bearer_only_when_a_token_is_set(
    start_app: AppStarter, tmp_path: Path
) -> None:
    guarded = await start_app(sqlite_url(tmp_path), api_token=TOKEN)
    _, document = await guarded.http.get("/openapi.json")
    (scheme,) = document["components"]["securitySchemes"].values()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert document["paths"]["/api/signals"]["post"]["security"]
    assert "401" in document["paths"]["/api/orders"]["get"]["responses"]
    assert "security" not in document["paths"]["/health"]["get"]
    assert "security" not in document["paths"]["/api/orders/callback"]["post"]

    (tmp_path / "open").mkdir()
    open_app = await start_app(sqlite_url(tmp_path / "open"))
    _, document = await open_app.http.get("/openapi.json")
    assert "securitySchemes" not in document.get("components", {})
    assert "security" not in document["paths"]["/api/signals"]["post"]
    assert "401" not in document["paths"]["/api/orders"]["get"]["responses"]


async def test_without_a_token_the_app_will_not_listen_off_loopback(tmp_path: Path) -> None:
    settings = AppSettings(database_url=sqlite_url(tmp_path), var_dir=tmp_path / "var")
    server = AppServer(settings, free_port(), host="0.0.0.0", consume=False)
    with pytest.raises(SettingsError, match="ZONEGUARD_API_TOKEN"):
        await server.start()
    await server.stop()


async def test_the_cli_refuses_a_non_loopback_address_without_a_token_in_one_line(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url(tmp_path),
        "ZONEGUARD_VAR_DIR": str(tmp_path / "var"),
    }
    env.pop("ZONEGUARD_API_TOKEN", None)
    for host in ("0.0.0.0", "::", "192.0.2.10", "my-host.example"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "zoneguard.app",
            "app",
            "--host",
            host,
            "--port",
            str(free_port()),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 1, (host, out, err)
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1, err.decode()
        assert lines[0].startswith("zoneguard: error: refusing to listen on " + host), lines
        assert "ZONEGUARD_API_TOKEN" in lines[0]


async def test_unsigned_callbacks_from_loopback_are_taken(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), api_token=TOKEN)
    body = {"order_id": "order-unknown", "status": "placed", "event_id": "e-1"}
    # No bearer either: the callback's door is the signature, or a loopback peer.
    status, answer = await app.http.post(
        "/api/orders/callback", body, headers={"Authorization": ""}
    )
    assert status == 200, answer  # read and applied (an unknown order is only logged)


NETNS_PROBE = Path(__file__).with_name("netns_probe.py")


def netns_available() -> bool:
    try:
        done = subprocess.run(
            ["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.skipif(not netns_available(), reason="needs `unshare -n` and `ip` (root)")
def test_a_non_loopback_peer_is_refused_unsigned_callbacks_for_real(tmp_path: Path) -> None:
    """In a network namespace of its own, the app listens on every address with a token;
    the same unsigned callback is refused from 198.18.0.1 and taken from 127.0.0.1."""
    import json

    done = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            'ip link set lo up && ip addr add 198.18.0.1/32 dev lo && exec "$0" "$1" "$2"',
            sys.executable,
            str(NETNS_PROBE),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    outside, inside = seen["198.18.0.1"], seen["127.0.0.1"]
    assert outside["status"] == 401, outside
    assert outside["body"]["fields"][0]["field"] == "signature", outside
    assert "198.18.0.1" in outside["body"]["error"], outside
    assert inside["status"] == 200, inside  # taken and read
    # The API itself: a token is needed from outside, and it is enough.
    assert seen["signals_without_token"] == 401
    assert seen["orders_with_token"] == 200
