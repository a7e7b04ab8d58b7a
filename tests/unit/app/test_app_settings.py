"""Settings from the environment, under the seed's names; one-line errors."""

from __future__ import annotations

import pytest

from zoneguard.app.bus.amqp_transport import DEFAULT_QUEUE, parse_amqp_dsn
from zoneguard.app.settings import AppSettings, SettingsError, load_settings

NAMES = (
    "DATABASE_URL",
    "MESSENGER_TRANSPORT_DSN",
    "WS_WORKER_BASE_URL",
    "APP_BASE_URL",
    "ZONEGUARD_CALLBACK_SECRET",
    "ZONEGUARD_API_TOKEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/app.db"
    assert settings.ws_worker_base_url == "http://127.0.0.1:8089"
    assert settings.callback_url == "http://127.0.0.1:8080/api/orders/callback"
    assert not settings.uses_amqp
    assert settings.secret() is None
    assert settings.token() is None


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/app")
    monkeypatch.setenv("MESSENGER_TRANSPORT_DSN", "amqp://guest:guest@mq:5672/")
    monkeypatch.setenv("WS_WORKER_BASE_URL", "http://ws-worker:8089/")
    monkeypatch.setenv("APP_BASE_URL", "http://trading-app:8080")
    monkeypatch.setenv("ZONEGUARD_CALLBACK_SECRET", "shh-secret")
    monkeypatch.setenv("ZONEGUARD_API_TOKEN", "")  # empty = unset
    settings = load_settings()
    assert settings.database_url == "postgresql://u@db/app"
    assert settings.uses_amqp
    assert settings.ws_worker_base_url == "http://ws-worker:8089"
    assert settings.callback_url == "http://trading-app:8080/api/orders/callback"
    assert settings.secret() == "shh-secret"
    assert settings.token() is None
    assert "shh-secret" not in repr(settings)


def test_bad_values_are_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_WORKER_BASE_URL", "ws-worker:8089")
    monkeypatch.setenv("MESSENGER_TRANSPORT_DSN", "kafka://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert "\n" not in text
    assert "WS_WORKER_BASE_URL" in text
    assert "MESSENGER_TRANSPORT_DSN" in text


def test_the_amqp_dsn_carries_the_queue_name() -> None:
    target = parse_amqp_dsn("amqp://guest:guest@127.0.0.1:5672/?queue=orders&heartbeat=30")
    assert target.queue == "orders"
    assert target.url == "amqp://guest:guest@127.0.0.1:5672/?heartbeat=30"
    assert parse_amqp_dsn("amqp://h/").queue == DEFAULT_QUEUE
    assert AppSettings(messenger_transport_dsn="doctrine://default").uses_amqp is False
