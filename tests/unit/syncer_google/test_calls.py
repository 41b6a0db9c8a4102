"""The call policy: quota waited out, transient errors retried, everything else stops at once."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as api_exceptions

from services.syncer_google.adapters.calls import GoogleCalls, GoogleError, failure_of
from services.syncer_google.domain.errors import GoogleKind


class FreeQuota:
    """A budget that is never spent (the shared budget has its own integration tests)."""

    def take(self, max_wait: float) -> float:
        return 0.0


class Flaky:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def calls(slept: list[float], **kwargs: float) -> GoogleCalls:
    return GoogleCalls(FreeQuota(), sleep=slept.append, jitter=lambda: 0.5, **kwargs)


def test_unavailable_is_retried_with_growing_backoff() -> None:
    slept: list[float] = []
    fn = Flaky(api_exceptions.ServiceUnavailable("down"), api_exceptions.ServiceUnavailable("down"))
    assert calls(slept)(fn) == "ok"
    assert fn.calls == 3 and slept == [1.0, 2.0]


def test_quota_is_waited_out_for_as_long_as_allowed() -> None:
    slept: list[float] = []
    exhausted = api_exceptions.ResourceExhausted("quota", errors=())
    fn = Flaky(exhausted, exhausted)
    assert calls(slept, max_quota_wait=200.0)(fn) == "ok"
    assert slept == [60.0, 60.0]
    with pytest.raises(GoogleError) as stopped:
        calls([], max_quota_wait=100.0)(Flaky(exhausted, exhausted))
    assert stopped.value.failure.kind is GoogleKind.THROTTLED


def test_auth_failures_are_not_retried() -> None:
    slept: list[float] = []
    fn = Flaky(api_exceptions.Unauthenticated("bad token"))
    with pytest.raises(GoogleError) as stopped:
        calls(slept)(fn)
    assert fn.calls == 1 and slept == []
    assert stopped.value.failure.kind is GoogleKind.AUTH


def test_transient_errors_give_up_after_max_attempts() -> None:
    fn = Flaky(*[api_exceptions.InternalServerError("boom") for _ in range(10)])
    with pytest.raises(GoogleError):
        calls([], max_attempts=3)(fn)
    assert fn.calls == 3


def test_other_exceptions_are_not_swallowed() -> None:
    assert failure_of(ValueError("ours")) is None
    with pytest.raises(ValueError, match="ours"):
        calls([])(Flaky(ValueError("ours")))
