"""The engine's failure kinds, backoff, request budget and the guardrails' verdicts."""

from __future__ import annotations

import pytest

from shared.sync.diff import Changes
from shared.sync.errors import (
    Failure,
    Kind,
    PlatformRejected,
    PlatformUnavailable,
    SessionClosed,
    error_for,
)
from shared.sync.guardrails import Guardrails
from shared.sync.pacing import RequestBudget, backoff
from shared.sync.status import RunStatus


def test_each_kind_raises_the_exception_its_handling_needs() -> None:
    assert isinstance(error_for(Failure(Kind.AUTH, 190, 463, "expired")), PlatformRejected)
    assert isinstance(error_for(Failure(Kind.THROTTLED, 80003, None, "slow")), PlatformUnavailable)
    assert isinstance(error_for(Failure(Kind.SESSION_CLOSED, 2650, 1870158, "late")), SessionClosed)


def test_a_failure_without_adapter_advice_still_says_what_happened() -> None:
    failure = Failure(Kind.PERMISSION, "PERMISSION_DENIED", None, "no access to 123")
    assert failure.status == RunStatus.PERMISSION_ERROR
    assert "PERMISSION_DENIED" in failure.operator_message("123") and "no access" in failure.operator_message(
        "123"
    )


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    assert [backoff(n, base=1.0, cap=10.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff(3, base=1.0, jitter=0.5) == 2.0
    assert backoff(3, base=1.0, jitter=0.0) == 2.0  # never below half


def test_request_budget_allows_bursts_then_paces_and_slows_down_after_throttling() -> None:
    now = [0.0]
    budget = RequestBudget(60, lambda: now[0])  # one call a second, bursts of 60

    assert [budget.wait() for _ in range(60)] == [0.0] * 60
    assert budget.wait() == pytest.approx(1.0)
    now[0] += 1.0
    assert budget.wait() == 0.0
    budget.slow_down()
    assert budget.wait() == pytest.approx(2.0)  # half the rate, no burst
    budget.recover()
    assert budget.rate == budget.full_rate


def plan(**counts: int) -> Changes:
    return Changes(**counts)


@pytest.mark.parametrize(
    ("changes", "size", "force", "refused"),
    [
        (plan(deselected=30), 100, False, "30 of 100"),  # 30% > 20%
        (plan(deselected=40), 200, False, None),  # exactly the share
        (plan(deselected=15, new=0), 110, False, "below Meta's minimum of 100"),
        (plan(deselected=15, new=10), 110, False, None),
        (plan(deselected=30), 100, True, None),  # forced
        (plan(erased=90), 100, False, None),  # erasures are never held back
        (plan(deselected=40), 60, False, None),  # too small to deliver: not protected
    ],
)
def test_guardrails(changes: Changes, size: int, force: bool, refused: str | None) -> None:
    verdict = Guardrails(min_size=100, max_remove_share=0.2, owner="Meta's").refusal(
        changes, size_before=size, force=force
    )
    if refused is None:
        assert verdict is None
    else:
        assert verdict is not None and refused in verdict and "--force" in verdict
