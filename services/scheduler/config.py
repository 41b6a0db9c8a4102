"""The scheduler's own settings, read from the environment once at start (``ALERT_*``).

Alerts go to a Slack-compatible incoming webhook (``ALERT_WEBHOOK_URL`` or ``_FILE``; unset: no
alerts are sent, incidents are still recorded). Thresholds are documented in docs/api.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.config import SettingsError, env_bounded, read_secret


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and when a signal is an incident."""

    webhook_url: str | None = field(default=None, repr=False)  # holds a secret path segment
    match_rate_drop: float = 0.10  # absolute drop against the previous successful run
    shrink_share: float = 0.20  # platform size down this share against the window's largest
    dead_letter_growth: int = 10  # unresolved dead letters added within the last hour
    check_every: float = 60.0  # seconds between checks

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """Read and validate; a bad value raises ``SettingsError`` naming the variable."""
        env = os.environ if environ is None else environ
        url = read_secret(env, "ALERT_WEBHOOK_URL")
        if url and not url.startswith(("http://", "https://")):
            raise SettingsError("ALERT_WEBHOOK_URL: expected an http(s) URL")
        return cls(
            webhook_url=url,
            match_rate_drop=env_bounded(env, "ALERT_MATCH_RATE_DROP", 0.10, 0, 1),
            shrink_share=env_bounded(env, "ALERT_SHRINK_SHARE", 0.20, 0, 1),
            dead_letter_growth=int(env_bounded(env, "ALERT_DEAD_LETTER_GROWTH", 10, 1)),
            check_every=env_bounded(env, "ALERT_CHECK_SECONDS", 60.0, 1),
        )
