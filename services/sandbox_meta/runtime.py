"""Run-time controls of the sandbox: its clock, the injected faults and the call log.

Tests and the admin endpoints change these while the server runs; each has its own lock.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from services.sandbox_meta.config import THROTTLE_CODES, AccountPolicy, SandboxConfig, normalise_account


class SandboxClock:
    """Wall-clock seconds plus an offset that tests advance (90-minute windows, budgets)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> int:
        """Current sandbox time, unix seconds."""
        with self._lock:
            return int(time.time() + self._offset)

    def advance(self, seconds: float) -> int:
        """Move the sandbox clock forward; returns the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()


@dataclass(frozen=True)
class ThrottleWindow:
    """Calls for ``account`` (None: every account) fail with ``code`` until ``until``."""

    until: int
    code: int
    account: str | None = None


class Faults:
    """Injected faults and per-account policies; deterministic through a seeded RNG."""

    THROTTLE_CODES = THROTTLE_CODES

    def __init__(self, config: SandboxConfig) -> None:
        self._lock = threading.Lock()
        self.transient_error_rate = config.transient_error_rate
        self.latency_ms = config.latency_ms
        self._rng = random.Random(config.fault_seed)
        self._throttles: list[ThrottleWindow] = []
        self._expired: dict[str, int] = {}
        self._policies = {a: config.policies.get(a, AccountPolicy()) for a in config.ad_accounts}

    def set_transient(self, rate: float, seed: int | None = None) -> None:
        """Fail this share of calls with code 1 or 2 (``is_transient``); reseed if asked."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.transient_error_rate = rate
            if seed is not None:
                self._rng = random.Random(seed)

    def set_latency(self, ms: int) -> None:
        """Delay every Graph call by ``ms`` milliseconds."""
        if ms < 0:
            raise ValueError("latency must not be negative")
        self.latency_ms = ms

    def draw_transient(self) -> int | None:
        """1 or 2 when this call should fail transiently, else None."""
        with self._lock:
            if self.transient_error_rate <= 0.0:
                return None
            if self._rng.random() >= self.transient_error_rate:
                return None
            return 1 if self._rng.random() < 0.5 else 2

    def throttle(self, until: int, code: int = 80003, account: str | None = None) -> None:
        """Throttle one account (or all) until the given sandbox time."""
        if code not in self.THROTTLE_CODES:
            raise ValueError(f"throttle code must be one of {self.THROTTLE_CODES}")
        acct = None if account is None else normalise_account(account)
        with self._lock:
            self._throttles.append(ThrottleWindow(until, code, acct))

    def clear_throttles(self) -> None:
        """End every throttling window now."""
        with self._lock:
            self._throttles.clear()

    def active_throttle(self, account: str | None, now: int) -> ThrottleWindow | None:
        """The longest window covering this account now, if any."""
        with self._lock:
            self._throttles = [w for w in self._throttles if w.until > now]
            hits = [w for w in self._throttles if w.account in (None, account)]
        return max(hits, key=lambda w: w.until) if hits else None

    def expire_token(self, token: str, at: int) -> None:
        """Make a token expired from ``at`` on (190 / 463)."""
        with self._lock:
            self._expired[token] = at

    def expired_at(self, token: str, now: int) -> int | None:
        """When the token expired, if it has."""
        with self._lock:
            at = self._expired.get(token)
        return at if at is not None and at <= now else None

    def policy(self, account: str) -> AccountPolicy:
        """Terms and business link of an account."""
        with self._lock:
            return self._policies.get(account, AccountPolicy())

    def set_policy(self, account: str, **changes: bool) -> AccountPolicy:
        """Accept or decline terms, link or unlink the business, for one account."""
        acct = normalise_account(account)
        with self._lock:
            updated = replace(self._policies.get(acct, AccountPolicy()), **changes)
            self._policies[acct] = updated
        return updated

    def snapshot(self, now: int) -> dict[str, object]:
        """The active faults, for the admin endpoint."""
        with self._lock:
            return {
                "transient_error_rate": self.transient_error_rate,
                "latency_ms": self.latency_ms,
                "throttles": [
                    {"account": w.account, "code": w.code, "seconds_left": w.until - now}
                    for w in self._throttles
                    if w.until > now
                ],
                "expired_tokens": len(self._expired),
                "policies": {a: vars(p) for a, p in self._policies.items()},
            }


@dataclass(frozen=True)
class CallRecord:
    """One Graph call as the sandbox saw it."""

    method: str
    route: str
    status: int
    error_code: int | None = None


@dataclass
class CallLog:
    """Every Graph call (admin calls excluded), for tests that count API calls."""

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
        """Calls per ``"METHOD route"``, e.g. ``{"POST /{audience_id}/users": 3}``."""
        return dict(Counter(f"{e.method} {e.route}" for e in self.entries))

    @property
    def total(self) -> int:
        """All calls so far."""
        with self._lock:
            return len(self._entries)

    def __getitem__(self, key: str) -> int:
        """Calls for ``"POST /{audience_id}/users"``; a concrete path such as
        ``"POST /v26.0/123/users"`` is normalised to its route first."""
        counts = self.counts()
        return counts.get(key, counts.get(route_of(key), 0))

    def __len__(self) -> int:
        return self.total

    def reset(self) -> None:
        """Forget the calls so far."""
        with self._lock:
            self._entries.clear()


_VERSION_PREFIX = re.compile(r"/v[0-9]+\.[0-9]+(?=/|$)")


def route_of(call: str) -> str:
    """``"POST /v26.0/123/users/"`` -> ``"POST /{audience_id}/users"`` (the call log's names)."""
    method, _, path = call.partition(" ")
    path = _VERSION_PREFIX.sub("", path.split("?", 1)[0]).rstrip("/") or "/"
    path = re.sub(r"/act_[0-9]+(?=/|$)", "/act_{id}", path)
    path = re.sub(r"/[0-9]+(?=/|$)", "/{audience_id}", path)
    return f"{method.upper()} {path}"
