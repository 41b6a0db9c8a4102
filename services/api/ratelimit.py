"""Per-token rate limiting: one token bucket per token, in this process.

A bucket holds ``burst`` requests and refills at ``rate`` per second; a request finding it empty is
answered 429 with ``Retry-After`` (whole seconds until one request's worth has refilled). Buckets
live in the process's memory: with N api replicas a token may make up to N times the rate, which
is enough to stop a runaway script; a shared limiter would need a shared store for every request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets keyed by token name; ``rate`` 0 disables limiting."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, max(1, burst), clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Spend one request of ``key``'s bucket: 0 when allowed, else seconds to wait (>= 1)."""
        if self.rate <= 0:
            return 0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
