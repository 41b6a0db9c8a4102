"""The per-account call policy with the SDK's own error objects: retry, wait, stop."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
from facebook_business.exceptions import FacebookRequestError

from services.syncer_meta.adapters.graph_calls import GraphCalls
from shared.sync.errors import Kind, PlatformRejected, PlatformUnavailable


def graph_error(
    code: int, subcode: int | None = None, *, transient: bool = False, headers: dict[str, str] | None = None
) -> FacebookRequestError:
    error = {"message": f"error {code}", "code": code, "is_transient": transient, "fbtrace_id": "T"}
    if subcode:
        error["error_subcode"] = subcode
    return FacebookRequestError(
        "Call was not successful", {"method": "POST"}, 400, headers or {}, json.dumps({"error": error})
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def policy(clock: Clock, *, per_minute: int = 600, max_attempts: int = 4) -> GraphCalls:
    return GraphCalls(
        "act_1",
        per_minute=per_minute,
        max_attempts=max_attempts,
        max_throttle_wait=100.0,
        sleep=clock.sleep,
        now=lambda: clock.now,
        jitter=lambda: 1.0,
    )


def failing(*errors: Exception) -> Callable[[], str]:
    queue = list(errors)

    def call() -> str:
        if queue:
            raise queue.pop(0)
        return "ok"

    return call


def test_transient_errors_are_retried_with_growing_backoff() -> None:
    clock = Clock()
    calls = policy(clock)
    call = failing(
        graph_error(1, 99, transient=True), graph_error(2, transient=True), requests.ConnectionError()
    )
    assert calls.call("add", call) == "ok"
    assert clock.slept == [0.5, 1.0, 2.0] and calls.calls == 4


def test_transient_errors_give_up_after_max_attempts_as_unavailable() -> None:
    calls = policy(Clock(), max_attempts=2)
    with pytest.raises(PlatformUnavailable) as raised:
        calls.call("add", failing(*[graph_error(2, transient=True)] * 3))
    assert raised.value.failure.status == "unavailable" and calls.calls == 2


def test_throttling_waits_for_the_reported_reset_and_gives_up_past_the_limit() -> None:
    headers = {"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 40})}
    clock = Clock()
    calls = policy(clock)
    assert calls.call("add", failing(graph_error(80003, 2446079, transient=True, headers=headers))) == "ok"
    assert clock.slept[0] == 40.0

    with pytest.raises(PlatformUnavailable) as raised:
        policy(Clock()).call("add", failing(*[graph_error(17, 2446079, transient=True, headers=headers)] * 5))
    assert raised.value.failure.kind is Kind.THROTTLED and raised.value.failure.status == "throttled"


@pytest.mark.parametrize(
    ("code", "subcode", "status"),
    [(190, 463, "auth_error"), (200, 1870090, "permission_error"), (100, None, "rejected")],
)
def test_permanent_errors_stop_at_once(code: int, subcode: int | None, status: str) -> None:
    clock = Clock()
    calls = policy(clock)
    with pytest.raises(PlatformRejected) as raised:
        calls.call("add", failing(graph_error(code, subcode)))
    assert raised.value.failure.status == status and calls.calls == 1 and clock.slept == []


def test_the_request_budget_paces_calls() -> None:
    clock = Clock()
    calls = policy(clock, per_minute=2)
    for _ in range(4):
        calls.call("read", lambda: "ok")
    assert sum(clock.slept) == pytest.approx(60.0)  # two in the burst, then one every 30 s
