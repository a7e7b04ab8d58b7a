"""The working directory's ``.env``: read beside the environment (which wins), and a malformed
line refused in one line that names the line and the variable, never the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoneguard.app.settings import SettingsError, load_settings
from zoneguard.envfile import EnvFileError, environment_with_env_file, read_env_file
from zoneguard.worker.config import ConfigError, load_worker_settings

SECRET = "s3cret-value-never-shown"


def env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_sets_nothing(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / ".env") == {}


def test_the_usual_forms_are_read(tmp_path: Path) -> None:
    path = env_file(
        tmp_path,
        "# the app\n"
        "WS_WORKER_BASE_URL=http://worker:8089\n"
        "export APP_BASE_URL='http://app:8080'\n"
        'BITMART_API_MEMO="my memo"  # a comment\n'
        "\n"
        "CALLBACK=${APP_BASE_URL}/api/orders/callback\n",
    )
    assert read_env_file(path) == {
        "WS_WORKER_BASE_URL": "http://worker:8089",
        "APP_BASE_URL": "http://app:8080",
        "BITMART_API_MEMO": "my memo",
        "CALLBACK": "http://app:8080/api/orders/callback",
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f"BITMART_API_SECRET='{SECRET}\n",
            "line 2: BITMART_API_SECRET: the value cannot be parsed",
        ),
        ("this is not an assignment\n", "line 2: not NAME=value"),
        ("APP_BASE_URL\n", "line 2: APP_BASE_URL has no '='"),
        (f'"QUOTED={SECRET}\n', "is not a variable name"),
        (f"WITH SPACE={SECRET}\n", "line 2: not NAME=value"),
    ],
)
def test_a_malformed_line_is_one_line_naming_it_without_the_value(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = env_file(tmp_path, "DATABASE_URL=sqlite:///x.db\n" + line + "OTHER=1\n")
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    text = str(caught.value)
    assert expected in text
    assert text.startswith(str(path))
    assert "\n" not in text
    assert SECRET not in text


def test_the_environment_wins_and_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    path = env_file(tmp_path, "A=from-file\nB=from-file\nC=from-file\n")
    merged = environment_with_env_file(path, {"A": "from-env", "B": "", "D": "env-only"})
    assert merged == {"A": "from-env", "B": "from-file", "C": "from-file", "D": "env-only"}


def test_app_settings_read_the_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WS_WORKER_BASE_URL", "APP_BASE_URL", "ZONEGUARD_CALLBACK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    path = env_file(
        tmp_path,
        "WS_WORKER_BASE_URL=http://worker:8089\nAPP_BASE_URL=http://file:8080\n"
        f"ZONEGUARD_CALLBACK_SECRET={SECRET}\n",
    )
    monkeypatch.setenv("APP_BASE_URL", "http://env:8080")
    settings = load_settings(path)
    assert settings.ws_worker_base_url == "http://worker:8089"
    assert settings.app_base_url == "http://env:8080"
    assert settings.secret() == SECRET
    assert SECRET not in repr(settings)


def test_a_bad_value_in_the_file_names_the_variable_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WS_WORKER_BASE_URL", raising=False)
    monkeypatch.delenv("ZONEGUARD_CALLBACK_ALERT_AGE_S", raising=False)
    path = env_file(tmp_path, "WS_WORKER_BASE_URL=worker:8089\nZONEGUARD_CALLBACK_ALERT_AGE_S=-1\n")
    with pytest.raises(SettingsError) as app_error:
        load_settings(path)
    assert str(app_error.value) == (
        f"WS_WORKER_BASE_URL (in {path}): must start with http:// or https://"
    )
    with pytest.raises(ConfigError) as worker_error:
        load_worker_settings(path)
    assert str(worker_error.value).startswith(
        f"environment: ZONEGUARD_CALLBACK_ALERT_AGE_S (in {path}): must be > 0"
    )


def test_worker_settings_read_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_BASE_URL", raising=False)
    monkeypatch.delenv("ZONEGUARD_API_TOKEN", raising=False)
    path = env_file(tmp_path, f"APP_BASE_URL=http://app:9000/\nZONEGUARD_API_TOKEN={SECRET}\n")
    settings = load_worker_settings(path)
    assert settings.app_base_url == "http://app:9000"
    assert settings.secret_values() == [SECRET]
    assert SECRET not in repr(settings)
