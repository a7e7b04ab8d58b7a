"""The app's settings, from the environment and the working directory's ``.env`` (names as
in the README and docs/DESIGN.md; a variable set in the environment wins over the file).

An empty variable counts as unset. Secrets are :class:`~pydantic.SecretStr`, so printing
or logging the settings cannot leak them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zoneguard.envfile import ENV_FILE, EnvFileError, only_in_file, read_env_file

DEFAULT_DATABASE_URL = "sqlite:///var/app.db"
DEFAULT_TRANSPORT_DSN = "db://"
CALLBACK_PATH = "/api/orders/callback"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class SettingsError(Exception):
    """A variable is unusable; ``str()`` is one line naming it."""


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    """SQLAlchemy URL; ``postgresql://`` is driven by psycopg 3."""
    messenger_transport_dsn: str = Field(
        default=DEFAULT_TRANSPORT_DSN, validation_alias="MESSENGER_TRANSPORT_DSN"
    )
    """``db://`` (a table in the app's database, the default) or ``amqp://...`` (RabbitMQ;
    ``?queue=NAME`` picks the queue, default ``zoneguard.messages``)."""
    ws_worker_base_url: str = Field(
        default="http://127.0.0.1:8089", validation_alias="WS_WORKER_BASE_URL"
    )
    app_base_url: str = Field(default="http://127.0.0.1:8080", validation_alias="APP_BASE_URL")
    """How the worker reaches us: callbacks go to ``${APP_BASE_URL}/api/orders/callback``."""
    callback_secret: SecretStr | None = Field(
        default=None, validation_alias="ZONEGUARD_CALLBACK_SECRET"
    )
    """When set, every callback must carry a valid HMAC signature (else 401)."""
    api_token: SecretStr | None = Field(default=None, validation_alias="ZONEGUARD_API_TOKEN")
    """Sent to the worker as ``Authorization: Bearer`` when set."""
    var_dir: Path = Field(default=Path("var"), validation_alias="ZONEGUARD_VAR_DIR")
    """Logs go to ``<var_dir>/log/orders*.log``."""
    callback_max_age_s: float = Field(
        default=300.0, gt=0, validation_alias="ZONEGUARD_CALLBACK_MAX_AGE_S"
    )
    """A signed callback whose timestamp is further than this from now is refused (replay)."""
    worker_timeout_s: float = Field(default=10.0, gt=0, validation_alias="WS_WORKER_TIMEOUT_S")
    worker_attempts: int = Field(default=3, ge=1, le=10, validation_alias="WS_WORKER_ATTEMPTS")
    """Tries per idempotent call before the client gives up (then the bus retries later)."""
    bus_max_attempts: int = Field(default=5, ge=1, le=50, validation_alias="BUS_MAX_ATTEMPTS")
    bus_retry_base_s: float = Field(default=1.0, gt=0, validation_alias="BUS_RETRY_BASE_S")
    """Delay after the first failed attempt; doubles after each further one."""
    bus_retry_max_s: float = Field(default=300.0, gt=0, validation_alias="BUS_RETRY_MAX_S")
    bus_poll_interval_s: float = Field(default=1.0, gt=0, validation_alias="BUS_POLL_INTERVAL_S")
    """How often an idle consumer looks at the queue table when no notification woke it."""
    bus_lease_s: float = Field(default=120.0, gt=0, validation_alias="BUS_LEASE_S")
    """A claimed message returns to the queue this long after its consumer stopped renewing
    the claim (a crashed process). Keep it well above SQLite's 30 s busy timeout: a renewal
    that waits out a busy database must still land before the lease ends."""
    bus_concurrency: int = Field(default=4, ge=1, le=64, validation_alias="BUS_CONCURRENCY")
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        le=1024**3,
        validation_alias="ZONEGUARD_APP_MAX_BODY_BYTES",
    )
    """A request body larger than this is refused with 413 before it is read."""

    @field_validator("ws_worker_base_url", "app_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("messenger_transport_dsn")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("db://", "doctrine://", "amqp://", "amqps://")):
            raise ValueError("must be db:// (the app's database) or amqp://user:pass@host:port/")
        return value

    @property
    def callback_url(self) -> str:
        return self.app_base_url + CALLBACK_PATH

    @property
    def uses_amqp(self) -> bool:
        return self.messenger_transport_dsn.startswith(("amqp://", "amqps://"))

    def secret(self) -> str | None:
        return self.callback_secret.get_secret_value() if self.callback_secret else None

    def token(self) -> str | None:
        return self.api_token.get_secret_value() if self.api_token else None


def load_settings(env_file: Path = ENV_FILE) -> AppSettings:
    """:class:`AppSettings` from the environment and ``env_file``, or a one-line
    :class:`SettingsError` naming the variable (and the file when the value came from it)."""
    try:
        in_file = read_env_file(env_file)
    except EnvFileError as exc:
        raise SettingsError(str(exc)) from exc
    try:
        # _env_file is pydantic-settings' own argument; mypy (no pydantic plugin here)
        # only sees the fields.
        return AppSettings(_env_file=env_file if in_file else None)  # type: ignore[call-arg]
    except ValidationError as exc:
        aliases = {
            name: str(field.validation_alias or name)
            for name, field in AppSettings.model_fields.items()
        }
        parts = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "environment"
            name = aliases.get(key, key)
            where = f" (in {env_file})" if only_in_file(name, in_file, os.environ) else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{name}{where}: {message}")
        raise SettingsError("; ".join(parts)) from exc
