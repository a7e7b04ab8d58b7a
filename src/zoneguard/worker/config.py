"""The worker's configuration: ``config/orders.yaml`` (trading knobs) and the environment
(with the working directory's ``.env``, which the environment overrides).

Two sources on purpose: the YAML file holds the seed's trading keys, reviewed like code;
the environment holds URLs and secrets, which must never be committed. Both are checked
at start-up so a typo fails loudly in one line instead of trading on a silent default.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from zoneguard.envfile import ENV_FILE, EnvFileError, only_in_file, read_env_file

DEFAULT_ORDERS_CONFIG_PATH = Path("config/orders.yaml")
"""Where the worker looks for its trading configuration, relative to the working directory."""


DEFAULT_MAX_BODY_BYTES = 64 * 1024
"""The control API's body limit: an order is well under 1 KiB, metadata at most 16 KiB."""


class ConfigError(Exception):
    """A configuration file or variable is unusable; ``str()`` is one line naming where."""


class _Section(BaseModel):
    """Shared rules: immutable, and unknown keys refused so a misspelt key is not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryZoneConfig(_Section):
    tolerance_percent: Decimal = Field(default=Decimal("0.1"), ge=0, lt=100)
    """The zone is widened by this percentage on both sides."""
    timeout_seconds: StrictInt = Field(default=300, gt=0)
    """Lifetime of a waiting order when its signal gives none."""
    immediate_if_in_zone: StrictBool = True
    """Place at once when the price is already in the zone on arrival."""


class GuardConfig(_Section):
    """One exit guard (stop-loss or take-profit)."""

    check_interval_ms: StrictInt = Field(gt=0)
    """Longest silence of the price feed the guard accepts before asking by REST (then
    asked this often, within the venue's REST budget): the stop-loss's where a stop is
    guarded on the symbol, the take-profit's where only targets are."""
    slippage_tolerance_percent: Decimal = Field(default=Decimal("0.05"), ge=0, lt=100)
    """Take-profit: the limit IOC's price is the level less (long) or plus (short) this.
    Stop-loss: a market close further than this from the level is logged and flagged."""


class StopLossConfig(GuardConfig):
    check_interval_ms: StrictInt = Field(default=100, gt=0)


class TakeProfitConfig(GuardConfig):
    check_interval_ms: StrictInt = Field(default=500, gt=0)


class ExchangeBackstopConfig(_Section):
    """Not in the seed: where the exchange-side preset SL/TP sit relative to our levels.

    The worker's own guard closes at the signal's levels; the presets are the backstop for
    when the worker is down. Placed ``offset_percent`` beyond the levels, they do not race
    the guard (0 = exactly at the levels, as the seed's example; then the exchange usually
    fires first and the worker reports that close).
    """

    offset_percent: Decimal = Field(default=Decimal("0.2"), ge=0, lt=50)
    enabled: StrictBool = True


class OrdersSection(_Section):
    entry_zone: EntryZoneConfig = EntryZoneConfig()
    stop_loss: StopLossConfig = StopLossConfig()
    take_profit: TakeProfitConfig = TakeProfitConfig()
    exchange_backstop: ExchangeBackstopConfig = ExchangeBackstopConfig()


class OrdersConfig(_Section):
    """The whole of ``config/orders.yaml``; every field has the seed's default."""

    orders: OrdersSection = OrdersSection()


def load_orders_config(path: Path | None) -> OrdersConfig:
    """Read and check ``path``; built-in defaults when ``path`` is None or does not exist.

    Keys left out of the file take their default; a wrong key or value raises
    :class:`ConfigError` naming the file and the key path.
    """
    if path is None or not path.exists():
        return OrdersConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {_yaml_problem(exc)}") from exc
    if raw is None:  # an empty file: nothing overridden
        return OrdersConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with an 'orders' key")
    try:
        return OrdersConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc.errors())}") from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def _describe(errors: list[ErrorDetails]) -> str:
    """Pydantic's errors as ``key.path: reason``, joined on one line."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        parts.append(f"{where}: {_reason(error)}")
    return "; ".join(parts)


def _reason(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in (
        "decimal_type",
        "decimal_parsing",
        "decimal_finite_number",
        "float_parsing",
        "float_type",
        "finite_number",
    ):
        return "must be a number"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(error["msg"]).lower()


class WorkerSettings(BaseSettings):
    """Settings read from the environment and ``.env`` (names exactly as in the seed and
    README).

    Secrets are :class:`~pydantic.SecretStr`: their ``repr`` and ``str`` print ``**********``,
    so logging the settings object cannot leak them. An empty variable counts as unset.
    """

    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    app_base_url: str = Field(default="http://127.0.0.1:8080", validation_alias="APP_BASE_URL")
    """Where callbacks go when an order carries no ``callback_url``."""
    callback_secret: SecretStr | None = Field(
        default=None, validation_alias="ZONEGUARD_CALLBACK_SECRET"
    )
    """Key of the callbacks' HMAC-SHA256 signature; unsigned when unset."""
    api_token: SecretStr | None = Field(default=None, validation_alias="ZONEGUARD_API_TOKEN")
    """Bearer token the control API demands when set."""
    alert_webhook_url: SecretStr | None = Field(default=None, validation_alias="ALERT_WEBHOOK_URL")
    """Operator alerts are POSTed here when set (a secret: chat webhooks embed their token)."""
    callback_alert_age_s: float = Field(
        default=60, gt=0, validation_alias="ZONEGUARD_CALLBACK_ALERT_AGE_S"
    )
    """Alert when the oldest undelivered callback is older than this many seconds."""
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES, ge=1024, validation_alias="ZONEGUARD_WORKER_MAX_BODY_BYTES"
    )
    """Largest request body the control API reads; a larger one is refused (413) unread."""

    @field_validator("app_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def secret_values(self) -> list[str]:
        """Every secret value set, for the log masker (``logs.register_secret``)."""
        secrets = (self.callback_secret, self.api_token, self.alert_webhook_url)
        return [s.get_secret_value() for s in secrets if s is not None]


def load_worker_settings(env_file: Path = ENV_FILE) -> WorkerSettings:
    """Read :class:`WorkerSettings` from the environment and ``env_file``, or raise a one-line
    ConfigError naming the variable (and the file when the value came from it)."""
    try:
        in_file = read_env_file(env_file)
    except EnvFileError as exc:
        raise ConfigError(f"environment: {exc}") from exc
    try:
        # _env_file is pydantic-settings' own argument; mypy (no pydantic plugin here)
        # only sees the fields.
        return WorkerSettings(_env_file=env_file if in_file else None)  # type: ignore[call-arg]
    except ValidationError as exc:
        names = {
            name: str(field.validation_alias or name)
            for name, field in WorkerSettings.model_fields.items()
        }
        parts = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "(environment)"
            name = names.get(key, key)
            where = f" (in {env_file})" if only_in_file(name, in_file, os.environ) else ""
            parts.append(f"{name}{where}: {_reason(error)}")
        raise ConfigError(f"environment: {'; '.join(parts)}") from exc
