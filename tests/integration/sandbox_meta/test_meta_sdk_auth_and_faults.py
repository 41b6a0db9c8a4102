"""Tokens, appsecret_proof, permissions, throttling and injected faults through the real SDK."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.exceptions import FacebookRequestError

from services.sandbox_meta.server import RunningSandbox, run_meta_sandbox
from tests.integration.sandbox_meta.conftest import (
    ACCOUNT,
    OTHER_ACCOUNT,
    READ_ONLY,
    SECRET,
    TOKEN,
    config,
    emails,
    make_api,
    new_audience,
)

pytestmark = pytest.mark.integration

EMAIL = CustomAudience.Schema.email_hash


def error_of(call: Any) -> FacebookRequestError:
    with pytest.raises(FacebookRequestError) as caught:
        call()
    return caught.value


def test_unknown_and_expired_tokens_answer_190(sandbox: RunningSandbox) -> None:
    stranger = AdAccount(ACCOUNT, api=make_api(sandbox.url, token="who-is-this"))
    unknown = error_of(lambda: stranger.get_custom_audiences())
    assert (unknown.api_error_code(), unknown.api_error_subcode()) == (190, 467)

    account = AdAccount(ACCOUNT, api=make_api(sandbox.url))
    new_audience(account)
    sandbox.expire_token(TOKEN)
    expired = error_of(lambda: new_audience(account))
    assert (expired.api_error_code(), expired.api_error_subcode()) == (190, 463)
    assert "expired" in expired.api_error_message()


def test_appsecret_proof_is_required_and_checked(sandbox: RunningSandbox) -> None:
    wrong = AdAccount(ACCOUNT, api=make_api(sandbox.url, secret="not-the-secret"))
    bad = error_of(lambda: wrong.get_custom_audiences())
    assert (bad.api_error_code(), bad.api_error_message()) == (
        100,
        "Invalid appsecret_proof provided in the API argument",
    )
    missing = AdAccount(ACCOUNT, api=make_api(sandbox.url, secret=None))
    assert error_of(lambda: missing.get_custom_audiences()).api_error_code() == 100
    assert list(AdAccount(ACCOUNT, api=make_api(sandbox.url)).get_custom_audiences()) == []


def test_accounts_outside_the_seed_list_get_a_permission_error(sandbox: RunningSandbox) -> None:
    stranger = AdAccount("act_999", api=make_api(sandbox.url))
    assert error_of(lambda: new_audience(stranger)).api_error_code() == 200


def test_read_only_tokens_cannot_write(sandbox: RunningSandbox) -> None:
    reader = AdAccount(ACCOUNT, api=make_api(sandbox.url, token=READ_ONLY))
    assert list(reader.get_custom_audiences()) == []
    assert error_of(lambda: new_audience(reader)).api_error_code() == 294


@pytest.mark.parametrize(
    ("policy", "value_based", "subcode"),
    [
        ({"tos_accepted": False}, False, 1870090),
        ({"business_linked": False}, False, 1870050),
        ({"value_based_tos_accepted": False}, True, 1870090),
    ],
)
def test_terms_and_business_link_gate_audience_writes(
    sandbox: RunningSandbox, account: AdAccount, policy: dict[str, bool], value_based: bool, subcode: int
) -> None:
    sandbox.set_policy(ACCOUNT, **policy)
    error = error_of(lambda: new_audience(account, value_based=value_based))
    assert (error.api_error_code(), error.api_error_subcode()) == (200, subcode)
    if value_based:
        new_audience(account)  # plain audiences only need the standard terms


def test_usage_headers_rise_until_the_budget_throttles_with_80003() -> None:
    with run_meta_sandbox(config(budget_points=10, budget_window_seconds=600)) as tight:
        account = AdAccount(ACCOUNT, api=make_api(tight.url))
        audience = new_audience(account)  # a write: 3 points
        seen: list[float] = []
        for _ in range(2):  # writes: 6 and 9 points
            answer = audience.add_users(EMAIL, emails(1), pre_hashed=True)
            seen.append(json.loads(answer.headers()["X-Ad-Account-Usage"])["acc_id_util_pct"])
        error = error_of(lambda: audience.add_users(EMAIL, emails(1), pre_hashed=True))
        buc = json.loads(error.http_headers()["X-Business-Use-Case-Usage"])["4242"][0]
        tight.clock.advance(600)
        audience.add_users(EMAIL, emails(1), pre_hashed=True)  # next window: allowed again
        other = AdAccount(OTHER_ACCOUNT, api=make_api(tight.url))
        new_audience(other)
    assert seen == [60.0, 90.0]
    assert (error.api_error_code(), error.api_transient_error()) == (80003, True)
    assert buc["type"] == "custom_audience" and buc["estimated_time_to_regain_access"] >= 1


@pytest.mark.parametrize("code", [17, 613, 80003])
def test_injected_throttling_windows(sandbox: RunningSandbox, account: AdAccount, code: int) -> None:
    audience = new_audience(account)
    sandbox.throttle(120, code=code, account=ACCOUNT)
    error = error_of(lambda: audience.api_get(fields=["name"]))
    assert error.api_error_code() == code
    headers = error.http_headers()
    assert json.loads(headers["X-Business-Use-Case-Usage"])["4242"][0]["estimated_time_to_regain_access"] == 2
    assert json.loads(headers["X-Ad-Account-Usage"])["acc_id_util_pct"] == 100.0
    sandbox.clock.advance(121)
    assert audience.api_get(fields=["name"])["name"] == "buyers"


def test_transient_errors_are_flagged_and_deterministic_by_seed() -> None:
    outcomes: list[list[int]] = []
    for _ in range(2):
        with run_meta_sandbox(config(transient_error_rate=0.5, fault_seed=7)) as flaky:
            account = AdAccount(ACCOUNT, api=make_api(flaky.url))
            codes = []
            for _ in range(20):
                try:
                    account.get_custom_audiences()
                    codes.append(0)
                except FacebookRequestError as exc:
                    codes.append(exc.api_error_code() if exc.api_transient_error() else -1)
            outcomes.append(codes)
    assert outcomes[0] == outcomes[1]
    assert {0, 1, 2} == set(outcomes[0])  # successes and both transient codes, nothing else


def test_admin_endpoints_report_members_calls_and_set_faults(
    sandbox: RunningSandbox, account: AdAccount
) -> None:
    audience = new_audience(account)
    audience.add_users(EMAIL, emails(3), pre_hashed=True)
    base = f"{sandbox.url}/_sandbox"
    members = requests.get(f"{base}/audiences/{audience['id']}/members", timeout=5).json()
    assert members["count"] == 3 and len(members["members"]) == 3
    calls = requests.get(f"{base}/calls", timeout=5).json()
    assert calls["counts"]["POST /{audience_id}/users"] == 1
    requests.post(f"{base}/faults", json={"transient_error_rate": 1.0, "seed": 1}, timeout=5)
    assert error_of(lambda: audience.api_get(fields=["name"])).api_transient_error() is True
    requests.post(f"{base}/faults", json={"transient_error_rate": 0}, timeout=5)
    requests.post(f"{base}/tokens/expire", json={"token": TOKEN}, timeout=5)
    assert error_of(lambda: audience.api_get(fields=["name"])).api_error_code() == 190
    assert requests.get(f"{base}/faults", timeout=5).json()["expired_tokens"] == 1


def test_admin_token_protects_the_admin_endpoints() -> None:
    with run_meta_sandbox(config(admin_token="let-me-in")) as guarded:
        base = f"{guarded.url}/_sandbox/calls"
        assert requests.get(base, timeout=5).status_code == 403
        ok = requests.get(base, headers={"X-Sandbox-Admin-Token": "let-me-in"}, timeout=5)
        assert ok.status_code == 200


def test_errors_are_always_graph_json(sandbox: RunningSandbox) -> None:
    for method, path in [("PUT", "/v26.0/act_4242/customaudiences"), ("GET", "/v26.0/act_4242/nope")]:
        answer = requests.request(method, f"{sandbox.url}{path}?access_token={TOKEN}", timeout=5)
        assert answer.status_code >= 400
        assert "error" in answer.json()


def test_faults_can_be_configured_from_the_start() -> None:
    seeded = config(expired_tokens=("stale",), throttle_windows=((300, 613, OTHER_ACCOUNT),))
    with run_meta_sandbox(seeded) as faulty:
        stale = AdAccount(ACCOUNT, api=make_api(faulty.url, token="stale"))
        assert error_of(lambda: stale.get_custom_audiences()).api_error_subcode() == 463
        throttled = AdAccount(OTHER_ACCOUNT, api=make_api(faulty.url))
        assert error_of(lambda: throttled.get_custom_audiences()).api_error_code() == 613
        assert list(AdAccount(ACCOUNT, api=make_api(faulty.url)).get_custom_audiences()) == []


def test_json_bodies_are_accepted_like_form_bodies(sandbox: RunningSandbox) -> None:
    proof = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    url = f"{sandbox.url}/v26.0/{ACCOUNT}/customaudiences?access_token={TOKEN}&appsecret_proof={proof}"
    body = {
        "name": "json",
        "subtype": "CUSTOM",
        "customer_file_source": "USER_PROVIDED_ONLY",
        "is_value_based": True,
    }
    created = requests.post(url, json=body, timeout=5).json()
    assert sandbox.state.audience(created["id"]).is_value_based is True  # type: ignore[union-attr]
