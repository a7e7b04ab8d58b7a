"""Which peers and listen addresses count as this machine's own."""

from __future__ import annotations

import pytest

from zoneguard.web.addresses import is_loopback


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1", "::1%lo"],
)
def test_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "0.0.0.0",
        "::",
        "198.18.0.1",
        "::ffff:198.18.0.1",
        "10.0.0.1",
        "localhost.example.com",
        "my-host",
        "127.0.0.1.nip.io",
    ],
)
def test_not_loopback(host: str | None) -> None:
    assert not is_loopback(host)
