"""Run-time controls of the sandbox: its clock, the injected faults and the call log.

Tests and the admin endpoint change these while the server runs; each has its own lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from services.sandbox_google.config import GoogleSandboxConfig


class SandboxClock:
    """Wall-clock seconds plus an offset that tests advance (quota days, list life spans)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current sandbox time, unix seconds."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward; returns the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()


class Faults:
    """Injected faults, deterministic through a seeded RNG.

    - transient: this share of calls fails with UNAVAILABLE before doing anything;
    - latency: every call waits this long first;
    - quota window: until a time, calls fail with RESOURCE_EXHAUSTED (scope "all", "datamanager"
      or "googleads");
    - expired tokens: known access tokens that now answer UNAUTHENTICATED (expired);
    - concurrent modification: the next N Ads API mutates answer CONCURRENT_MODIFICATION.
    """

    def __init__(self, config: GoogleSandboxConfig, now: float) -> None:
        self._lock = threading.Lock()
        self.transient_error_rate = config.transient_error_rate
        self.latency_ms = config.latency_ms
        self._rng = random.Random(config.fault_seed)
        self._quota_until: dict[str, float] = {}
        if config.quota_window_seconds:
            self._quota_until["all"] = now + config.quota_window_seconds
        self._expired = set(config.expired_tokens)
        self._concurrent = config.concurrent_modifications

    def set_transient(self, rate: float, seed: int | None = None) -> None:
        """Fail this share of calls with UNAVAILABLE; reseed if asked."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.transient_error_rate = rate
            if seed is not None:
                self._rng = random.Random(seed)

    def set_latency(self, ms: int) -> None:
        """Delay every call by ``ms`` milliseconds."""
        if ms < 0:
            raise ValueError("latency must not be negative")
        self.latency_ms = ms

    def draw_transient(self) -> bool:
        """Whether this call should fail with UNAVAILABLE."""
        with self._lock:
            return self.transient_error_rate > 0.0 and self._rng.random() < self.transient_error_rate

    def open_quota_window(self, until: float, scope: str = "all") -> None:
        """RESOURCE_EXHAUSTED for every call of ``scope`` until the given sandbox time."""
        if scope not in ("all", "datamanager", "googleads"):
            raise ValueError("scope must be all, datamanager or googleads")
        with self._lock:
            self._quota_until[scope] = until

    def clear_quota_windows(self) -> None:
        """End every quota window now."""
        with self._lock:
            self._quota_until.clear()

    def quota_window(self, api: str, now: float) -> float | None:
        """When the window covering this API ends, if one is open."""
        with self._lock:
            ends = [u for s, u in self._quota_until.items() if s in ("all", api) and u > now]
        return max(ends) if ends else None

    def expire_token(self, token: str) -> None:
        """Make an access token expired from now on."""
        with self._lock:
            self._expired.add(token)

    def is_expired(self, token: str) -> bool:
        """Whether a token has been expired."""
        with self._lock:
            return token in self._expired

    def add_concurrent_modifications(self, count: int) -> None:
        """The next ``count`` Ads API mutates on a list answer CONCURRENT_MODIFICATION."""
        if count < 0:
            raise ValueError("count must not be negative")
        with self._lock:
            self._concurrent += count

    def take_concurrent_modification(self) -> bool:
        """Consume one injected CONCURRENT_MODIFICATION, if any are left."""
        with self._lock:
            if self._concurrent <= 0:
                return False
            self._concurrent -= 1
            return True

    def snapshot(self, now: float) -> dict[str, object]:
        """The active faults, for the admin endpoint."""
        with self._lock:
            return {
                "transient_error_rate": self.transient_error_rate,
                "latency_ms": self.latency_ms,
                "quota_windows": {s: round(u - now, 1) for s, u in self._quota_until.items() if u > now},
                "expired_tokens": len(self._expired),
                "concurrent_modifications_pending": self._concurrent,
            }


@dataclass(frozen=True)
class CallRecord:
    """One RPC as the sandbox saw it: ``/package.Service/Method`` and its gRPC status name."""

    method: str
    code: str


@dataclass
class CallLog:
    """Every RPC received, for tests that count API calls."""

    _entries: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entry: CallRecord) -> None:
        """Append one call."""
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[CallRecord]:
        """A copy of the calls so far."""
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[str, int]:
        """Calls per short method name, e.g. ``{"IngestionService/IngestAudienceMembers": 3}``."""
        return dict(Counter(short_name(e.method) for e in self.entries))

    def __getitem__(self, method: str) -> int:
        """Calls of one method, by short name (``"IngestionService/IngestAudienceMembers"``)."""
        return self.counts().get(method, 0)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def reset(self) -> None:
        """Forget the calls so far."""
        with self._lock:
            self._entries.clear()


def short_name(method: str) -> str:
    """``/google.ads.datamanager.v1.IngestionService/X`` -> ``IngestionService/X``."""
    service, _, name = method.strip("/").partition("/")
    return f"{service.rsplit('.', 1)[-1]}/{name}"
