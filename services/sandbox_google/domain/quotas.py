"""Request quotas per Google Cloud project (Data Manager) and per developer token (Ads API).

Data Manager limits [doc: data-manager/api/devguides/limits]: IngestionService 300 requests a
minute and 100,000 a day per project, reads and mutates counted separately; other services
(UserListService) 300 a minute and 50,000 a day. Over a limit: RESOURCE_EXHAUSTED with the limit's
name in ``ErrorInfo.metadata.quota_limit``. Windows are fixed (calendar minute, UTC day), a choice:
Google does not say whether its windows slide.
"""

from __future__ import annotations

import threading
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
    """Counts calls per bucket and window; ``take`` answers the first bucket over its limit."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def take(self, buckets: tuple[Bucket, ...], now: float, cost: int = 1) -> Bucket | None:
        """Count ``cost`` in every bucket unless one would go over; return that one, if any.

        A refused call is not counted, as with Google's quota (the retry is what counts).
        """
        with self._lock:
            keys = [(b.name, int(now // b.window)) for b in buckets]
            for bucket, key in zip(buckets, keys, strict=True):
                if self._counts.get(key, 0) + cost > bucket.limit:
                    return bucket
            for key in keys:
                self._counts[key] = self._counts.get(key, 0) + cost
            return None

    def seconds_to_reset(self, bucket: Bucket, now: float) -> int:
        """Seconds until the bucket's current window ends."""
        return int(bucket.window - (now % bucket.window)) or 1

    def used(self, name: str, window: int, now: float) -> int:
        """Calls counted so far in this window (admin endpoint)."""
        with self._lock:
            return self._counts.get((name, int(now // window)), 0)
