"""Process settings from the environment (12-factor), validated once at start.

This is the only module that reads ``os.environ``; everything else receives a ``Settings``.
Defaults give the embedded mode: SQLite under ``./var/``, an embedded broker, the sandboxes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _secret(environ: Mapping[str, str], name: str) -> str | None:
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


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
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


META_GRAPH_URL = "https://graph.facebook.com"
META_API_VERSION = "v26.0"  # what facebook-business 26.0.3 sends by default
META_MAX_BATCH = 10_000  # Meta: at most 10,000 rows per /users or /usersreplace request
META_CONSENT_POLICIES = ("marketing", "strict", "any")
_META_ACCOUNT = re.compile(r"^(act_)?([0-9]{1,20})$")


@dataclass(frozen=True)
class MetaAccount:
    """One Meta ad account with its own credentials and request budget (agencies run several)."""

    account_id: str  # act_<digits>
    access_token: str = field(repr=False)
    app_secret: str | None = field(default=None, repr=False)
    app_id: str | None = None
    requests_per_minute: int = 300

    @property
    def env_suffix(self) -> str:
        """``ACT_123``: the suffix of this account's own variables (``META_ACCESS_TOKEN_ACT_123``)."""
        return self.account_id.upper()


def _meta_accounts(env: Mapping[str, str]) -> tuple[MetaAccount, ...]:
    """``META_ACCOUNTS=act_1,act_2``; each account's ``*_ACT_N`` variables win over the shared ones."""
    raw = [a.strip() for a in env.get("META_ACCOUNTS", "").split(",") if a.strip()]
    accounts: list[MetaAccount] = []
    for item in dict.fromkeys(raw):
        match = _META_ACCOUNT.match(item)
        if not match:
            raise SettingsError(f"META_ACCOUNTS: {item!r} is not an ad account id (act_<digits>)")
        account_id = f"act_{match.group(2)}"
        suffix = account_id.upper()
        token = _secret(env, f"META_ACCESS_TOKEN_{suffix}") or _secret(env, "META_ACCESS_TOKEN")
        if not token:
            raise SettingsError(
                f"META_ACCESS_TOKEN_{suffix}: no access token for {account_id} "
                f"(set it, its _FILE, or META_ACCESS_TOKEN for every account)"
            )
        budget_name = f"META_REQUEST_BUDGET_{suffix}"
        budget_name = budget_name if env.get(budget_name) else "META_REQUEST_BUDGET"
        budget = int(_bounded(env, budget_name, 300, 1))
        accounts.append(
            MetaAccount(
                account_id=account_id,
                access_token=token,
                app_secret=_secret(env, f"META_APP_SECRET_{suffix}") or _secret(env, "META_APP_SECRET"),
                app_id=env.get(f"META_APP_ID_{suffix}") or env.get("META_APP_ID") or None,
                requests_per_minute=budget,
            )
        )
    return tuple(accounts)


def _bounded(
    env: Mapping[str, str], name: str, default: float, low: float, high: float | None = None
) -> float:
    value = _float(env, name, default)
    if value < low or (high is not None and value > high):
        raise SettingsError(
            f"{name}: must be between {low:g} and {high:g}" if high else f"{name}: must be >= {low:g}"
        )
    return value


def _meta_settings(env: Mapping[str, str]) -> dict[str, object]:
    """The ``meta_*`` fields of ``Settings``, validated; errors name the variable."""
    graph_url = env.get("META_GRAPH_URL", META_GRAPH_URL).rstrip("/")
    if not graph_url.startswith(("http://", "https://")):
        raise SettingsError(f"META_GRAPH_URL: expected an http(s) URL, got {graph_url!r}")
    version = env.get("META_API_VERSION", META_API_VERSION)
    if not re.fullmatch(r"v[0-9]+\.[0-9]+", version):
        raise SettingsError(f"META_API_VERSION: expected a Graph version like v26.0, got {version!r}")
    consent = env.get("META_CONSENT", "marketing")
    if consent not in META_CONSENT_POLICIES:
        allowed = ", ".join(META_CONSENT_POLICIES)
        raise SettingsError(f"META_CONSENT: expected one of {allowed}, got {consent!r}")
    return {
        "meta_graph_url": graph_url,
        "meta_api_version": version,
        "meta_accounts": _meta_accounts(env),
        "meta_batch_size": int(_bounded(env, "META_BATCH_SIZE", META_MAX_BATCH, 1, META_MAX_BATCH)),
        "meta_flush_size": int(_bounded(env, "META_FLUSH_SIZE", 1_000, 1)),
        "meta_flush_seconds": _bounded(env, "META_FLUSH_SECONDS", 30.0, 0),
        "meta_min_audience_size": int(_bounded(env, "META_MIN_AUDIENCE_SIZE", 100, 0)),
        "meta_max_remove_share": _bounded(env, "META_MAX_REMOVE_SHARE", 0.2, 0, 1),
        "meta_consent": consent,
        "meta_sync_on_start": _bool(env, "META_SYNC_ON_START", True),
        "meta_max_attempts": int(_bounded(env, "META_MAX_ATTEMPTS", 6, 1)),
        "meta_max_throttle_wait": _bounded(env, "META_MAX_THROTTLE_WAIT", 900.0, 0),
        "meta_timeout_seconds": _bounded(env, "META_TIMEOUT_SECONDS", 300.0, 1),
        "meta_snapshot_max_age": _bounded(env, "META_SNAPSHOT_MAX_AGE", 6 * 3600.0, 0),
    }


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
    config_file: Path | None = None  # YAML with ICP rules and audience definitions
    log_format: str = "console"  # console | json
    log_level: str = "INFO"
    shop: str = "default"
    base_currency: str = "USD"
    shopify_webhook_secret: str | None = field(default=None, repr=False)
    helpdesk_webhook_secret: str | None = field(default=None, repr=False)
    api_port: int = 8080
    api_host: str | None = None  # None: 127.0.0.1 (``serve api --host`` wins)
    api_rate_per_second: float = 20.0  # per API token and process; 0 disables (docs/api.md)
    api_rate_burst: int = 60  # requests a token may make at once before the rate applies
    refresh_cron: str = "0 2 * * *"  # the nightly refresh (docs/api.md, "Scheduler")
    refresh_timezone: str = "UTC"  # IANA zone the cron expression is read in
    ci: bool = False
    # Meta syncer (docs/syncer-meta.md): Graph endpoint, ad accounts, batching, guardrails, pacing.
    meta_graph_url: str = META_GRAPH_URL
    meta_api_version: str = META_API_VERSION
    meta_accounts: tuple[MetaAccount, ...] = ()
    meta_batch_size: int = META_MAX_BATCH
    meta_flush_size: int = 1_000  # labels.changed keys gathered before an incremental sync
    meta_flush_seconds: float = 30.0  # ... or this long after the first pending key
    meta_min_audience_size: int = 100  # Meta's delivery / lookalike-seed floor
    meta_max_remove_share: float = 0.2  # more removals than this share of an audience needs --force
    meta_consent: str = "marketing"  # marketing | strict | any
    meta_sync_on_start: bool = True
    meta_max_attempts: int = 6  # per call, for transient errors
    meta_max_throttle_wait: float = 900.0  # seconds a call may wait out throttling before the run stops
    meta_timeout_seconds: float = 300.0
    meta_snapshot_max_age: float = 6 * 3600.0  # read sizes back after a no-change run older than this

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; a bad value raises ``SettingsError`` naming the variable."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("AUDIENCESYNC_VAR_DIR", "var"))
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'audiencesync.db'}"
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
            config_file=Path(config_file) if config_file else None,
            log_format=log_format,
            log_level=log_level,
            shop=env.get("SHOP", "default"),
            base_currency=currency,
            shopify_webhook_secret=_secret(env, "SHOPIFY_WEBHOOK_SECRET"),
            helpdesk_webhook_secret=_secret(env, "HELPDESK_WEBHOOK_SECRET"),
            api_port=_int(env, "API_PORT", 8080),
            api_host=env.get("API_HOST") or None,
            api_rate_per_second=_bounded(env, "API_RATE_PER_SECOND", 20.0, 0),
            api_rate_burst=int(_bounded(env, "API_RATE_BURST", 60, 1)),
            ci=_bool(env, "CI", False),
            **_refresh_settings(env),  # type: ignore[arg-type]
            **_meta_settings(env),  # type: ignore[arg-type]
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (CLI flags win over the environment)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def child_environ(self) -> dict[str, str]:
        """The environment that gives a child process these same settings."""
        env = dict(os.environ)
        env["AUDIENCESYNC_VAR_DIR"] = str(self.var_dir)
        env["DATABASE_URL"] = self.database_url
        env["KAFKA_PARTITIONS"] = str(self.kafka_partitions)
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
        env["META_GRAPH_URL"] = self.meta_graph_url
        env["META_API_VERSION"] = self.meta_api_version
        if self.meta_accounts:
            env["META_ACCOUNTS"] = ",".join(a.account_id for a in self.meta_accounts)
        for account in self.meta_accounts:
            env[f"META_ACCESS_TOKEN_{account.env_suffix}"] = account.access_token
            env[f"META_REQUEST_BUDGET_{account.env_suffix}"] = str(account.requests_per_minute)
            if account.app_secret:
                env[f"META_APP_SECRET_{account.env_suffix}"] = account.app_secret
            if account.app_id:
                env[f"META_APP_ID_{account.env_suffix}"] = account.app_id
        return env
