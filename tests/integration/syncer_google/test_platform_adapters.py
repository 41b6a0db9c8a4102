"""The two Google adapters against the sandbox, through the official clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.oauth2.credentials import Credentials

from services.syncer_google.adapters.calls import GoogleCalls, GoogleError
from services.syncer_google.adapters.datamanager import DataManagerLists
from services.syncer_google.adapters.google_ads import GoogleAdsLists
from services.syncer_google.domain.errors import GoogleKind
from shared.sync.google_consent import member_consent

pytestmark = pytest.mark.integration

CUSTOMER = "1234567890"
E1, E2, P1, N1, N2 = "1" * 64, "2" * 64, "3" * 64, "4" * 64, "5" * 64


class FreeQuota:
    def take(self, max_wait: float) -> float:
        return 0.0


def _calls() -> GoogleCalls:
    return GoogleCalls(FreeQuota(), base_delay=0.01, jitter=lambda: 0.5)


def _settled(lists: DataManagerLists, request_id: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    return _wait(lambda: lists.request_status(request_id), timeout)


def _wait(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got.done or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.fixture
def dm_lists(google_sandbox) -> Iterator[DataManagerLists]:  # type: ignore[no-untyped-def]
    lists = DataManagerLists(
        _calls(),
        operating_account=CUSTOMER,
        login_account=None,
        credentials=Credentials(token="sandbox-token"),  # type: ignore[no-untyped-call]
        endpoint=google_sandbox.endpoint,
        ca_pem=google_sandbox.ca_pem,
    )
    yield lists
    lists.close()


def test_data_manager_list_ingest_remove_and_safe_replace(dm_lists: DataManagerLists, google_sandbox) -> None:  # type: ignore[no-untyped-def]
    assert dm_lists.find_list("as icp_seed") is None
    list_id = dm_lists.create_list("as icp_seed", "ideal customers", 540)
    assert dm_lists.find_list("as icp_seed") == list_id

    granted = member_consent(True, True)
    rows = [
        (E1, P1, N1, N2, "DE", "10115", "granted", "granted"),
        (E2, "", "", "", "", "", "", ""),
    ]
    assert granted.granted
    outcome = _settled(dm_lists, dm_lists.add(list_id, rows))
    assert outcome.state == "SUCCESS", outcome
    members = google_sandbox.state.members(list_id)
    assert members[f"email:{E1}"] == ("CONSENT_GRANTED", "CONSENT_GRANTED")
    assert f"email:{E2}" in members

    outcome = _settled(dm_lists, dm_lists.remove(list_id, [rows[1]]))
    assert outcome.state == "SUCCESS"
    assert f"email:{E2}" not in google_sandbox.state.members(list_id)

    # Safe replace: everyone re-ingested after T stays, everyone last added before T goes.
    time.sleep(0.01)
    as_of = datetime.now(UTC)
    fresh = [(E2, "", "", "", "", "", "", "")]
    _settled(dm_lists, dm_lists.add(list_id, fresh))
    _settled(dm_lists, dm_lists.remove_all_before(list_id, as_of))
    assert set(google_sandbox.state.members(list_id)) == {f"email:{E2}"}

    info = dm_lists.read_list(list_id)
    assert info.name == "as icp_seed" and info.membership_days == 540


def test_data_manager_unknown_token_stops_at_once(google_sandbox) -> None:  # type: ignore[no-untyped-def]
    lists = DataManagerLists(
        _calls(),
        operating_account=CUSTOMER,
        login_account=None,
        credentials=Credentials(token="wrong"),  # type: ignore[no-untyped-call]
        endpoint=google_sandbox.endpoint,
        ca_pem=google_sandbox.ca_pem,
    )
    with pytest.raises(GoogleError) as stopped:
        lists.find_list("x")
    lists.close()
    assert stopped.value.failure.kind is GoogleKind.AUTH


def _ads(google_sandbox, developer_token: str = "sandbox-dev-token") -> GoogleAdsLists:  # noqa: S107  # type: ignore[no-untyped-def]
    return GoogleAdsLists(
        _calls(),
        customer_id=CUSTOMER,
        login_customer_id=None,
        developer_token=developer_token,
        credentials=Credentials(token="sandbox-token"),  # type: ignore[no-untyped-call]
        endpoint=google_sandbox.endpoint,
        ca_pem=google_sandbox.ca_pem,
    )


def test_google_ads_job_adds_members_and_reports_bad_rows(google_sandbox) -> None:  # type: ignore[no-untyped-def]
    ads = _ads(google_sandbox)
    list_id = ads.create_list("as icp_seed", "ideal customers", 30)
    assert ads.find_list("as icp_seed") == list_id
    job = ads.create_job(list_id, member_consent(True, True))
    rows = [(E1, P1, "", "", "", "", "", ""), ("not-a-hash", "", "", "", "", "", "", "")]
    refused = ads.add_operations(job, rows, remove=False)
    assert list(refused) == [1] and "INVALID_SHA256_FORMAT" in refused[1]
    ads.run_job(job)
    status = _wait(lambda: ads.job_status(job))
    assert status.status == "SUCCESS"
    assert f"email:{E1}" in google_sandbox.state.members(list_id)
    assert ads.read_list(list_id).membership_days == 30
    ads.close()


def test_google_ads_not_allowlisted_token_is_told_to_switch(google_sandbox) -> None:  # type: ignore[no-untyped-def]
    from services.sandbox_google.config import GoogleSandboxConfig
    from services.sandbox_google.server import run_google_sandbox
    from services.sandbox_google.testing import session_identity

    config = GoogleSandboxConfig(developer_tokens=("plain-dev",), tls_identity=session_identity())
    with run_google_sandbox(config) as sandbox:
        ads = _ads(sandbox, developer_token="plain-dev")
        list_id = ads.create_list("as x", "", 30)  # user lists are not Customer Match uploads
        with pytest.raises(GoogleError) as stopped:
            ads.create_job(list_id, None)
        ads.close()
    assert stopped.value.failure.kind is GoogleKind.NOT_ALLOWLISTED
