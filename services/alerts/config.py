"""The alerts' settings, read from the environment once (``ALERT_*``; docs/alerts.md).

The only reader of the ``ALERT_*`` variables. ``ALERT_WEBHOOK_URL`` is a secret (a Slack
incoming-webhook URL carries its own credential), so it may come from ``ALERT_WEBHOOK_URL_FILE``
and is kept out of ``repr`` and every log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.config import SettingsError, env_bounded, read_secret


@dataclass(frozen=True)
class TokenExpiry:
    """When an operator says a platform token expires (the platforms do not tell us on a sync)."""

    platform: str
    account: str | None  # None: every account of the platform
    expires_at: datetime


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and when a condition is an incident."""

    webhook_url: str | None = field(default=None, repr=False)  # None: incidents recorded, nothing sent
    match_rate_drop: float = 0.10  # absolute drop (0.10 = 10 points) between two snapshots
    shrink_share: float = 0.20  # platform size down this share between two snapshots
    min_size: int = 100  # smaller audiences are not judged on shrink or match rate (noise)
    dead_letter_growth: int = 10  # unresolved dead letters of one consumer within the window
    dead_letter_window: float = 3600.0  # seconds
    token_expiry: tuple[TokenExpiry, ...] = ()
    token_warn_days: float = 7.0  # an expiry this close opens an incident
    check_seconds: float = 60.0  # the scheduler's cadence
    timeout_seconds: float = 5.0  # one webhook post

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """Read and validate ``ALERT_*``; a bad value raises ``SettingsError`` naming the variable."""
        env = os.environ if environ is None else environ
        url = read_secret(env, "ALERT_WEBHOOK_URL")
        if url and not url.startswith(("http://", "https://")):
            raise SettingsError("ALERT_WEBHOOK_URL: expected an http(s) URL")  # never echo the secret
        return cls(
            webhook_url=url,
            match_rate_drop=env_bounded(env, "ALERT_MATCH_RATE_DROP", 0.10, 0, 1),
            shrink_share=env_bounded(env, "ALERT_SHRINK_SHARE", 0.20, 0, 1),
            min_size=int(env_bounded(env, "ALERT_MIN_SIZE", 100, 0)),
            dead_letter_growth=int(env_bounded(env, "ALERT_DEAD_LETTER_GROWTH", 10, 1)),
            dead_letter_window=60 * env_bounded(env, "ALERT_DEAD_LETTER_WINDOW_MINUTES", 60, 1),
            token_expiry=parse_token_expiry(env.get("ALERT_TOKEN_EXPIRES", "")),
            token_warn_days=env_bounded(env, "ALERT_TOKEN_EXPIRY_DAYS", 7, 0),
            check_seconds=env_bounded(env, "ALERT_CHECK_SECONDS", 60, 1),
            timeout_seconds=env_bounded(env, "ALERT_TIMEOUT_SECONDS", 5, 0.1, 60),
        )


def parse_token_expiry(raw: str) -> tuple[TokenExpiry, ...]:
    """``meta:act_1=2027-01-31,google=2027-03-01T12:00`` (UTC when no offset is given)."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        target, _, when = item.partition("=")
        platform, _, account = target.strip().partition(":")
        if platform not in {"meta", "google"} or not when:
            raise SettingsError(f"ALERT_TOKEN_EXPIRES: expected platform[:account]=DATE, got {item!r}")
        try:
            at = datetime.fromisoformat(when.strip())
        except ValueError:
            raise SettingsError(f"ALERT_TOKEN_EXPIRES: {when.strip()!r} is not an ISO date") from None
        found.append(TokenExpiry(platform, account or None, at if at.tzinfo else at.replace(tzinfo=UTC)))
    return tuple(found)
