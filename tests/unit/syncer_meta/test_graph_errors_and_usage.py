"""Graph error classes with Meta's advice, and pacing from Meta's usage headers."""

from __future__ import annotations

import json

import pytest

from services.syncer_meta.domain.errors import classify, meta_failure
from services.syncer_meta.domain.pacing import Usage, parse_usage, pause_after
from shared.sync.errors import Failure, Kind


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


def test_an_expired_token_message_names_what_the_operator_must_set() -> None:
    message = meta_failure(Kind.AUTH, 190, 463, "Session has expired").operator_message("act_42")
    assert "190/463" in message and "META_ACCESS_TOKEN_ACT_42" in message and "_FILE" in message


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
