"""Per-ad-account call budget and the usage headers Graph sends with every response.

Marketing API scoring: reads cost 1 point and writes 3; when an account's points in the
current window exceed its budget, calls fail until the window resets (rate-limiting docs).
The same numbers drive ``X-Business-Use-Case-Usage``, ``X-App-Usage`` and
``X-Ad-Account-Usage`` so a client can slow down before it is throttled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

READ_COST = 1
WRITE_COST = 3


@dataclass(frozen=True)
class Usage:
    """One account's standing after a call."""

    pct: float  # 0-100, share of the window's budget used
    reset_seconds: int  # until the window resets
    regain_minutes: int  # estimated_time_to_regain_access; 0 unless blocked


@dataclass
class UsageMeter:
    """Fixed-window point budget per account; pure (the caller passes ``now``)."""

    capacity: int
    window_seconds: int
    _windows: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> (start, pts)

    def _current(self, account: str, now: int) -> tuple[int, int]:
        start = now - (now % self.window_seconds)
        held_start, points = self._windows.get(account, (start, 0))
        return (start, 0) if held_start != start else (start, points)

    def try_charge(self, account: str, cost: int, now: int) -> tuple[bool, Usage]:
        """Charge ``cost`` points; ``(False, usage)`` when that would exceed the budget."""
        start, points = self._current(account, now)
        reset = start + self.window_seconds - now
        if points + cost > self.capacity:
            self._windows[account] = (start, points)
            return False, Usage(100.0, reset, max(1, math.ceil(reset / 60)))
        points += cost
        self._windows[account] = (start, points)
        return True, Usage(round(100.0 * points / self.capacity, 2), reset, 0)

    def peek(self, account: str, now: int) -> Usage:
        """The account's usage without charging it."""
        start, points = self._current(account, now)
        return Usage(round(100.0 * points / self.capacity, 2), start + self.window_seconds - now, 0)

    def app_pct(self, now: int) -> float:
        """App-wide usage: all accounts' points against all their budgets."""
        if not self._windows:
            return 0.0
        used = sum(self._current(a, now)[1] for a in self._windows)
        return round(min(100.0, 100.0 * used / (self.capacity * len(self._windows))), 2)


def usage_headers(account_id: str | None, usage: Usage | None, app_pct: float) -> dict[str, str]:
    """The three usage headers; values are JSON strings and percentages 0-100."""
    headers = {
        "X-App-Usage": json.dumps(
            {
                "call_count": round(app_pct),
                "total_cputime": round(app_pct / 2),
                "total_time": round(app_pct / 2),
            }
        )
    }
    if account_id is None or usage is None:
        return headers
    numeric = account_id.removeprefix("act_")
    pct = round(usage.pct)
    headers["X-Business-Use-Case-Usage"] = json.dumps(
        {
            numeric: [
                {
                    "type": "custom_audience",
                    "call_count": pct,
                    "total_cputime": pct // 2,
                    "total_time": pct // 2,
                    "estimated_time_to_regain_access": usage.regain_minutes,
                    "ads_api_access_tier": "standard_access",
                }
            ]
        }
    )
    headers["X-Ad-Account-Usage"] = json.dumps(
        {
            "acc_id_util_pct": usage.pct,
            "reset_time_duration": usage.reset_seconds,
            "ads_api_access_tier": "standard_access",
        }
    )
    return headers
