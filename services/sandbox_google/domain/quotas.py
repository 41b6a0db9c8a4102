"""Request quotas per Google Cloud project (Data Manager) and per developer token (Ads API).

Data Manager limits [doc: data-manager/api/devguides/limits]: IngestionService 300 requests a
minute and 100,000 a day per project, reads and mutates counted separately; other services
(UserListService) 300 a minute and 50,000 a day. Over a limit: RESOURCE_EXHAUSTED with the limit's
name in ``ErrorInfo.metadata.quota_limit``. Windows slide (the last 60 s, the last 24 h), a
choice: Google does not say how its windows are cut, and a sliding window refuses the 301st call
in any minute.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

DAY = 86_400
MINUTE = 60


@dataclass(frozen=True)
class QuotaLimits:
    """Requests allowed per window; Google's published defaults."""

    ingestion_per_minute: int = 300
    ingestion_per_day: int = 100_000
    other_per_minute: int = 300
    other_per_day: int = 50_000
    # Google Ads API: operations per developer token per day (Basic access: 15,000).
    ads_operations_per_day: int = 15_000


@dataclass(frozen=True)
class Bucket:
    """One counted quota: its public name, its limit and its window length in seconds."""

    name: str
    limit: int
    window: int


def datamanager_buckets(limits: QuotaLimits, service: str, mutate: bool) -> tuple[Bucket, ...]:
    """The quotas one Data Manager call counts against, minute first."""
    if service == "IngestionService":
        kind = "Mutate" if mutate else "Read"
        return (
            Bucket(f"Ingestion{kind}RequestsPerMinutePerProject", limits.ingestion_per_minute, MINUTE),
            Bucket(f"Ingestion{kind}RequestsPerDayPerProject", limits.ingestion_per_day, DAY),
        )
    return (
        Bucket(f"{service}RequestsPerMinutePerProject", limits.other_per_minute, MINUTE),
        Bucket(f"{service}RequestsPerDayPerProject", limits.other_per_day, DAY),
    )


class QuotaCounter:
    """Sliding-window counts per bucket; ``take`` answers the first bucket a call would overfill.

    A window is the last ``bucket.window`` seconds before the call (not a calendar minute), so
    the 301st request within any 60 seconds is refused whenever it comes.
    """

    def __init__(self) -> None:
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._sums: dict[str, int] = {}
        self._lock = threading.Lock()

    def _prune(self, bucket: Bucket, now: float) -> deque[tuple[float, int]]:
        events = self._events.setdefault(bucket.name, deque())
        while events and events[0][0] <= now - bucket.window:
            _, cost = events.popleft()
            self._sums[bucket.name] -= cost
        return events

    def take(self, buckets: tuple[Bucket, ...], now: float, cost: int = 1) -> Bucket | None:
        """Count ``cost`` in every bucket unless one would go over; return that one, if any.

        A refused call is not counted, as with Google's quota (the retry is what counts).
        """
        with self._lock:
            for bucket in buckets:
                self._prune(bucket, now)
                if self._sums.get(bucket.name, 0) + cost > bucket.limit:
                    return bucket
            for bucket in buckets:
                self._events[bucket.name].append((now, cost))
                self._sums[bucket.name] = self._sums.get(bucket.name, 0) + cost
            return None

    def seconds_to_reset(self, bucket: Bucket, now: float) -> int:
        """Seconds until the oldest counted call leaves the window (at least 1)."""
        with self._lock:
            events = self._prune(bucket, now)
            if not events:
                return 1
            return max(1, math.ceil(events[0][0] + bucket.window - now))

    def used(self, bucket: Bucket, now: float) -> int:
        """Calls counted in the window now (admin endpoint)."""
        with self._lock:
            self._prune(bucket, now)
            return self._sums.get(bucket.name, 0)
