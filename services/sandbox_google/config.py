"""Configuration of the Google sandbox, validated once at start (CLI flags or a test's config).

``GoogleSandboxConfig`` names the OAuth access tokens, developer tokens and Google Ads accounts the
sandbox accepts, where state and the TLS certificate live, the quotas, the simulated match rate,
how long asynchronous work takes, and the faults active from the first request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.sandbox_google.domain.quotas import QuotaLimits

_CUSTOMER = re.compile(r"^[0-9]{10}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


class ConfigError(ValueError):
    """A sandbox setting is malformed; the message names it."""


@dataclass(frozen=True)
class GoogleSandboxConfig:
    """Everything the sandbox needs to start; tokens are excluded from ``repr``."""

    access_tokens: tuple[str, ...] = field(default=("sandbox-token",), repr=False)
    # Google Ads API developer tokens: known ones pass authentication; only allowlisted ones may
    # use Customer Match (OfflineUserDataJobService) since 2026-04-01.
    developer_tokens: tuple[str, ...] = field(default=(), repr=False)
    allowlisted_developer_tokens: tuple[str, ...] = field(default=("sandbox-dev-token",), repr=False)
    customers: tuple[str, ...] = ("1234567890",)  # client (operating) accounts
    login_customers: tuple[str, ...] = ()  # managers of every customer (valid login accounts)
    declined_tos_customers: tuple[str, ...] = ()  # accounts without Customer Match terms accepted
    cert_dir: Path | None = None  # None: a temporary directory chosen by the server
    tls_names: tuple[str, ...] = ()  # host names the certificate is valid for besides localhost
    state_path: Path | None = None  # None: in memory
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    admin_port: int = 0  # loopback admin HTTP endpoint; 0: any free port
    threads: int = 8
    match_rate: float = 1.0
    processing_seconds: float = 1.0  # Data Manager request: PROCESSING for this long
    job_seconds: float = 1.0  # Ads API offline user data job: RUNNING for this long
    quotas: QuotaLimits = field(default_factory=QuotaLimits)
    transient_error_rate: float = 0.0
    fault_seed: int = 0
    latency_ms: int = 0
    expired_tokens: tuple[str, ...] = field(default=(), repr=False)
    quota_window_seconds: int = 0  # a quota window open from the start (RESOURCE_EXHAUSTED)
    concurrent_modifications: int = 0  # the first N Ads API job mutates answer CONCURRENT_MODIFICATION
    # (key_pem, cert_pem) to serve with instead of a new identity (a test session's one CA).
    tls_identity: tuple[bytes, bytes] | None = field(default=None, repr=False)

    @property
    def all_developer_tokens(self) -> frozenset[str]:
        """Every developer token that authenticates (allowlisted or not)."""
        return frozenset(self.developer_tokens) | frozenset(self.allowlisted_developer_tokens)

    def validated(self) -> GoogleSandboxConfig:
        """A copy with de-duplicated ids; raises ``ConfigError`` naming the bad setting."""
        if not self.access_tokens:
            raise ConfigError("--access-token: at least one access token is required")
        for name in ("access_tokens", "developer_tokens", "allowlisted_developer_tokens"):
            if any(not t or any(c.isspace() for c in t) for t in getattr(self, name)):
                raise ConfigError(f"{name}: tokens must be non-empty and contain no spaces")
        if not self.customers:
            raise ConfigError("--customer: at least one Google Ads customer id is required")
        customers = tuple(dict.fromkeys(customer_id(c, "--customer") for c in self.customers))
        logins = tuple(dict.fromkeys(customer_id(c, "--login-customer") for c in self.login_customers))
        declined = tuple(customer_id(c, "--decline-tos") for c in self.declined_tos_customers)
        if not 0.0 <= self.match_rate <= 1.0:
            raise ConfigError("--match-rate: must be between 0 and 1")
        if not 0.0 <= self.transient_error_rate <= 1.0:
            raise ConfigError("--transient-error-rate: must be between 0 and 1")
        for name in ("processing_seconds", "job_seconds", "latency_ms", "port", "admin_port"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must not be negative")
        if self.quota_window_seconds < 0:
            raise ConfigError("--quota-window: must not be negative")
        if self.concurrent_modifications < 0:
            raise ConfigError("--concurrent-modifications: must not be negative")
        if self.threads < 1:
            raise ConfigError("--threads: must be at least 1")
        for name in self.tls_names:
            if not _HOST_NAME.match(name):
                raise ConfigError(f"--tls-name {name!r}: expected a DNS host name")
        return replace(self, customers=customers, login_customers=logins, declined_tos_customers=declined)


def customer_id(raw: str, flag: str = "customer id") -> str:
    """``123-456-7890`` or ``1234567890`` -> ``1234567890``; anything else is a ``ConfigError``."""
    digits = raw.strip().replace("-", "")
    if not _CUSTOMER.match(digits):
        raise ConfigError(f"{flag} {raw!r}: expected a 10-digit Google Ads customer id")
    return digits
