"""Process settings from the environment (12-factor), validated once at start.

This is the only module that reads ``os.environ``; everything else receives a ``Settings``.
Defaults give the embedded mode: SQLite under ``./var/``, an embedded broker, the sandboxes.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

Choice = TypeVar("Choice", bound=enum.StrEnum)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def read_secret(environ: Mapping[str, str], name: str) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker/K8s secrets)."""
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read secret file ({exc.strerror})") from exc
    return environ.get(name) or None


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None


def env_bounded(
    env: Mapping[str, str], name: str, default: float, low: float, high: float | None = None
) -> float:
    """A number from ``name`` within [low, high]; errors name the variable."""
    value = _float(env, name, default)
    if value < low or (high is not None and value > high):
        raise SettingsError(
            f"{name}: must be between {low:g} and {high:g}" if high else f"{name}: must be >= {low:g}"
        )
    return value


def env_choice(env: Mapping[str, str], name: str, choices: type[Choice], default: Choice) -> Choice:
    """One of ``choices`` (a string enum) from ``name``; an error names the variable and the choices."""
    raw = env.get(name, default.value)
    try:
        return choices(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}") from None


def _refresh_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The nightly refresh's cron expression and time zone, checked once here."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    cron = env.get("REFRESH_CRON", "0 2 * * *").strip()
    if not croniter.is_valid(cron):
        raise SettingsError(f"REFRESH_CRON: not a cron expression: {cron!r}")
    zone = env.get("REFRESH_TIMEZONE", "UTC").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"REFRESH_TIMEZONE: unknown time zone {zone!r} (IANA names)") from None
    return {"refresh_cron": cron, "refresh_timezone": zone}


@dataclass(frozen=True)
class Settings:
    """Everything a service needs to start; secrets are excluded from ``repr``."""

    var_dir: Path = Path("var")
    database_url: str = ""
    kafka_bootstrap: str | None = None  # None: start the embedded broker
    kafka_partitions: int = 4
    # How long the broker waits for a silent consumer before giving its partitions to another.
    # A killed consumer's partitions move after this long; Tansu (the embedded broker) also
    # holds a new group's first join for half of it.
    kafka_session_timeout_ms: int = 10_000
    config_file: Path | None = None  # YAML with ICP rules and audience definitions
    log_format: str = "console"  # console | json
    log_level: str = "INFO"
    shop: str = "default"
    base_currency: str = "USD"
    shopify_webhook_secret: str | None = field(default=None, repr=False)
    helpdesk_webhook_secret: str | None = field(default=None, repr=False)
    # Signs the dashboard's session cookie; None: a key kept in var_dir (one host only, docs/dashboard.md).
    dashboard_secret: str | None = field(default=None, repr=False)
    api_port: int = 8080
    api_host: str | None = None  # None: 127.0.0.1 (``serve api --host`` wins)
    api_rate_per_second: float = 20.0  # per API token and process; 0 disables (docs/api.md)
    api_rate_burst: int = 60  # requests a token may make at once before the rate applies
    metrics_port: int = 0  # a worker's Prometheus /metrics on 0.0.0.0:PORT; 0: not served
    refresh_cron: str = "0 2 * * *"  # the nightly refresh (docs/api.md, "Scheduler")
    refresh_timezone: str = "UTC"  # IANA zone the cron expression is read in
    ci: bool = False
    # Each service's own settings live with it (services/syncer_meta/config.py: META_*).

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; a bad value raises ``SettingsError`` naming the variable."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("AUDIENCESYNC_VAR_DIR", "var"))
        # A PostgreSQL URL carries its password, so deployments pass it as a secret file.
        database_url = read_secret(env, "DATABASE_URL") or f"sqlite:///{var_dir / 'audiencesync.db'}"
        if not database_url.startswith(("sqlite", "postgresql")):
            raise SettingsError("DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported")
        log_format = env.get("LOG_FORMAT", "console")
        if log_format not in {"console", "json"}:
            raise SettingsError(f"LOG_FORMAT: expected console or json, got {log_format!r}")
        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
        partitions = _int(env, "KAFKA_PARTITIONS", 4)
        if partitions < 1:
            raise SettingsError("KAFKA_PARTITIONS: must be at least 1")
        currency = env.get("BASE_CURRENCY", "USD").upper()
        if len(currency) != 3 or not currency.isalpha():
            raise SettingsError(f"BASE_CURRENCY: expected an ISO 4217 code, got {currency!r}")
        config_file = env.get("AUDIENCESYNC_CONFIG")
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            kafka_partitions=partitions,
            kafka_session_timeout_ms=int(
                env_bounded(env, "KAFKA_SESSION_TIMEOUT_MS", 10_000, 3_000, 300_000)
            ),
            config_file=Path(config_file) if config_file else None,
            log_format=log_format,
            log_level=log_level,
            shop=env.get("SHOP", "default"),
            base_currency=currency,
            shopify_webhook_secret=read_secret(env, "SHOPIFY_WEBHOOK_SECRET"),
            helpdesk_webhook_secret=read_secret(env, "HELPDESK_WEBHOOK_SECRET"),
            dashboard_secret=read_secret(env, "DASHBOARD_SECRET"),
            api_port=_int(env, "API_PORT", 8080),
            api_host=env.get("API_HOST") or None,
            api_rate_per_second=env_bounded(env, "API_RATE_PER_SECOND", 20.0, 0),
            api_rate_burst=int(env_bounded(env, "API_RATE_BURST", 60, 1)),
            metrics_port=int(env_bounded(env, "METRICS_PORT", 0, 0)),
            ci=env_bool(env, "CI", False),
            **_refresh_settings(env),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (CLI flags win over the environment)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def child_environ(self) -> dict[str, str]:
        """The environment that gives a child process these same settings."""
        env = dict(os.environ)
        env.pop("METRICS_PORT", None)  # one port serves one process, never its children too
        env["AUDIENCESYNC_VAR_DIR"] = str(self.var_dir)
        env["DATABASE_URL"] = self.database_url
        env["KAFKA_PARTITIONS"] = str(self.kafka_partitions)
        env["KAFKA_SESSION_TIMEOUT_MS"] = str(self.kafka_session_timeout_ms)
        env["LOG_FORMAT"] = self.log_format
        env["LOG_LEVEL"] = self.log_level
        env["SHOP"] = self.shop
        env["BASE_CURRENCY"] = self.base_currency
        env["API_RATE_PER_SECOND"] = str(self.api_rate_per_second)
        env["API_RATE_BURST"] = str(self.api_rate_burst)
        env["REFRESH_CRON"] = self.refresh_cron
        env["REFRESH_TIMEZONE"] = self.refresh_timezone
        if self.kafka_bootstrap:
            env["KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap
        if self.config_file:
            env["AUDIENCESYNC_CONFIG"] = str(self.config_file)
        if self.shopify_webhook_secret:
            env["SHOPIFY_WEBHOOK_SECRET"] = self.shopify_webhook_secret
        if self.helpdesk_webhook_secret:
            env["HELPDESK_WEBHOOK_SECRET"] = self.helpdesk_webhook_secret
        if self.dashboard_secret:
            env["DASHBOARD_SECRET"] = self.dashboard_secret
        return env
