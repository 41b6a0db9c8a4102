"""Calling Graph politely: pacing, retries, throttling and error classification, once per account.

Every SDK call of the Meta adapter goes through ``GraphCalls.call``: it waits its turn (the
account's request budget, pauses the usage headers asked for), retries transient errors with
jittered exponential backoff, waits out throttling and slows down, and turns any other Graph
error into a classified ``PlatformError`` at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import requests
from facebook_business.exceptions import FacebookRequestError
from prometheus_client import Counter

from services.syncer_meta.domain.errors import classify, meta_failure
from services.syncer_meta.domain.pacing import Usage, parse_usage, pause_after
from shared.log import get_logger
from shared.sync.errors import Failure, Kind, PlatformUnavailable, error_for
from shared.sync.pacing import RequestBudget, backoff

log = get_logger(__name__)
T = TypeVar("T")

PLATFORM = "meta"  # the metrics' platform label
CALLS = Counter(
    "audiencesync_platform_calls_total",
    "Platform calls made, retries included",
    ["platform", "account", "call"],
)
RETRIES = Counter(
    "audiencesync_platform_retries_total",
    "Platform calls retried after a transient error",
    ["platform", "account"],
)
THROTTLED = Counter(
    "audiencesync_platform_throttled_total", "Platform calls refused for rate limits", ["platform", "account"]
)
PAUSED = Counter(
    "audiencesync_platform_paused_seconds_total", "Seconds spent pacing or waiting", ["platform", "account"]
)
AUTH_FAILURES = Counter(
    "audiencesync_platform_auth_failures_total", "Calls refused for the credentials", ["platform", "account"]
)


class GraphCalls:
    """The call policy of one ad account; ``calls`` counts every attempt."""

    def __init__(
        self,
        account_id: str,
        *,
        per_minute: int,
        max_attempts: int = 6,
        max_throttle_wait: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.account_id = account_id
        self.calls = 0
        self._max_attempts, self._max_throttle_wait = max_attempts, max_throttle_wait
        self._sleep, self._now, self._jitter = sleep, now, jitter
        self._budget = RequestBudget(per_minute, now)
        self._ready_at = 0.0  # no call before this (the usage headers asked for a pause)

    def call(self, what: str, call: Callable[[], T]) -> T:
        """Make one Graph call under the policy; raises ``PlatformError`` subclasses."""
        attempt, throttled_for = 0, 0.0
        while True:
            self._wait_turn()
            self.calls += 1
            CALLS.labels(PLATFORM, self.account_id, what).inc()
            try:
                result = call()
            except FacebookRequestError as exc:
                failure = graph_failure(exc)
                if failure.kind is Kind.THROTTLED:
                    # Rate limited: wait until Meta says access is back, slow down, retry; past
                    # META_MAX_THROTTLE_WAIT the run stops as "throttled" and resumes next time.
                    THROTTLED.labels(PLATFORM, self.account_id).inc()
                    usage = parse_usage(dict(exc.http_headers() or {}))
                    wait = usage.regain_seconds or backoff(attempt + 1, base=5.0, cap=300.0)
                    if throttled_for + wait > self._max_throttle_wait:
                        raise PlatformUnavailable(failure) from None
                    throttled_for += wait
                    self._budget.slow_down()
                    log.warning(
                        "platform.throttled",
                        platform=PLATFORM,
                        account=self.account_id,
                        code=failure.code,
                        wait=wait,
                    )
                    self._pause(wait)
                    continue
                if failure.kind in (Kind.TRANSIENT, Kind.REPLACE_BUSY) and attempt + 1 < self._max_attempts:
                    # Transient (1, 2, is_transient) or Meta still applying an update: retry the same
                    # call after a jittered exponential backoff; the batch and session stay the same.
                    attempt += 1
                    RETRIES.labels(PLATFORM, self.account_id).inc()
                    self._pause(backoff(attempt, jitter=0.5 + self._jitter() / 2))
                    continue
                if failure.kind is Kind.AUTH:
                    # Expired or invalid token: retrying cannot help, the run stops now with
                    # status auth_error and an operator message naming the variable to fix.
                    AUTH_FAILURES.labels(PLATFORM, self.account_id).inc()
                raise error_for(failure) from None
            except requests.RequestException as exc:
                # Connection reset, timeout: a transient failure without a Graph body.
                failure = meta_failure(Kind.TRANSIENT, None, None, type(exc).__name__)
                if attempt + 1 >= self._max_attempts:
                    raise PlatformUnavailable(failure) from None
                attempt += 1
                RETRIES.labels(PLATFORM, self.account_id).inc()
                self._pause(backoff(attempt, jitter=0.5 + self._jitter() / 2))
                continue
            self._after_success(result)
            return result

    def _wait_turn(self) -> None:
        wait = max(self._ready_at - self._now(), 0.0)
        if wait:
            self._pause(wait)
        wait = self._budget.wait()
        while wait > 0:
            # Own request budget (META_REQUEST_BUDGET) spent: wait for the bucket, keep our share.
            self._pause(wait)
            wait = self._budget.wait()

    def _pause(self, seconds: float) -> None:
        PAUSED.labels(PLATFORM, self.account_id).inc(seconds)
        self._sleep(seconds)

    def _after_success(self, result: object) -> None:
        headers = getattr(result, "headers", None)
        usage = parse_usage(dict(headers())) if callable(headers) else Usage()
        pause = pause_after(usage)
        if pause:
            # Close to the limit: space the next call out rather than be blocked.
            self._ready_at = self._now() + pause
        elif usage.pct < 50:
            self._budget.recover()


def graph_failure(exc: FacebookRequestError) -> Failure:
    """The classified failure of an SDK error (message only: the request holds the payload)."""
    body = exc.body() if isinstance(exc.body(), dict) else {}
    error = body.get("error") or {}
    code, subcode = exc.api_error_code(), exc.api_error_subcode()
    return meta_failure(
        kind=classify(code, subcode, bool(exc.api_transient_error())),
        code=code,
        subcode=subcode,
        message=str(exc.api_error_message() or exc.get_message() or "no message")[:500],
        trace_id=error.get("fbtrace_id") if isinstance(error, Mapping) else None,
    )
