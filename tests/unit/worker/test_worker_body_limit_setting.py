"""``ZONEGUARD_WORKER_MAX_BODY_BYTES``: the control API's body limit, from the environment."""

from __future__ import annotations

import pytest

from zoneguard.worker.config import DEFAULT_MAX_BODY_BYTES, ConfigError, load_worker_settings

NAME = "ZONEGUARD_WORKER_MAX_BODY_BYTES"


def test_64_kib_by_default_and_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    assert load_worker_settings().max_body_bytes == DEFAULT_MAX_BODY_BYTES == 65536
    monkeypatch.setenv(NAME, "1048576")
    assert load_worker_settings().max_body_bytes == 1048576


@pytest.mark.parametrize(
    ("value", "expected"),
    [("100", f"{NAME}: must be >= 1024"), ("lots", f"{NAME}: must be a whole number")],
)
def test_a_bad_limit_is_a_one_line_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv(NAME, value)
    with pytest.raises(ConfigError) as caught:
        load_worker_settings()
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
