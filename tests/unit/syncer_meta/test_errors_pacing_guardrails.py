"""Graph error classes, pacing from usage headers and budgets, and the guardrails' verdicts."""

from __future__ import annotations

import json

import pytest

from services.syncer_meta.domain.errors import classify, meta_failure
from services.syncer_meta.domain.pacing import Usage, parse_usage, pause_after
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


@pytest.mark.parametrize(
    ("code", "subcode", "transient", "kind", "status"),
    [
        (1, 99, True, Kind.TRANSIENT, "unavailable"),
        (2, None, True, Kind.TRANSIENT, "unavailable"),
        (4, None, True, Kind.THROTTLED, "throttled"),
        (17, 2446079, True, Kind.THROTTLED, "throttled"),
        (32, None, False, Kind.THROTTLED, "throttled"),
        (613, 1487742, True, Kind.THROTTLED, "throttled"),
        (80000, None, True, Kind.THROTTLED, "throttled"),
        (80003, 2446079, True, Kind.THROTTLED, "throttled"),
        (80014, None, True, Kind.THROTTLED, "throttled"),
        (190, 463, False, Kind.AUTH, "auth_error"),
        (190, 467, False, Kind.AUTH, "auth_error"),
        (102, None, False, Kind.AUTH, "auth_error"),
        (200, 1870090, False, Kind.PERMISSION, "permission_error"),
        (294, None, False, Kind.PERMISSION, "permission_error"),
        (100, None, False, Kind.REJECTED, "rejected"),
        (100, 1713230, False, Kind.FLAGGED, "flagged"),
        (2650, None, False, Kind.REJECTED, "rejected"),
        (2650, 1870145, False, Kind.REPLACE_BUSY, "unavailable"),
        (2650, 1870147, False, Kind.SESSION_CLOSED, "rejected"),
        (2650, 1870158, False, Kind.SESSION_CLOSED, "rejected"),
        (2650, 1870159, False, Kind.SESSION_CLOSED, "rejected"),
        (2650, 1870144, False, Kind.TOO_LARGE_TO_REPLACE, "rejected"),
        (368, None, False, Kind.BLOCKED, "blocked"),
        (2635, None, False, Kind.REJECTED, "rejected"),
        (2654, None, False, Kind.CREATE_FAILED, "rejected"),
        (999, None, True, Kind.TRANSIENT, "unavailable"),  # unknown but marked is_transient
        (999, None, False, Kind.REJECTED, "rejected"),
    ],
)
def test_graph_errors_are_classified_as_metas_reference_says(
    code: int, subcode: int | None, transient: bool, kind: Kind, status: str
) -> None:
    assert classify(code, subcode, transient) is kind
    assert Failure(kind, code, subcode, "m").status == status


def test_each_kind_raises_the_exception_its_handling_needs() -> None:
    assert isinstance(error_for(Failure(Kind.AUTH, 190, 463, "expired")), PlatformRejected)
    assert isinstance(error_for(Failure(Kind.THROTTLED, 80003, None, "slow")), PlatformUnavailable)
    assert isinstance(error_for(Failure(Kind.SESSION_CLOSED, 2650, 1870158, "late")), SessionClosed)


def test_an_expired_token_message_names_what_the_operator_must_set() -> None:
    message = meta_failure(Kind.AUTH, 190, 463, "Session has expired").operator_message("act_42")
    assert "190/463" in message and "META_ACCESS_TOKEN_ACT_42" in message and "_FILE" in message


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    assert [backoff(n, base=1.0, cap=10.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff(3, base=1.0, jitter=0.5) == 2.0
    assert backoff(3, base=1.0, jitter=0.0) == 2.0  # never below half


def _headers(pct: float, regain: int = 0, reset: int = 120) -> dict[str, str]:
    # As the sandbox (and Meta) send them: JSON strings, percentages 0-100.
    return {
        "X-App-Usage": json.dumps({"call_count": 3, "total_cputime": 1, "total_time": 1}),
        "x-business-use-case-usage": json.dumps(
            {
                "7007": [
                    {"type": "custom_audience", "call_count": pct, "estimated_time_to_regain_access": regain}
                ]
            }
        ),
        "X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": pct, "reset_time_duration": reset}),
    }


def test_usage_headers_slow_down_near_the_limit_and_wait_out_a_block() -> None:
    assert pause_after(parse_usage(_headers(10))) == 0.0
    assert 0 < pause_after(parse_usage(_headers(90))) < pause_after(parse_usage(_headers(99)))
    blocked = parse_usage(_headers(100, regain=2, reset=75))
    assert blocked == Usage(100.0, 75.0)  # the precise reset wins over whole minutes
    assert pause_after(parse_usage(_headers(100, regain=2, reset=0))) == 120.0
    assert parse_usage({"X-App-Usage": "not json"}) == Usage()


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
