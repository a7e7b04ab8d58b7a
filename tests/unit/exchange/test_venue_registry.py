"""The worker's venue comes from ``ZONEGUARD_VENUE`` and that venue's own variables; a real
exchange host needs ``--live``; a missing key or an unknown venue is one clear message."""

from __future__ import annotations

import pytest

from zoneguard.exchange.binance.adapter import BinanceExchange
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.registry import VenueConfigError, venue_from_env

SIM = "http://127.0.0.1:8090"
BITMART = {
    "BITMART_API_KEY": "k",
    "BITMART_API_SECRET": "s3cret",
    "BITMART_API_MEMO": "m",
    "BITMART_REST_URL": SIM,
}
BINANCE = {
    "ZONEGUARD_VENUE": "binance",
    "BINANCE_API_KEY": "bk",
    "BINANCE_API_SECRET": "bs3cret",
    "BINANCE_REST_URL": SIM,
    "BINANCE_WS_URL": "ws://127.0.0.1:8090",
}


def test_bitmart_is_the_default_and_its_secrets_are_named() -> None:
    venue = venue_from_env(BITMART, live=False)
    assert isinstance(venue.exchange, BitMartExchange)
    assert venue.exchange.capabilities.preset_stops
    assert set(venue.secrets) == {"k", "s3cret", "m"}


def test_binance_is_built_from_its_own_variables() -> None:
    venue = venue_from_env(BINANCE, live=False)
    assert isinstance(venue.exchange, BinanceExchange)
    assert not venue.exchange.capabilities.preset_stops
    assert "bs3cret" in venue.secrets
    assert "bs3cret" not in repr(venue.exchange)


def test_an_unknown_venue_names_the_known_ones() -> None:
    with pytest.raises(VenueConfigError, match=r"'kraken' is not a venue .*binance, bitmart"):
        venue_from_env({**BITMART, "ZONEGUARD_VENUE": "kraken"}, live=False)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({**BITMART, "BITMART_REST_URL": "https://api-cloud-v2.bitmart.com"}, "BITMART_REST_URL"),
        ({**BINANCE, "BINANCE_REST_URL": ""}, "BINANCE_REST_URL"),  # production by default
        ({**BINANCE, "BINANCE_REST_URL": "https://demo-fapi.binance.com"}, "BINANCE_REST_URL"),
    ],
)
def test_a_real_exchange_needs_live(env: dict[str, str], variable: str) -> None:
    with pytest.raises(VenueConfigError, match=f"{variable} is .*pass --live"):
        venue_from_env(env, live=False)
    assert venue_from_env(env, live=True).exchange is not None


def test_missing_keys_are_named() -> None:
    with pytest.raises(VenueConfigError, match="BINANCE_API_KEY and BINANCE_API_SECRET"):
        venue_from_env({**BINANCE, "BINANCE_API_SECRET": ""}, live=False)
    with pytest.raises(VenueConfigError, match="BITMART_API_MEMO must be set"):
        venue_from_env({**BITMART, "BITMART_API_MEMO": ""}, live=False)
