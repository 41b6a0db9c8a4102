"""The Meta syncer's settings, read from the environment once at start (``META_*``).

The only reader of the ``META_*`` variables; names and defaults are documented in
docs/syncer-meta.md. Errors raise ``SettingsError`` naming the variable, like the shared settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.config import SettingsError, env_bool, env_bounded, env_choice, read_secret
from shared.sync.membership import Consent

META_GRAPH_URL = "https://graph.facebook.com"
META_API_VERSION = "v26.0"  # what facebook-business 26.0.3 sends by default
META_MAX_BATCH = 10_000  # Meta: at most 10,000 rows per /users or /usersreplace request
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
        token = read_secret(env, f"META_ACCESS_TOKEN_{suffix}") or read_secret(env, "META_ACCESS_TOKEN")
        if not token:
            raise SettingsError(
                f"META_ACCESS_TOKEN_{suffix}: no access token for {account_id} "
                f"(set it, its _FILE, or META_ACCESS_TOKEN for every account)"
            )
        budget_name = f"META_REQUEST_BUDGET_{suffix}"
        budget_name = budget_name if env.get(budget_name) else "META_REQUEST_BUDGET"
        budget = int(env_bounded(env, budget_name, 300, 1))
        accounts.append(
            MetaAccount(
                account_id=account_id,
                access_token=token,
                app_secret=read_secret(env, f"META_APP_SECRET_{suffix}")
                or read_secret(env, "META_APP_SECRET"),
                app_id=env.get(f"META_APP_ID_{suffix}") or env.get("META_APP_ID") or None,
                requests_per_minute=budget,
            )
        )
    return tuple(accounts)


@dataclass(frozen=True)
class MetaSettings:
    """Graph endpoint, ad accounts, batching, guardrails, pacing (docs/syncer-meta.md)."""

    graph_url: str = META_GRAPH_URL
    api_version: str = META_API_VERSION
    accounts: tuple[MetaAccount, ...] = ()
    batch_size: int = META_MAX_BATCH
    flush_size: int = 1_000  # labels.changed keys gathered before an incremental sync
    flush_seconds: float = 30.0  # ... or this long after the first pending key
    min_audience_size: int = 100  # Meta's delivery / lookalike-seed floor
    max_remove_share: float = 0.2  # more removals than this share of an audience needs --force
    consent: str = "marketing"  # marketing | strict | any
    sync_on_start: bool = True
    max_attempts: int = 6  # per call, for transient errors
    max_throttle_wait: float = 900.0  # seconds a call may wait out throttling before the run stops
    timeout_seconds: float = 300.0
    snapshot_max_age: float = 6 * 3600.0  # read sizes back after a no-change run older than this

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MetaSettings:
        """Read and validate the ``META_*`` variables; a bad value raises ``SettingsError``."""
        env = os.environ if environ is None else environ
        graph_url = env.get("META_GRAPH_URL", META_GRAPH_URL).rstrip("/")
        if not graph_url.startswith(("http://", "https://")):
            raise SettingsError(f"META_GRAPH_URL: expected an http(s) URL, got {graph_url!r}")
        version = env.get("META_API_VERSION", META_API_VERSION)
        if not re.fullmatch(r"v[0-9]+\.[0-9]+", version):
            raise SettingsError(f"META_API_VERSION: expected a Graph version like v26.0, got {version!r}")
        consent = env_choice(env, "META_CONSENT", Consent, Consent.MARKETING).value
        return cls(
            graph_url=graph_url,
            api_version=version,
            accounts=_meta_accounts(env),
            batch_size=int(env_bounded(env, "META_BATCH_SIZE", META_MAX_BATCH, 1, META_MAX_BATCH)),
            flush_size=int(env_bounded(env, "META_FLUSH_SIZE", 1_000, 1)),
            flush_seconds=env_bounded(env, "META_FLUSH_SECONDS", 30.0, 0),
            min_audience_size=int(env_bounded(env, "META_MIN_AUDIENCE_SIZE", 100, 0)),
            max_remove_share=env_bounded(env, "META_MAX_REMOVE_SHARE", 0.2, 0, 1),
            consent=consent,
            sync_on_start=env_bool(env, "META_SYNC_ON_START", True),
            max_attempts=int(env_bounded(env, "META_MAX_ATTEMPTS", 6, 1)),
            max_throttle_wait=env_bounded(env, "META_MAX_THROTTLE_WAIT", 900.0, 0),
            timeout_seconds=env_bounded(env, "META_TIMEOUT_SECONDS", 300.0, 1),
            snapshot_max_age=env_bounded(env, "META_SNAPSHOT_MAX_AGE", 6 * 3600.0, 0),
        )

    def child_environ(self) -> dict[str, str]:
        """The ``META_*`` variables that give a child process these same settings."""
        env = {"META_GRAPH_URL": self.graph_url, "META_API_VERSION": self.api_version}
        if self.accounts:
            env["META_ACCOUNTS"] = ",".join(a.account_id for a in self.accounts)
        for account in self.accounts:
            env[f"META_ACCESS_TOKEN_{account.env_suffix}"] = account.access_token
            env[f"META_REQUEST_BUDGET_{account.env_suffix}"] = str(account.requests_per_minute)
            if account.app_secret:
                env[f"META_APP_SECRET_{account.env_suffix}"] = account.app_secret
            if account.app_id:
                env[f"META_APP_ID_{account.env_suffix}"] = account.app_id
        return env
