"""How fast to call a platform: backoff after failures and a request budget (token bucket).

Pure functions and a clock-injected token bucket; the adapter does the sleeping. What a
platform reports about its own limits (Meta's usage headers, Google's quota errors) is read by
its adapter.
"""

from __future__ import annotations

from collections.abc import Callable


def backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0, jitter: float = 1.0) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): exponential, capped, scaled by ``jitter`` in [0.5, 1]."""
    delay: float = min(cap, base * 2.0 ** (attempt - 1))
    return delay * min(1.0, max(0.5, jitter))


class RequestBudget:
    """A token bucket: at most ``per_minute`` calls a minute per account, bursts up to that."""

    def __init__(self, per_minute: int, now: Callable[[], float]) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.full_rate = self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self._now = now
        self._at = now()

    def wait(self) -> float:
        """Seconds until a call may go; takes its token when that is now (0.0)."""
        now = self._now()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def slow_down(self) -> None:
        """After throttling: half the rate (at least one call a minute) and no burst."""
        self.rate = max(1 / 60.0, self.rate / 2)
        self.tokens = 0.0

    def recover(self) -> None:
        """Usage is low again: double the rate back towards the configured budget."""
        self.rate = min(self.full_rate, self.rate * 2)
