"""How fast to call Graph: pauses from Meta's usage headers (backoff and the budget are shared/sync).

Pure functions; the adapter does the sleeping. Meta reports
usage as JSON headers with percentages 0-100 (rate-limiting docs); calling on at 100% only
extends the block, so the syncer slows down from 75% and waits out the reported reset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

SLOW_DOWN_FROM = 75.0  # percent of any usage figure
MAX_SLOW_DOWN = 30.0  # seconds between calls at 100% usage without a reset time


@dataclass(frozen=True)
class Usage:
    """The highest usage any header reports, and how long until access comes back (if known)."""

    pct: float = 0.0
    regain_seconds: float | None = None


def _json(headers: Mapping[str, str], name: str) -> object:
    for key, value in headers.items():
        if key.lower() == name.lower():
            try:
                return json.loads(value)
            except (TypeError, ValueError):
                return None
    return None


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Read X-Business-Use-Case-Usage, X-Ad-Account-Usage and X-App-Usage (all optional)."""
    pcts: list[float] = []
    regain: list[float] = []
    buc = _json(headers, "X-Business-Use-Case-Usage")
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    pcts.extend(_numbers(entry, ("call_count", "total_cputime", "total_time")))
                    minutes = _numbers(entry, ("estimated_time_to_regain_access",))
                    regain.extend(60.0 * m for m in minutes if m > 0)
    account = _json(headers, "X-Ad-Account-Usage")
    if isinstance(account, dict):
        pcts.extend(_numbers(account, ("acc_id_util_pct",)))
        reset = _numbers(account, ("reset_time_duration",))
        if reset and reset[0] > 0 and pcts and max(pcts) >= 100.0:
            regain.append(reset[0])  # seconds, and more precise than the BUC's whole minutes
    app = _json(headers, "X-App-Usage")
    if isinstance(app, dict):
        pcts.extend(_numbers(app, ("call_count", "total_cputime", "total_time")))
    return Usage(max(pcts, default=0.0), min(regain) if regain else None)


def _numbers(entry: Mapping[str, object], names: tuple[str, ...]) -> list[float]:
    out = []
    for name in names:
        value = entry.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
    return out


def pause_after(usage: Usage) -> float:
    """Seconds to wait before the next call after a successful one, from its usage headers."""
    if usage.regain_seconds:
        return usage.regain_seconds
    if usage.pct < SLOW_DOWN_FROM:
        return 0.0
    return MAX_SLOW_DOWN * min(1.0, (usage.pct - SLOW_DOWN_FROM) / (100.0 - SLOW_DOWN_FROM))
