"""Adding and removing users through the real facebook-business SDK."""

from __future__ import annotations

from typing import Any

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.exceptions import FacebookRequestError

from services.sandbox_meta.server import RunningSandbox
from tests.integration.sandbox_meta.conftest import emails, new_audience, sha

pytestmark = pytest.mark.integration

EMAIL = CustomAudience.Schema.email_hash


def test_add_and_remove_with_a_session_report_the_running_total(
    sandbox: RunningSandbox, account: AdAccount
) -> None:
    audience = new_audience(account)
    hashes = emails(30)
    session = {"session_id": 9001, "batch_seq": 1, "last_batch_flag": False, "estimated_num_total": 30}
    first = audience.add_users(EMAIL, hashes[:20], pre_hashed=True, session=session).json()
    session.update(batch_seq=2, last_batch_flag=True)
    second = audience.add_users(EMAIL, hashes[20:], pre_hashed=True, session=session).json()
    assert (first["num_received"], second["num_received"]) == (20, 30)
    assert second["session_id"] == "9001" and second["num_invalid_entries"] == 0
    assert set(sandbox.state.members(audience["id"])) == set(hashes)

    read_back = audience.get_sessions(params={"session_id": 9001})
    assert [(s["session_id"], s["num_received"], s["stage"]) for s in read_back] == [("9001", 30, "finished")]

    session.update(batch_seq=3)
    with pytest.raises(FacebookRequestError) as closed:
        audience.add_users(EMAIL, hashes[:1], pre_hashed=True, session=session)
    assert (closed.value.api_error_code(), closed.value.api_error_subcode()) == (2650, 1870159)

    removed = audience.remove_users(EMAIL, hashes[:10], pre_hashed=True).json()
    assert removed["num_received"] == 10
    assert sandbox.state.counts(audience["id"]) == (20, 20)


def test_sdk_hashing_of_raw_emails_is_accepted(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    answer = audience.add_users(EMAIL, ["  Ann@Example.com ", "bob@example.com"]).json()
    assert answer["num_invalid_entries"] == 0
    assert sandbox.state.values(audience["id"]) == {
        sha("ann@example.com"): None,
        sha("bob@example.com"): None,
    }


def test_ten_thousand_row_removal_fits_in_one_delete_url(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    hashes = emails(10_000)
    audience.add_users(EMAIL, hashes, pre_hashed=True)
    assert sandbox.state.counts(audience["id"]) == (10_000, 10_000)
    answer = audience.remove_users(EMAIL, hashes, pre_hashed=True)  # ~670 KB query string
    assert answer.json()["num_received"] == 10_000
    assert sandbox.state.counts(audience["id"]) == (0, 0)
    assert sandbox.calls["DELETE /{audience_id}/users"] == 1
    assert sandbox.calls[f"DELETE /v26.0/{audience['id']}/users"] == 1  # concrete paths work too


def test_method_delete_override_removes_users(sandbox: RunningSandbox, account: AdAccount, api: Any) -> None:
    audience = new_audience(account)
    hashes = emails(10_000, prefix="override")
    audience.add_users(EMAIL, hashes, pre_hashed=True)
    payload = {"schema": EMAIL, "data": hashes[:9_999], "is_raw": False}
    answer = api.call("POST", (audience["id"], "users"), params={"payload": payload, "method": "DELETE"})
    assert answer.json()["num_received"] == 9_999
    assert list(sandbox.state.members(audience["id"])) == hashes[9_999:]


def test_unhashed_emails_are_invalid_entries_and_the_rest_applies(
    sandbox: RunningSandbox, account: AdAccount
) -> None:
    audience = new_audience(account)
    good = emails(3)
    answer = audience.add_users(EMAIL, [*good, "plain@example.com"], pre_hashed=True).json()
    assert answer["num_received"] == 4
    assert answer["num_invalid_entries"] == 1
    assert "plain@example.com" in answer["invalid_entry_samples"]
    assert set(sandbox.state.values(audience["id"])) == set(good)


def test_rows_with_the_wrong_arity_are_invalid_entries(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    rows: list[list[str]] = [[sha("a@x.com"), sha("ann")], [sha("b@x.com")], [sha("c@x.com"), "", "extra"]]
    answer = audience.create_user(
        params={"payload": {"schema": ["EMAIL", "FN"], "data": rows, "is_raw": True}}
    )
    assert answer["num_invalid_entries"] == 2
    assert sandbox.state.values(audience["id"]) == {sha("a@x.com"): None}


def test_more_than_ten_thousand_rows_fail_with_code_100(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    with pytest.raises(FacebookRequestError) as caught:
        audience.add_users(EMAIL, emails(10_001), pre_hashed=True)
    assert caught.value.api_error_code() == 100
    assert caught.value.http_status() == 400
    assert sandbox.state.counts(audience["id"]) == (0, 0)


@pytest.mark.parametrize("schema", [["EMAIL", "SHOE_SIZE"], ["EMAIL", "APPUID"], "EMAIL"])
def test_unknown_schema_keys_fail_with_code_100(account: AdAccount, schema: Any) -> None:
    audience = new_audience(account)
    data = [[sha("a"), "x"]] if isinstance(schema, list) else [sha("a")]
    with pytest.raises(FacebookRequestError) as caught:
        audience.create_user(params={"payload": {"schema": schema, "data": data}})
    assert caught.value.api_error_code() == 100


def test_switching_between_single_and_multi_key_is_the_2650_data_source_error(account: AdAccount) -> None:
    audience = new_audience(account)
    audience.add_users(EMAIL, emails(2), pre_hashed=True)
    with pytest.raises(FacebookRequestError) as caught:
        audience.add_users(["EMAIL", "FN"], [[sha("z@x.com"), sha("zed")]], is_raw=True, pre_hashed=True)
    assert caught.value.api_error_code() == 2650
    assert "FILE_IMPORTED.HASHES_OR_USER_IDS" in caught.value.api_error_message()
    assert audience.api_get(fields=["data_source"])["data_source"]["sub_type"] == "HASHES_OR_USER_IDS"


def test_multi_key_rows_resolve_to_one_person(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    schema = ["EMAIL", "PHONE", "EXTERN_ID"]
    audience.add_users(schema, [[sha("a@x.com"), "", "crm-1"]], is_raw=True, pre_hashed=True)
    audience.add_users(schema, [["", sha("15550001"), "crm-1"]], is_raw=True, pre_hashed=True)
    [member] = sandbox.state.member_records(audience["id"])
    assert member.fields == {"EMAIL": sha("a@x.com"), "PHONE": sha("15550001"), "EXTERN_ID": "crm-1"}
    assert sandbox.state.members(audience["id"]) == {sha("a@x.com"): None}
    audience.remove_users(schema, [["", "", "crm-1"]], is_raw=True, pre_hashed=True)
    assert sandbox.state.members(audience["id"]) == {}


def test_value_based_audiences_take_lookalike_values(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account, value_based=True)
    schema = ["EMAIL", "LOOKALIKE_VALUE"]
    rows = [[sha("a@x.com"), 44.5], [sha("b@x.com"), 0], [sha("c@x.com"), -3], [sha("d@x.com"), "12"]]
    answer = audience.add_users(schema, rows, is_raw=True, pre_hashed=True).json()
    assert answer["num_invalid_entries"] == 2
    assert sandbox.state.values(audience["id"]) == {sha("a@x.com"): 44.5, sha("b@x.com"): 0.0}
    audience.add_users(schema, [[sha("a@x.com"), 50]], is_raw=True, pre_hashed=True)
    assert sandbox.state.values(audience["id"])[sha("a@x.com")] == 50.0

    with pytest.raises(FacebookRequestError) as missing:
        audience.add_users(["EMAIL"], [[sha("e@x.com")]], is_raw=True, pre_hashed=True)
    assert missing.value.api_error_code() == 100
    audience.remove_users(["EMAIL"], [[sha("b@x.com")]], is_raw=True, pre_hashed=True)
    assert set(sandbox.state.values(audience["id"])) == {sha("a@x.com")}


def test_lookalike_value_on_a_plain_audience_is_rejected(account: AdAccount) -> None:
    audience = new_audience(account)
    with pytest.raises(FacebookRequestError) as caught:
        audience.add_users(["EMAIL", "LOOKALIKE_VALUE"], [[sha("a@x.com"), 3]], is_raw=True, pre_hashed=True)
    assert caught.value.api_error_code() == 100


def test_flagged_audiences_refuse_membership_edits(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    sandbox.flag_audience(audience["id"])
    with pytest.raises(FacebookRequestError) as caught:
        audience.add_users(EMAIL, emails(1), pre_hashed=True)
    error = caught.value
    assert (error.api_error_code(), error.api_error_subcode()) == (100, 1713230)
    assert error.api_error_type() == "OAuthException"
    assert error.body()["error"]["error_user_title"] == "Audience Upload Blocked"
    assert audience.api_get(fields=["operation_status"])["operation_status"]["code"] == 471
