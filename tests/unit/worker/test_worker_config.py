"""config/orders.yaml and the environment settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from zoneguard.worker.config import (
    ConfigError,
    OrdersConfig,
    WorkerSettings,
    load_orders_config,
    load_worker_settings,
)

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config" / "orders.yaml"
ENV_NAMES = (
    "APP_BASE_URL",
    "ZONEGUARD_CALLBACK_SECRET",
    "ZONEGUARD_API_TOKEN",
    "ALERT_WEBHOOK_URL",
    "ZONEGUARD_CALLBACK_ALERT_AGE_S",
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "orders.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_seeds_when_there_is_no_file(tmp_path: Path) -> None:
    for config in (load_orders_config(None), load_orders_config(tmp_path / "absent.yaml")):
        orders = config.orders
        assert orders.entry_zone.tolerance_percent == Decimal("0.1")
        assert orders.entry_zone.timeout_seconds == 300
        assert orders.entry_zone.immediate_if_in_zone is True
        assert orders.stop_loss.check_interval_ms == 100
        assert orders.stop_loss.slippage_tolerance_percent == Decimal("0.05")
        assert orders.take_profit.check_interval_ms == 500
        assert orders.take_profit.slippage_tolerance_percent == Decimal("0.05")


def test_the_repositorys_file_loads_and_matches_the_built_in_defaults() -> None:
    assert load_orders_config(REPO_CONFIG) == OrdersConfig()


def test_values_in_the_file_override_and_percents_are_exact_decimals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders:\n"
        "  entry_zone:\n    tolerance_percent: 0.3\n    immediate_if_in_zone: false\n"
        "  take_profit:\n    check_interval_ms: 250\n    slippage_tolerance_percent: '0.125'\n",
    )
    orders = load_orders_config(path).orders
    assert orders.entry_zone.tolerance_percent == Decimal("0.3")  # not 0.2999999...
    assert orders.entry_zone.immediate_if_in_zone is False
    assert orders.entry_zone.timeout_seconds == 300  # left out: default
    assert orders.take_profit.check_interval_ms == 250
    assert orders.take_profit.slippage_tolerance_percent == Decimal("0.125")
    assert orders.stop_loss.check_interval_ms == 100


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    assert load_orders_config(write(tmp_path, "# nothing yet\n")) == OrdersConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "orders:\n  stop_loss:\n    check_interval_ms: 0\n",
            "orders.stop_loss.check_interval_ms: must be > 0",
        ),
        (
            "orders:\n  stop_loss:\n    check_intervall_ms: 50\n",
            "orders.stop_loss.check_intervall_ms: unknown key",
        ),
        ("orders:\n  trailing: {}\n", "orders.trailing: unknown key"),
        ("order:\n  entry_zone: {}\n", "order: unknown key"),
        (
            "orders:\n  entry_zone:\n    tolerance_percent: -0.1\n",
            "orders.entry_zone.tolerance_percent: must be >= 0",
        ),
        (
            "orders:\n  entry_zone:\n    tolerance_percent: lots\n",
            "orders.entry_zone.tolerance_percent: must be a number",
        ),
        (
            "orders:\n  entry_zone:\n    timeout_seconds: 12.5\n",
            "orders.entry_zone.timeout_seconds: must be a whole number",
        ),
        (
            "orders:\n  entry_zone:\n    timeout_seconds: '300'\n",
            "orders.entry_zone.timeout_seconds: must be a whole number",
        ),
        (
            "orders:\n  entry_zone:\n    immediate_if_in_zone: 'maybe'\n",
            "orders.entry_zone.immediate_if_in_zone: must be true or false",
        ),
        ("orders:\n  stop_loss: 100\n", "orders.stop_loss: must be a mapping"),
        ("- orders\n", "the top level must be a mapping"),
        ("orders: [1\n", "invalid YAML: line"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_key_in_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_orders_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders:\n  stop_loss:\n    check_interval_ms: -1\n"
        "  take_profit:\n    check_interval_ms: 0\n",
    )
    with pytest.raises(ConfigError, match=r"stop_loss\.check_interval_ms.*take_profit"):
        load_orders_config(path)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_worker_settings()
    assert settings.app_base_url == "http://127.0.0.1:8080"
    assert settings.callback_secret is None
    assert settings.api_token is None
    assert settings.alert_webhook_url is None
    assert settings.callback_alert_age_s == 60
    assert settings.secret_values() == []


def test_settings_from_the_environment_never_print_their_secrets(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("APP_BASE_URL", "http://trading-app:8080/")
    clean_env.setenv("ZONEGUARD_CALLBACK_SECRET", "cb-secret-123456")
    clean_env.setenv("ZONEGUARD_API_TOKEN", "api-token-987654")
    clean_env.setenv("ALERT_WEBHOOK_URL", "https://hooks.example.test/T000/B000/tok3n")
    clean_env.setenv("ZONEGUARD_CALLBACK_ALERT_AGE_S", "15")
    settings = load_worker_settings()
    assert settings.app_base_url == "http://trading-app:8080"
    assert settings.callback_secret is not None
    assert settings.callback_secret.get_secret_value() == "cb-secret-123456"
    assert settings.callback_alert_age_s == 15
    assert sorted(settings.secret_values()) == sorted(
        ["cb-secret-123456", "api-token-987654", "https://hooks.example.test/T000/B000/tok3n"]
    )
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "cb-secret-123456" not in shown
        assert "api-token-987654" not in shown
        assert "tok3n" not in shown


def test_an_empty_variable_counts_as_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ZONEGUARD_CALLBACK_SECRET", "")
    clean_env.setenv("APP_BASE_URL", "")
    settings = load_worker_settings()
    assert settings.callback_secret is None
    assert settings.app_base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("APP_BASE_URL", "trading-app:8080", "APP_BASE_URL: must start with http"),
        ("ZONEGUARD_CALLBACK_ALERT_AGE_S", "0", "ZONEGUARD_CALLBACK_ALERT_AGE_S: must be > 0"),
        (
            "ZONEGUARD_CALLBACK_ALERT_AGE_S",
            "soon",
            "ZONEGUARD_CALLBACK_ALERT_AGE_S: must be a number",
        ),
        ("ALERT_WEBHOOK_URL", "hooks.example.test/x", "ALERT_WEBHOOK_URL: must start with http"),
    ],
)
def test_a_bad_variable_is_a_one_line_error_naming_it(
    clean_env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_worker_settings()
    assert str(caught.value).startswith("environment: ")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_settings_can_be_built_in_code_by_field_name(clean_env: pytest.MonkeyPatch) -> None:
    settings = WorkerSettings(app_base_url="http://127.0.0.1:9999/", callback_alert_age_s=2)
    assert settings.app_base_url == "http://127.0.0.1:9999"
    assert settings.callback_alert_age_s == 2
