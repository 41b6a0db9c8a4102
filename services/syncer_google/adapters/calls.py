"""Every Google call goes through here: the shared budget, a deadline, retries, classification.

Neither official client retries for us the way a syncer needs (the Ads API client has no
default retry or timeout; Data Manager's defaults retry UNAVAILABLE for 120 s and RemoveAll not
at all, AD_APIS.md 3.2, 3.3), so clients are called with ``retry=None`` and a ``timeout`` and the
policy lives here: transient errors and a busy list back off exponentially with jitter, quota
is waited out (Google's ``retry_delay`` when given, else the budget's next window), anything
else raises ``GoogleError`` at once with the classified failure.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from google.api_core import exceptions as api_exceptions

from services.syncer_google.adapters.quota import QuotaExhausted
from services.syncer_google.domain.errors import RETRIED, GoogleFailure, GoogleKind

T = TypeVar("T")
ADS_FAILURE_KEY = "google.ads.googleads.v26.errors.googleadsfailure-bin"


class Quota(Protocol):
    """Where requests are taken from before they are sent (``SharedQuota`` in production)."""

    def take(self, max_wait: float) -> float:
        """Take one request, waiting at most ``max_wait`` seconds; returns the seconds waited."""


class GoogleError(Exception):
    """A Google call failed for good (after any retries)."""

    def __init__(self, failure: GoogleFailure) -> None:
        super().__init__(f"{failure.kind}: {failure.code} {failure.message}")
        self.failure = failure


def _ads_reasons(failure: Any) -> tuple[tuple[str, ...], float | None]:
    """``category:ENUM`` codes and the quota retry delay of a GoogleAdsFailure."""
    reasons: list[str] = []
    delay: float | None = None
    for error in failure.errors:
        code = type(error.error_code).pb(error.error_code)
        category = code.WhichOneof("error_code")
        if category:
            value = getattr(code, category)
            enum = code.DESCRIPTOR.fields_by_name[category].enum_type
            reasons.append(f"{category}:{enum.values_by_number[value].name}")
        retry = error.details.quota_error_details.retry_delay
        if retry and (retry.seconds or retry.nanos):
            delay = max(delay or 0.0, retry.seconds + retry.nanos / 1e9)
    return tuple(reasons), delay


def _trailing_ads_failure(exc: api_exceptions.GoogleAPICallError) -> Any:
    """The GoogleAdsFailure the Ads API puts in trailing metadata (RESOURCE_EXHAUSTED, INTERNAL)."""
    response = getattr(exc, "response", None)
    trailing = getattr(response, "trailing_metadata", None)
    if not callable(trailing):
        return None
    for key, value in trailing() or ():
        if key == ADS_FAILURE_KEY:
            from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

            return GoogleAdsFailure.deserialize(value)
    return None


def _retry_delay(details: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` among a status's details (Data Manager quotas)."""
    for detail in details or ():
        retry = getattr(detail, "retry_delay", None)
        if retry is not None and (retry.seconds or retry.nanos):
            return float(retry.seconds + retry.nanos / 1e9)
    return None


def failure_of(exc: BaseException) -> GoogleFailure | None:
    """The plain-data failure of a client exception, or None if it is not a Google API error."""
    # The Google Ads library takes seconds to import: only a process that loaded it can raise its errors.
    ads_errors = sys.modules.get("google.ads.googleads.errors")
    if ads_errors is not None and isinstance(exc, ads_errors.GoogleAdsException):
        reasons, delay = _ads_reasons(exc.failure)
        message = "; ".join(error.message for error in exc.failure.errors)[:500]
        return GoogleFailure(exc.error.code().name, reasons, message, delay, None, exc.request_id)
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.grpc_status_code.name if exc.grpc_status_code is not None else "UNKNOWN"
        reasons_list = [exc.reason] if exc.reason else []
        delay = _retry_delay(exc.details)
        ads = _trailing_ads_failure(exc)
        if ads is not None:
            ads_reasons, ads_delay = _ads_reasons(ads)
            reasons_list.extend(ads_reasons)
            delay = ads_delay if ads_delay is not None else delay
        metadata = exc.metadata or {}
        return GoogleFailure(
            code, tuple(reasons_list), str(exc.message)[:500], delay, metadata.get("quota_limit")
        )
    return None


class GoogleCalls:
    """Runs calls of one API for one account under the retry and quota policy."""

    def __init__(
        self,
        quota: Quota,
        *,
        max_attempts: int = 6,
        max_quota_wait: float = 900.0,
        base_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.quota = quota
        self.max_attempts = max_attempts
        self.max_quota_wait = max_quota_wait
        self.base_delay = base_delay
        self.sleep = sleep
        self.jitter = jitter
        self.calls = 0  # requests sent, retries included (a run's api_calls)

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` with the policy; raises ``GoogleError`` when it gives up."""
        attempt = 0
        waited = 0.0
        while True:
            try:
                waited += self.quota.take(self.max_quota_wait - waited)
            except QuotaExhausted as exc:
                raise GoogleError(GoogleFailure("RESOURCE_EXHAUSTED", ("budget",), str(exc))) from None
            self.calls += 1
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                failure = failure_of(exc)
                if failure is None:
                    raise
                kind = failure.kind
                attempt += 1
                if kind not in RETRIED:
                    raise GoogleError(failure) from None
                if kind is GoogleKind.THROTTLED:
                    delay = failure.retry_after or 60.0
                    if waited + delay > self.max_quota_wait:
                        raise GoogleError(failure) from None
                    waited += delay
                elif attempt >= self.max_attempts:
                    raise GoogleError(failure) from None
                else:
                    delay = self.base_delay * 2 ** (attempt - 1) * (0.5 + self.jitter())
                self.sleep(delay)
