"""``/usersreplace`` sessions through the real SDK: swap at the end, one replace at a time."""

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


def replace(audience: CustomAudience, hashes: list[str], session_id: int, seq: int, last: bool) -> Any:
    return audience.create_users_replace(
        params={
            "payload": {"schema": EMAIL, "data": hashes},
            "session": {"session_id": session_id, "batch_seq": seq, "last_batch_flag": last},
        }
    )


def status(audience: CustomAudience) -> int:
    return int(audience.api_get(fields=["operation_status"])["operation_status"]["code"])


def members(sandbox: RunningSandbox, audience: CustomAudience) -> set[str]:
    return set(sandbox.state.values(audience["id"]))


def test_replace_swaps_members_only_when_the_session_ends(
    sandbox: RunningSandbox, account: AdAccount
) -> None:
    audience = new_audience(account)
    old, new = emails(5, "old"), emails(6, "new")
    audience.add_users(EMAIL, old, pre_hashed=True)
    replace(audience, new[:3], 77, 1, False)
    assert members(sandbox, audience) == set(old)  # never empty mid-replace
    assert status(audience) == 414
    replace(audience, new[3:], 77, 2, True)
    assert members(sandbox, audience) == set(new)
    assert status(audience) == 200
    [session] = audience.get_sessions(params={"session_id": 77})
    assert (session["num_received"], session["stage"]) == (6, "finished")


def test_a_second_concurrent_replace_is_rejected(sandbox: RunningSandbox, account: AdAccount) -> None:
    audience = new_audience(account)
    replace(audience, emails(2), 1, 1, False)
    with pytest.raises(FacebookRequestError) as caught:
        replace(audience, emails(2, "other"), 2, 1, False)
    assert (caught.value.api_error_code(), caught.value.api_error_subcode()) == (2650, 1870145)
    with pytest.raises(FacebookRequestError) as adding:
        audience.add_users(EMAIL, emails(1, "x"), pre_hashed=True)  # no /users during a replace
    assert (adding.value.api_error_code(), adding.value.api_error_subcode()) == (2650, 1870145)
    replace(audience, emails(1, "z"), 1, 2, True)
    replace(audience, emails(2, "other"), 2, 1, True)  # the first one finished: now allowed
    assert members(sandbox, audience) == set(emails(2, "other"))


@pytest.mark.parametrize(
    ("steps", "subcode"),
    [
        ([(5, 2, False)], 1870147),  # batch_seq must start at 1
        ([(5, 1, True), (5, 2, False)], 1870159),  # session already finished
        ([(5, 1, True), (5, 1, False)], 1870159),  # batch_seq 1 cannot reopen a finished id
    ],
)
def test_replace_session_rules(account: AdAccount, steps: list[tuple[int, int, bool]], subcode: int) -> None:
    audience = new_audience(account)
    *setup, (sid, seq, last) = steps
    for s, q, flag in setup:
        replace(audience, emails(1), s, q, flag)
    with pytest.raises(FacebookRequestError) as caught:
        replace(audience, emails(1, "late"), sid, seq, last)
    assert (caught.value.api_error_code(), caught.value.api_error_subcode()) == (2650, subcode)


def test_replace_times_out_after_ninety_minutes_with_partial_data(
    sandbox: RunningSandbox, account: AdAccount
) -> None:
    audience = new_audience(account)
    audience.add_users(EMAIL, emails(4, "old"), pre_hashed=True)
    replace(audience, emails(2, "new"), 3, 1, False)
    sandbox.clock.advance(90 * 60)
    with pytest.raises(FacebookRequestError) as caught:
        replace(audience, emails(2, "late"), 3, 2, True)
    assert (caught.value.api_error_code(), caught.value.api_error_subcode()) == (2650, 1870158)
    assert members(sandbox, audience) == set(emails(2, "new"))  # replaced with what arrived
    assert status(audience) == 415
    audience.add_users(EMAIL, emails(2, "late"), pre_hashed=True)  # top up via /users
    assert status(audience) == 200 and len(members(sandbox, audience)) == 4


def test_replace_keeps_its_first_schema_and_cannot_drop_values(account: AdAccount) -> None:
    audience = new_audience(account, value_based=True)
    valued = {"schema": ["EMAIL", "LOOKALIKE_VALUE"], "data": [[sha("a@x.com"), 3.5]]}
    audience.create_users_replace(
        params={"payload": valued, "session": {"session_id": 8, "batch_seq": 1, "last_batch_flag": False}}
    )
    plain = {"schema": ["EMAIL"], "data": [[sha("b@x.com")]]}
    with pytest.raises(FacebookRequestError) as caught:
        audience.create_users_replace(
            params={"payload": plain, "session": {"session_id": 8, "batch_seq": 2, "last_batch_flag": True}}
        )
    assert caught.value.api_error_code() == 100  # value-based stays value-based


def test_replace_needs_a_session(account: AdAccount) -> None:
    audience = new_audience(account)
    with pytest.raises(FacebookRequestError) as caught:
        audience.create_users_replace(params={"payload": {"schema": EMAIL, "data": emails(1)}})
    assert caught.value.api_error_code() == 100


def test_replace_of_very_large_audiences_is_refused(account: AdAccount) -> None:
    from services.sandbox_meta.server import run_meta_sandbox
    from tests.integration.sandbox_meta.conftest import ACCOUNT, config, make_api

    with run_meta_sandbox(config(replace_max_members=3)) as small:
        audience = new_audience(AdAccount(ACCOUNT, api=make_api(small.url)))
        audience.add_users(EMAIL, emails(3), pre_hashed=True)
        with pytest.raises(FacebookRequestError) as caught:
            replace(audience, emails(1), 1, 1, True)
    assert (caught.value.api_error_code(), caught.value.api_error_subcode()) == (2650, 1870144)
