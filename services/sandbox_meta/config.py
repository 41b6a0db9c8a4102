"""Configuration of the Meta sandbox, validated once at start (CLI flags or a test's config).

``SandboxConfig`` seeds the tokens and ad accounts the sandbox accepts, where state lives, the
call budget, the simulated match rate and the faults active from the first request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.sandbox_meta.domain.audience import (
    MAX_CUSTOM_PER_ACCOUNT,
    MAX_LOOKALIKES_PER_ACCOUNT,
    REPLACE_MAX_MEMBERS,
)

LATEST_VERSION = "v26.0"  # what facebook-business 26.0.3 sends
MIN_VERSION = 24  # versions below v24 answer 2635 (deprecated) in this sandbox

THROTTLE_CODES = (4, 17, 613, 80003)  # app, user, ad-account and custom_audience BUC limits
_ACCOUNT = re.compile(r"^(act_)?([0-9]{1,20})$")


class ConfigError(ValueError):
    """A sandbox setting is malformed; the message names it."""


@dataclass(frozen=True)
class AccountPolicy:
    """Per-account terms and business link; any False makes writes fail with code 200."""

    tos_accepted: bool = True
    value_based_tos_accepted: bool = True
    business_linked: bool = True


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the sandbox needs to start; secrets are excluded from ``repr``."""

    access_tokens: tuple[str, ...] = ("sandbox-token",)
    read_only_tokens: tuple[str, ...] = ()  # valid tokens without ads_management (code 294)
    app_secret: str | None = field(default=None, repr=False)
    ad_accounts: tuple[str, ...] = ("act_1000",)
    admin_token: str | None = field(default=None, repr=False)
    state_path: Path | None = None  # None: in memory
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    threads: int = 8
    min_version: int = MIN_VERSION
    latest_version: str = LATEST_VERSION
    match_rate: float = 1.0
    known_hashes: frozenset[str] | None = field(default=None, repr=False)
    budget_points: int = 9_000  # standard-tier ad-account score per window
    budget_window_seconds: int = 300
    transient_error_rate: float = 0.0
    fault_seed: int = 0
    latency_ms: int = 0
    lookalike_build_seconds: int = 0  # Meta: 1-6 hours; 0 makes lookalikes ready at once
    replace_max_members: int = REPLACE_MAX_MEMBERS
    max_custom_audiences: int = MAX_CUSTOM_PER_ACCOUNT
    max_lookalikes: int = MAX_LOOKALIKES_PER_ACCOUNT
    policies: dict[str, AccountPolicy] = field(default_factory=dict)
    expired_tokens: tuple[str, ...] = ()  # known tokens that answer 190/463 from the start
    # Throttling windows open from the start: (seconds, code, account or None for all).
    throttle_windows: tuple[tuple[int, int, str | None], ...] = ()

    def validated(self) -> SandboxConfig:
        """A copy with normalised accounts; raises ``ConfigError`` naming the bad setting."""
        if not self.access_tokens and not self.read_only_tokens:
            raise ConfigError("access_tokens: at least one access token is required")
        if any(not t or any(c.isspace() for c in t) for t in self.access_tokens):
            raise ConfigError("access_tokens: tokens must be non-empty and contain no spaces")
        if not self.ad_accounts:
            raise ConfigError("ad_accounts: at least one ad account (act_N) is required")
        if not 0.0 <= self.match_rate <= 1.0:
            raise ConfigError("match_rate: must be between 0 and 1")
        if not 0.0 <= self.transient_error_rate <= 1.0:
            raise ConfigError("transient_error_rate: must be between 0 and 1")
        for name in ("budget_points", "budget_window_seconds", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1")
        for name in ("latency_ms", "lookalike_build_seconds", "port"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must not be negative")
        for seconds, code, _ in self.throttle_windows:
            if seconds < 1 or code not in THROTTLE_CODES:
                raise ConfigError(f"throttle_windows: need seconds >= 1 and a code in {THROTTLE_CODES}")
        accounts = tuple(dict.fromkeys(normalise_account(a) for a in self.ad_accounts))
        policies = {normalise_account(a): p for a, p in self.policies.items()}
        return replace(self, ad_accounts=accounts, policies=policies)


def normalise_account(raw: str) -> str:
    """``123`` or ``act_123`` -> ``act_123``; anything else is a ``ConfigError``."""
    match = _ACCOUNT.match(raw.strip())
    if not match:
        raise ConfigError(f"ad account {raw!r}: expected act_<digits>")
    return f"act_{match.group(2)}"
