"""The Google syncer's settings, read from the environment once at start (``GOOGLE_*``).

The only reader of the ``GOOGLE_*`` variables; names and defaults are documented in
docs/syncer-google.md. Errors raise ``SettingsError`` naming the variable.

Credentials: an OAuth access token (``GOOGLE_ACCESS_TOKEN`` or its ``_FILE``, e.g. minted by a
sidecar or ``gcloud auth print-access-token``), else Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``: a service-account key or workload identity) with the
Data Manager and Google Ads scopes. The developer token is needed only by the Google Ads API.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.syncer_google.domain.members import ADS_MEMBERS_PER_REQUEST
from shared.config import SettingsError, env_bool, env_bounded, env_choice, read_secret
from shared.sync.google_consent import Elsewhere

DATAMANAGER_ENDPOINT = "datamanager.googleapis.com"
GOOGLE_ADS_ENDPOINT = "googleads.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/datamanager", "https://www.googleapis.com/auth/adwords")
MAX_BATCH = ADS_MEMBERS_PER_REQUEST  # the larger path's cap (Google Ads API); Data Manager takes 10,000
_CUSTOMER = re.compile(r"^[0-9]{3}-?[0-9]{3}-?[0-9]{4}$")


def _customer_id(name: str, raw: str) -> str:
    """A 10-digit Google Ads customer id (dashes as shown in the Google Ads UI are accepted)."""
    if not _CUSTOMER.match(raw.strip()):
        raise SettingsError(f"{name}: {raw!r} is not a Google Ads customer id (10 digits, e.g. 123-456-7890)")
    return raw.strip().replace("-", "")


@dataclass(frozen=True)
class GoogleSettings:
    """Endpoints, accounts, credentials, quotas, batching, guardrails (docs/syncer-google.md)."""

    customers: tuple[str, ...] = ()  # operating accounts (GOOGLE_CUSTOMERS)
    login_customer: str | None = None  # the manager account signed in through, if any
    access_token: str | None = field(default=None, repr=False)
    developer_token: str | None = field(default=None, repr=False)
    datamanager_endpoint: str = DATAMANAGER_ENDPOINT
    google_ads_endpoint: str = GOOGLE_ADS_ENDPOINT
    ca_file: Path | None = None  # a private certificate authority (the sandbox's ca.pem)
    project: str = "default"  # names the shared request budget (one per Google Cloud project)
    requests_per_minute: int = 300  # Data Manager: 300 requests a minute per project
    requests_per_day: int = 100_000  # ... and 100,000 a day
    ads_operations_per_day: int = 15_000  # Google Ads API Basic access
    consent_elsewhere: Elsewhere = Elsewhere.MARKETING
    batch_size: int = MAX_BATCH  # each path uses the smaller of this and its cap (Data Manager 10,000)
    flush_size: int = 1_000
    flush_seconds: float = 30.0
    min_audience_size: int = 100
    max_remove_share: float = 0.2
    refresh_share: float = 0.5  # re-send members after this share of the list's membership life span
    sync_on_start: bool = True
    max_attempts: int = 6
    retry_base_seconds: float = 1.0  # first backoff after a transient error; doubles each attempt
    max_quota_wait: float = 900.0
    request_wait: float = 3_600.0  # how long a batch may wait for Google to apply it
    timeout_seconds: float = 120.0
    snapshot_max_age: float = 6 * 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GoogleSettings:
        """Read and validate the ``GOOGLE_*`` variables; a bad value raises ``SettingsError``."""
        env = os.environ if environ is None else environ
        customers = tuple(
            dict.fromkeys(
                _customer_id("GOOGLE_CUSTOMERS", c)
                for c in env.get("GOOGLE_CUSTOMERS", "").split(",")
                if c.strip()
            )
        )
        login = env.get("GOOGLE_LOGIN_CUSTOMER", "").strip()
        elsewhere = env_choice(env, "GOOGLE_CONSENT_ELSEWHERE", Elsewhere, Elsewhere.MARKETING)
        ca = env.get("GOOGLE_CA_FILE", "").strip()
        if ca and not Path(ca).is_file():
            raise SettingsError(f"GOOGLE_CA_FILE: {ca} is not a readable file")
        return cls(
            customers=customers,
            login_customer=_customer_id("GOOGLE_LOGIN_CUSTOMER", login) if login else None,
            access_token=read_secret(env, "GOOGLE_ACCESS_TOKEN"),
            developer_token=read_secret(env, "GOOGLE_DEVELOPER_TOKEN"),
            datamanager_endpoint=env.get("GOOGLE_DATAMANAGER_ENDPOINT", DATAMANAGER_ENDPOINT).strip(),
            google_ads_endpoint=env.get("GOOGLE_ADS_ENDPOINT", GOOGLE_ADS_ENDPOINT).strip(),
            ca_file=Path(ca) if ca else None,
            project=env.get("GOOGLE_PROJECT", "default").strip() or "default",
            requests_per_minute=int(env_bounded(env, "GOOGLE_REQUESTS_PER_MINUTE", 300, 1)),
            requests_per_day=int(env_bounded(env, "GOOGLE_REQUESTS_PER_DAY", 100_000, 1)),
            ads_operations_per_day=int(env_bounded(env, "GOOGLE_ADS_OPERATIONS_PER_DAY", 15_000, 0)),
            consent_elsewhere=elsewhere,
            batch_size=int(env_bounded(env, "GOOGLE_BATCH_SIZE", MAX_BATCH, 1, MAX_BATCH)),
            flush_size=int(env_bounded(env, "GOOGLE_FLUSH_SIZE", 1_000, 1)),
            flush_seconds=env_bounded(env, "GOOGLE_FLUSH_SECONDS", 30.0, 0),
            min_audience_size=int(env_bounded(env, "GOOGLE_MIN_AUDIENCE_SIZE", 100, 0)),
            max_remove_share=env_bounded(env, "GOOGLE_MAX_REMOVE_SHARE", 0.2, 0, 1),
            refresh_share=env_bounded(env, "GOOGLE_REFRESH_SHARE", 0.5, 0.05, 0.95),
            sync_on_start=env_bool(env, "GOOGLE_SYNC_ON_START", True),
            max_attempts=int(env_bounded(env, "GOOGLE_MAX_ATTEMPTS", 6, 1)),
            retry_base_seconds=env_bounded(env, "GOOGLE_RETRY_BASE_SECONDS", 1.0, 0.01),
            max_quota_wait=env_bounded(env, "GOOGLE_MAX_QUOTA_WAIT", 900.0, 0),
            request_wait=env_bounded(env, "GOOGLE_REQUEST_WAIT", 3_600.0, 1),
            timeout_seconds=env_bounded(env, "GOOGLE_TIMEOUT_SECONDS", 120.0, 1),
            snapshot_max_age=env_bounded(env, "GOOGLE_SNAPSHOT_MAX_AGE", 6 * 3600.0, 0),
        )

    def credentials(self) -> Any:
        """OAuth credentials: the configured access token, else Application Default Credentials."""
        if self.access_token:
            from google.oauth2.credentials import Credentials

            return Credentials(token=self.access_token)  # type: ignore[no-untyped-call]
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=list(SCOPES))
        except DefaultCredentialsError as exc:
            raise SettingsError(
                "GOOGLE_ACCESS_TOKEN: no Google credentials (set GOOGLE_ACCESS_TOKEN or its _FILE, or "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account key)"
            ) from exc
        return credentials

    def ca_pem(self) -> bytes | None:
        """The private certificate authority's PEM, when one is configured."""
        return self.ca_file.read_bytes() if self.ca_file is not None else None

    def child_environ(self) -> dict[str, str]:
        """The ``GOOGLE_*`` variables that give a child process these same settings."""
        env = {
            "GOOGLE_DATAMANAGER_ENDPOINT": self.datamanager_endpoint,
            "GOOGLE_ADS_ENDPOINT": self.google_ads_endpoint,
            "GOOGLE_PROJECT": self.project,
            "GOOGLE_CONSENT_ELSEWHERE": self.consent_elsewhere.value,
        }
        if self.customers:
            env["GOOGLE_CUSTOMERS"] = ",".join(self.customers)
        if self.login_customer:
            env["GOOGLE_LOGIN_CUSTOMER"] = self.login_customer
        if self.access_token:
            env["GOOGLE_ACCESS_TOKEN"] = self.access_token
        if self.developer_token:
            env["GOOGLE_DEVELOPER_TOKEN"] = self.developer_token
        if self.ca_file is not None:
            env["GOOGLE_CA_FILE"] = str(self.ca_file)
        return env
