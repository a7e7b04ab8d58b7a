"""Settings from the environment, secrets kept out of reprs, ids, topic spellings."""

from __future__ import annotations

import re

import pytest

from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings, client_order_id_for
from zoneguard.exchange.bitmart.ids import is_valid_client_order_id
from zoneguard.exchange.bitmart.rest import BitMartRestClient
from zoneguard.exchange.bitmart.settings import (
    DEMO_REST_URL,
    DEMO_WS_PRIVATE_URL,
    DEMO_WS_PUBLIC_URL,
    PRODUCTION_REST_URL,
    PRODUCTION_SYSTEM_URL,
    PRODUCTION_WS_PRIVATE_URL,
    PRODUCTION_WS_PUBLIC_URL,
)
from zoneguard.exchange.bitmart.topics import (
    kline_step_minutes,
    kline_topic,
    neutral_timeframe,
    strip_throttle_suffix,
    ticker_topic,
    venue_timeframe,
)
from zoneguard.exchange.errors import InvalidRequest

SECRET_ENV = {
    "BITMART_API_KEY": "KEY-a1b2c3",
    "BITMART_API_SECRET": "SECRET-d4e5f6",
    "BITMART_API_MEMO": "MEMO-g7h8",
}


def test_from_env_defaults_to_production() -> None:
    settings = BitMartSettings.from_env(SECRET_ENV)
    assert (settings.api_key, settings.api_secret, settings.api_memo) == (
        "KEY-a1b2c3",
        "SECRET-d4e5f6",
        "MEMO-g7h8",
    )
    assert settings.rest_url == PRODUCTION_REST_URL
    assert settings.ws_public_url == PRODUCTION_WS_PUBLIC_URL
    assert settings.ws_private_url == PRODUCTION_WS_PRIVATE_URL
    assert settings.resolved_system_url == PRODUCTION_SYSTEM_URL
    assert settings.has_credentials


def test_from_env_overrides_endpoints() -> None:
    env = SECRET_ENV | {
        "BITMART_REST_URL": "http://127.0.0.1:8090",
        "BITMART_WS_PUBLIC_URL": "ws://127.0.0.1:8090/api?protocol=1.1",
        "BITMART_WS_PRIVATE_URL": "ws://127.0.0.1:8090/user?protocol=1.1",
    }
    settings = BitMartSettings.from_env(env)
    assert settings.rest_url == "http://127.0.0.1:8090"
    assert settings.ws_public_url == "ws://127.0.0.1:8090/api?protocol=1.1"
    assert settings.ws_private_url == "ws://127.0.0.1:8090/user?protocol=1.1"
    assert settings.resolved_system_url == "http://127.0.0.1:8090"


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BITMART_API_KEY", "from-os")
    monkeypatch.delenv("BITMART_API_SECRET", raising=False)
    settings = BitMartSettings.from_env()
    assert settings.api_key == "from-os"
    assert not settings.has_credentials


def test_demo_hosts() -> None:
    settings = BitMartSettings.demo("k", "s", "m")
    assert (settings.rest_url, settings.ws_public_url, settings.ws_private_url) == (
        DEMO_REST_URL,
        DEMO_WS_PUBLIC_URL,
        DEMO_WS_PRIVATE_URL,
    )


def test_secrets_never_in_reprs() -> None:
    settings = BitMartSettings.from_env(SECRET_ENV)
    rest = BitMartRestClient("http://127.0.0.1:1", *SECRET_ENV.values())
    texts = [repr(settings), str(settings), repr(BitMartExchange(settings)), repr(rest)]
    for text in texts:
        for secret in SECRET_ENV.values():
            assert secret not in text
    assert "credentials=set" in repr(settings)


def test_client_order_id_is_deterministic_and_valid() -> None:
    first = client_order_id_for("order-42", "entry")
    assert first == client_order_id_for("order-42", "entry")
    assert first != client_order_id_for("order-42", "close")
    assert first != client_order_id_for("order-43", "entry")
    assert re.fullmatch(r"zg[0-9a-f]{30}", first)
    assert is_valid_client_order_id(first)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("a1", True), ("A" * 32, True), ("A" * 33, False), ("", False), ("a_b", False), ("é1", False)],
)
def test_client_order_id_rule(value: str, ok: bool) -> None:
    assert is_valid_client_order_id(value) is ok


@pytest.mark.parametrize(
    ("neutral", "venue", "minutes"),
    [
        ("1m", "1m", 1),
        ("5m", "5m", 5),
        ("15m", "15m", 15),
        ("30m", "30m", 30),
        ("1h", "1H", 60),
        ("2h", "2H", 120),
        ("4h", "4H", 240),
        ("1d", "1D", 1440),
        ("1w", "1W", 10080),
    ],
)
def test_timeframes(neutral: str, venue: str, minutes: int) -> None:
    assert venue_timeframe(neutral) == venue
    assert neutral_timeframe(venue) == neutral
    assert kline_step_minutes(neutral) == minutes
    assert kline_topic("BTCUSDT", neutral) == f"futures/klineBin{venue}:BTCUSDT"


def test_unknown_timeframe_refused() -> None:
    with pytest.raises(InvalidRequest):
        venue_timeframe("3h")


def test_topics_and_suffixes() -> None:
    assert ticker_topic("BTCUSDT") == "futures/ticker:BTCUSDT"
    assert strip_throttle_suffix("futures/ticker:AXONUSDT@100ms") == "futures/ticker:AXONUSDT"
    assert strip_throttle_suffix("futures/depth5:BTCUSDT") == "futures/depth5:BTCUSDT"
    assert strip_throttle_suffix("odd@group") == "odd@group"
