"""The call budget and usage headers, simulated matching, and the Graph error body."""

from __future__ import annotations

import json

from services.sandbox_meta.domain import errors
from services.sandbox_meta.domain.matching import MatchModel, load_known_hashes
from services.sandbox_meta.domain.usage import UsageMeter, usage_headers


def test_budget_blocks_when_spent_and_resets_with_the_window() -> None:
    meter = UsageMeter(capacity=10, window_seconds=300)
    assert meter.try_charge("act_1", 3, now=600)[0]
    assert meter.try_charge("act_1", 3, now=601)[0]
    ok, usage = meter.try_charge("act_1", 3, now=602)
    assert ok and usage.pct == 90.0
    ok, usage = meter.try_charge("act_1", 3, now=603)
    assert not ok
    assert usage.reset_seconds == 297 and usage.regain_minutes == 5
    assert meter.try_charge("act_2", 3, now=603)[0]  # budgets are per account
    assert meter.try_charge("act_1", 3, now=900)[0]  # next window


def test_usage_headers_are_json_strings_keyed_by_account() -> None:
    meter = UsageMeter(capacity=100, window_seconds=60)
    _, usage = meter.try_charge("act_42", 30, now=0)
    headers = usage_headers("act_42", usage, meter.app_pct(0))
    buc = json.loads(headers["X-Business-Use-Case-Usage"])["42"][0]
    assert buc["type"] == "custom_audience" and buc["call_count"] == 30
    assert json.loads(headers["X-Ad-Account-Usage"])["acc_id_util_pct"] == 30.0
    assert json.loads(headers["X-App-Usage"])["call_count"] == 30
    assert set(usage_headers(None, None, 0.0)) == {"X-App-Usage"}


def test_match_rate_is_deterministic_and_close_to_the_fraction() -> None:
    model = MatchModel(rate=0.3)
    idents = [f"EMAIL:{i:064x}" for i in range(5000)]
    first = [model.matches([i]) for i in idents]
    assert first == [MatchModel(rate=0.3).matches([i]) for i in idents]
    assert 0.27 < sum(first) / len(first) < 0.33


def test_known_population_decides_matches_and_extern_id_never_matches() -> None:
    known = load_known_hashes(["# comment", "ABC", "", "def"])
    model = MatchModel(known=known)
    assert model.matches(["EMAIL:abc"])
    assert not model.matches(["EMAIL:xyz"])
    assert model.matches(["EMAIL:xyz", "PHONE:def"])
    assert not MatchModel(rate=1.0).matches(["EXTERN_ID:abc"])


def test_error_body_has_the_fields_the_sdk_parses() -> None:
    body = errors.update_failed(1870145).to_body("trace")["error"]
    assert body == {
        "message": "(#2650) Failed to update the custom audience",
        "type": "OAuthException",
        "code": 2650,
        "error_subcode": 1870145,
        "is_transient": False,
        "error_user_title": "Audience Update In Progress",
        "error_user_msg": body["error_user_msg"],
        "fbtrace_id": "trace",
    }
    assert errors.transient(2).to_body()["error"]["is_transient"] is True
    assert errors.throttled(80003).to_body()["error"]["error_subcode"] == 2446079
