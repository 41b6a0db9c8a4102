"""Creating, reading, listing and deleting audiences and lookalikes through the real SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.api import FacebookAdsApiBatch
from facebook_business.exceptions import FacebookRequestError

from services.sandbox_meta.server import RunningSandbox, run_meta_sandbox
from tests.integration.sandbox_meta.conftest import ACCOUNT, config, emails, make_api, new_audience, sha

pytestmark = pytest.mark.integration

EMAIL = CustomAudience.Schema.email_hash
FIELDS = [
    "id",
    "name",
    "subtype",
    "description",
    "customer_file_source",
    "is_value_based",
    "approximate_count_lower_bound",
    "approximate_count_upper_bound",
    "operation_status",
    "delivery_status",
    "data_source",
    "time_content_updated",
    "lookalike_audience_ids",
]


def value_seed(account: AdAccount, people: int) -> CustomAudience:
    seed = new_audience(account, value_based=True, name="value seed")
    rows = [[h, float(i % 7)] for i, h in enumerate(emails(people, "seed"))]
    seed.add_users(["EMAIL", "LOOKALIKE_VALUE"], rows, is_raw=True, pre_hashed=True)
    return seed


def lookalike(account: AdAccount, seed: CustomAudience, spec: dict[str, Any]) -> Any:
    return account.create_custom_audience(
        params={
            "name": "lal",
            "subtype": "LOOKALIKE",
            "origin_audience_id": seed["id"],
            "lookalike_spec": json.dumps(spec),
        }
    )


def test_plain_and_value_based_audiences_are_created_and_read_back(account: AdAccount) -> None:
    plain = new_audience(account, name="plain")
    valued = new_audience(account, value_based=True, name="valued")
    assert plain["id"].isdigit() and plain["id"] != valued["id"]
    read = plain.api_get(fields=FIELDS)
    assert (read["name"], read["subtype"], read["is_value_based"]) == ("plain", "CUSTOM", False)
    assert read["customer_file_source"] == "USER_PROVIDED_ONLY"
    assert read["operation_status"]["code"] == 200
    assert read["delivery_status"]["code"] == 300  # empty: too small to deliver
    assert read["lookalike_audience_ids"] == []
    valued_read = valued.api_get(fields=["is_value_based", "customer_file_source"])
    assert (valued_read["is_value_based"], valued_read["customer_file_source"]) == (
        True,
        "PARTNER_PROVIDED_ONLY",
    )


def test_create_rejects_missing_customer_file_source_and_unknown_fields(account: AdAccount) -> None:
    with pytest.raises(FacebookRequestError) as caught:
        account.create_custom_audience(params={"name": "x", "subtype": "CUSTOM"})
    assert caught.value.api_error_code() == 100
    audience = new_audience(account)
    with pytest.raises(FacebookRequestError) as field:
        audience.api_get(fields=["approximate_count"])  # replaced by the two bounds
    assert field.value.api_error_code() == 100


def test_size_bounds_follow_matched_people(account: AdAccount) -> None:
    with run_meta_sandbox(config(match_rate=0.5)) as half:
        acct = AdAccount(ACCOUNT, api=make_api(half.url))
        audience = new_audience(acct)
        audience.add_users(EMAIL, emails(10_000), pre_hashed=True)
        total, matched = half.state.counts(audience["id"])
        read = audience.api_get(fields=FIELDS)
    assert total == 10_000 and 4_700 < matched < 5_300
    assert read["approximate_count_lower_bound"] <= matched <= read["approximate_count_upper_bound"]
    assert read["approximate_count_upper_bound"] < total
    assert read["delivery_status"]["code"] == 200
    small = new_audience(account)
    small.add_users(EMAIL, emails(150), pre_hashed=True)
    bounds = small.api_get(fields=FIELDS)
    assert (bounds["approximate_count_lower_bound"], bounds["approximate_count_upper_bound"]) == (1000, 1000)


def test_listing_pages_with_cursors(account: AdAccount) -> None:
    made = [new_audience(account, name=f"a{i}")["id"] for i in range(5)]
    cursor = account.get_custom_audiences(fields=["name"], params={"limit": 2})
    assert [a["id"] for a in cursor] == made  # the SDK follows paging.cursors.after
    first = account.get_api().call("GET", (ACCOUNT, "customaudiences"), params={"limit": 2}).json()
    assert "next" in first["paging"] and len(first["data"]) == 2
    second = (
        account.get_api()
        .call(
            "GET",
            (ACCOUNT, "customaudiences"),
            params={"limit": 2, "after": first["paging"]["cursors"]["after"]},
        )
        .json()
    )
    assert [a["id"] for a in second["data"]] == made[2:4]
    with pytest.raises(FacebookRequestError) as bad:
        account.get_api().call("GET", (ACCOUNT, "customaudiences"), params={"after": "not-a-cursor"})
    assert bad.value.api_error_code() == 100


def test_delete_removes_the_audience(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    audience.add_users(EMAIL, emails(3), pre_hashed=True)
    audience.api_delete()
    assert sandbox.state.audience(audience["id"]) is None
    with pytest.raises(FacebookRequestError) as caught:
        audience.api_get(fields=["name"])
    assert (caught.value.api_error_code(), caught.value.api_error_subcode()) == (100, 33)


def test_lookalike_from_a_value_based_seed(sandbox: RunningSandbox, account: AdAccount) -> None:
    seed = value_seed(account, 150)
    created = lookalike(account, seed, {"type": "custom_ratio", "ratio": 0.05, "country": "US"})
    la = CustomAudience(created["id"], api=account.get_api())
    read = la.api_get(fields=["subtype", "lookalike_spec", "approximate_count_lower_bound", "is_value_based"])
    assert read["subtype"] == "LOOKALIKE" and read["is_value_based"] is True
    assert read["lookalike_spec"]["ratio"] == 0.05
    assert read["lookalike_spec"]["origin"][0]["id"] == seed["id"]
    assert read["approximate_count_lower_bound"] > 1_000_000
    assert seed.api_get(fields=["lookalike_audience_ids"])["lookalike_audience_ids"] == [la["id"]]
    with pytest.raises(FacebookRequestError) as duplicate:
        lookalike(account, seed, {"type": "custom_ratio", "ratio": 0.05, "country": "US"})
    assert duplicate.value.api_error_code() == 2654


@pytest.mark.parametrize(
    ("people", "spec", "code"),
    [
        (60, {"type": "custom_ratio", "ratio": 0.05, "country": "US"}, 2654),  # seed too small
        (150, {"type": "custom_ratio", "ratio": 0.25, "country": "US"}, 100),
        (150, {"type": "custom_ratio", "ratio": 0.015, "country": "US"}, 100),
        (150, {"type": "custom_ratio", "ratio": "0.05", "country": "US"}, 100),  # v24 strict types
        (150, {"type": "similarity", "country": "US"}, 100),  # value-based needs custom_ratio
        (150, {"type": "custom_ratio", "ratio": 0.05}, 100),  # no location
    ],
)
def test_lookalike_rejections(account: AdAccount, people: int, spec: dict[str, Any], code: int) -> None:
    seed = value_seed(account, people)
    with pytest.raises(FacebookRequestError) as caught:
        lookalike(account, seed, spec)
    assert caught.value.api_error_code() == code


def test_lookalike_is_building_until_its_delay_passes(account: AdAccount) -> None:
    with run_meta_sandbox(config(lookalike_build_seconds=3600)) as slow:
        acct = AdAccount(ACCOUNT, api=make_api(slow.url))
        seed = new_audience(acct)
        seed.add_users(EMAIL, emails(200), pre_hashed=True)
        created = lookalike(acct, seed, {"type": "similarity", "country": "GB"})
        la = CustomAudience(created["id"], api=acct.get_api())
        fields = ["operation_status", "approximate_count_lower_bound", "approximate_count_upper_bound"]
        building = la.api_get(fields=fields).export_all_data()  # api_get reuses the object
        slow.clock.advance(3600)
        ready = la.api_get(fields=fields).export_all_data()
    assert building["operation_status"]["code"] == 441
    assert building["approximate_count_lower_bound"] == building["approximate_count_upper_bound"] == -1
    assert ready["operation_status"]["code"] == 200
    assert ready["approximate_count_lower_bound"] <= 500_000 <= ready["approximate_count_upper_bound"]


def test_batch_calls_answer_a_list_of_code_headers_body(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    audience.add_users(EMAIL, [sha("a@x.com")], pre_hashed=True)
    api = account.get_api()
    batch = FacebookAdsApiBatch(api)
    answers: list[Any] = []
    audience.api_get(fields=["name"], batch=batch, success=lambda r: answers.append(r.json()))
    CustomAudience("999", api=api).api_get(
        fields=["name"], batch=batch, failure=lambda r: answers.append(r.error().api_error_code())
    )
    assert batch.execute() is None
    assert answers == [{"name": "buyers", "id": audience["id"]}, 100]


def test_old_api_versions_answer_2635(sandbox: RunningSandbox) -> None:
    old = AdAccount(ACCOUNT, api=make_api(sandbox.url, version="v19.0"))
    with pytest.raises(FacebookRequestError) as caught:
        old.get_custom_audiences()
    assert caught.value.api_error_code() == 2635


def test_per_account_limit_on_custom_audiences(account: AdAccount) -> None:
    with run_meta_sandbox(config(max_custom_audiences=2)) as capped:
        acct = AdAccount(ACCOUNT, api=make_api(capped.url))
        new_audience(acct)
        new_audience(acct)
        with pytest.raises(FacebookRequestError) as caught:
            new_audience(acct)
    assert caught.value.api_error_code() == 2654
