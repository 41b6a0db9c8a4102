"""Google Ads API v26 through the official google-ads client: CRM lists, offline user data jobs
with partial failure and a long-running run, GAQL reads, and the GoogleAdsFailure error model."""

from __future__ import annotations

from typing import Any

import pytest
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions

from services.sandbox_google.server import RunningSandbox

from .conftest import CUSTOMER, DEV, ads_client, sha

pytestmark = pytest.mark.integration


def error_codes(exc: GoogleAdsException) -> list[str]:
    codes = []
    for error in exc.failure.errors:
        which = type(error.error_code).pb(error.error_code).WhichOneof("error_code")
        codes.append(f"{which}.{getattr(error.error_code, which).name}")
    return codes


def create_list(client: Any, name: str = "crm buyers", life_span: int = 540) -> str:
    op = client.get_type("UserListOperation")
    op.create.name = name
    op.create.membership_life_span = life_span
    op.create.crm_based_user_list.upload_key_type = client.enums.CustomerMatchUploadKeyTypeEnum.CONTACT_INFO
    op.create.crm_based_user_list.data_source_type = client.enums.UserListCrmDataSourceTypeEnum.FIRST_PARTY
    service = client.get_service("UserListService")
    response = service.mutate_user_lists(customer_id=CUSTOMER, operations=[op], timeout=10)
    return str(response.results[0].resource_name)


def create_job(client: Any, list_name: str, *, consent: str = "GRANTED") -> str:
    job = client.get_type("OfflineUserDataJob")
    job.type_ = client.enums.OfflineUserDataJobTypeEnum.CUSTOMER_MATCH_USER_LIST
    job.customer_match_user_list_metadata.user_list = list_name
    job.customer_match_user_list_metadata.consent.ad_user_data = consent
    job.customer_match_user_list_metadata.consent.ad_personalization = consent
    service = client.get_service("OfflineUserDataJobService")
    return str(service.create_offline_user_data_job(customer_id=CUSTOMER, job=job, timeout=10).resource_name)


def user_op(client: Any, *emails: str, kind: str = "create") -> Any:
    op = client.get_type("OfflineUserDataJobOperation")
    data = getattr(op, kind)
    for email in emails:
        ident = client.get_type("UserIdentifier")
        ident.hashed_email = email if len(email) == 64 else sha(email)
        data.user_identifiers.append(ident)
    return op


def remove_all(client: Any) -> Any:
    op = client.get_type("OfflineUserDataJobOperation")
    op.remove_all = True
    return op


def add(client: Any, job: str, ops: list[Any], partial: bool = False) -> Any:
    service = client.get_service("OfflineUserDataJobService")
    request = client.get_type("AddOfflineUserDataJobOperationsRequest")
    request.resource_name = job
    request.operations.extend(ops)
    request.enable_partial_failure = partial
    return service.add_offline_user_data_job_operations(request=request, timeout=10)


def search(client: Any, query: str) -> list[Any]:
    service = client.get_service("GoogleAdsService")
    return list(service.search(customer_id=CUSTOMER, query=query, timeout=10))


def test_job_flow_partial_failure_lro_and_gaql(ads: Any, google_sandbox: RunningSandbox) -> None:
    list_name = create_list(ads)
    job = create_job(ads, list_name)
    response = add(
        ads,
        job,
        [user_op(ads, "a@example.com"), user_op(ads, "g" * 64), user_op(ads, "b@example.com")],
        partial=True,
    )
    failure_type = type(ads.get_type("GoogleAdsFailure"))
    failures = [failure_type.deserialize(d.value) for d in response.partial_failure_error.details]
    error = failures[0].errors[0]
    assert error.error_code.offline_user_data_job_error.name == "INVALID_SHA256_FORMAT"
    assert [(e.field_name, e.index if "index" in e else None) for e in error.location.field_path_elements][
        :3
    ] == [("operations", 1), ("create", None), ("user_identifiers", 0)]
    lro = ads.get_service("OfflineUserDataJobService").run_offline_user_data_job(
        resource_name=job, timeout=10
    )
    lro.result(timeout=10)
    assert lro.metadata.match_rate_range.name == "MATCH_RANGE_91_TO_100"
    job_query = (
        "SELECT offline_user_data_job.status, offline_user_data_job.operation_metadata.match_rate_range "
        "FROM offline_user_data_job WHERE offline_user_data_job.resource_name = '%s'"
    )
    rows = search(ads, job_query % job)
    assert [r.offline_user_data_job.status.name for r in rows] == ["SUCCESS"]
    sample_query = (  # the query of Google's add_customer_match_user_list.py sample
        "SELECT offline_user_data_job.resource_name, offline_user_data_job.id, offline_user_data_job.status, "
        "offline_user_data_job.type, offline_user_data_job.failure_reason, "
        "offline_user_data_job.customer_match_user_list_metadata.user_list "
        "FROM offline_user_data_job WHERE offline_user_data_job.resource_name = '%s' LIMIT 1"
    )
    sampled = search(ads, sample_query % job)[0].offline_user_data_job
    assert (sampled.resource_name, sampled.type_.name, sampled.failure_reason.name) == (
        job,
        "CUSTOMER_MATCH_USER_LIST",
        "UNSPECIFIED",
    )
    assert sampled.customer_match_user_list_metadata.user_list == list_name
    assert rows[0].offline_user_data_job.resource_name == job  # always returned
    assert rows[0].offline_user_data_job.id == 0  # not selected, not returned
    list_query = (
        "SELECT user_list.size_for_display, user_list.match_rate_percentage FROM user_list "
        "WHERE user_list.resource_name = '%s'"
    )
    lists = search(ads, list_query % list_name)
    assert lists[0].user_list.size_for_display == 2
    assert lists[0].user_list.match_rate_percentage == 100
    list_id = list_name.rsplit("/", 1)[1]
    assert google_sandbox.state.members(list_id) == {
        f"email:{sha('a@example.com')}": ("CONSENT_GRANTED", "CONSENT_GRANTED"),
        f"email:{sha('b@example.com')}": ("CONSENT_GRANTED", "CONSENT_GRANTED"),
    }


def test_without_partial_failure_one_bad_operation_fails_the_request(ads: Any) -> None:
    job = create_job(ads, create_list(ads))
    with pytest.raises(GoogleAdsException) as err:
        add(ads, job, [user_op(ads, "a@example.com"), user_op(ads, "G" * 64)])
    assert error_codes(err.value) == ["offline_user_data_job_error.INVALID_SHA256_FORMAT"]
    assert err.value.request_id


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        (lambda c: [user_op(c, "a@x.com"), user_op(c, "b@x.com", kind="remove")], "CONFLICTING_OPERATION"),
        (lambda c: [user_op(c, *[f"{i}@x.com" for i in range(21)])], "TOO_MANY_USER_IDENTIFIERS"),
        (lambda c: [user_op(c, "a@x.com"), remove_all(c)], "INVALID_OPERATION_ORDER"),
    ],
)  # fmt: skip
def test_job_rules_are_refused_with_google_codes(ads: Any, ops: Any, code: str) -> None:
    job = create_job(ads, create_list(ads))
    with pytest.raises(GoogleAdsException) as err:
        add(ads, job, ops(ads))
    assert f"offline_user_data_job_error.{code}" in error_codes(err.value)


def test_nothing_is_added_after_run(ads: Any) -> None:
    job = create_job(ads, create_list(ads))
    add(ads, job, [user_op(ads, "a@example.com")])
    ads.get_service("OfflineUserDataJobService").run_offline_user_data_job(resource_name=job, timeout=10)
    with pytest.raises(GoogleAdsException) as err:
        add(ads, job, [user_op(ads, "b@example.com")])
    assert error_codes(err.value) == ["offline_user_data_job_error.JOB_ALREADY_STARTED"]


def test_denied_consent_and_life_span_over_540_are_refused(ads: Any) -> None:
    with pytest.raises(GoogleAdsException) as span:
        create_list(ads, life_span=541)
    assert error_codes(span.value) == ["range_error.TOO_HIGH"]
    with pytest.raises(GoogleAdsException) as consent:
        create_job(ads, create_list(ads), consent="DENIED")
    assert error_codes(consent.value) == [
        "offline_user_data_job_error.CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS"
    ]


def test_second_running_job_on_a_list_is_concurrent_modification(
    ads: Any, google_sandbox: RunningSandbox
) -> None:
    list_name = create_list(ads)
    first, second = create_job(ads, list_name), create_job(ads, list_name)
    service = ads.get_service("OfflineUserDataJobService")
    service.run_offline_user_data_job(resource_name=first, timeout=10)
    with pytest.raises(GoogleAdsException) as err:
        service.run_offline_user_data_job(resource_name=second, timeout=10)
    assert err.value.error.code().name == "ABORTED"
    assert error_codes(err.value) == ["database_error.CONCURRENT_MODIFICATION"]


def test_developer_token_not_allowlisted_gets_customer_not_allowlisted(
    google_sandbox: RunningSandbox,
) -> None:
    client = ads_client(google_sandbox, developer_token=DEV)
    list_name = create_list(client)  # list management stays open
    with pytest.raises(GoogleAdsException) as err:
        create_job(client, list_name)
    assert error_codes(err.value) == ["not_allowlisted_error.CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE"]
    assert err.value.error.code().name == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"developer_token": "unknown"}, "UNAUTHENTICATED", "authentication_error.DEVELOPER_TOKEN_INVALID"),
        ({"token": "unknown"}, "UNAUTHENTICATED", "authentication_error.OAUTH_TOKEN_INVALID"),
        ({"login": "5555555555"}, "PERMISSION_DENIED", "authorization_error.USER_PERMISSION_DENIED"),
    ],
)
def test_authentication_and_authorization(
    google_sandbox: RunningSandbox, kwargs: dict[str, Any], status: str, code: str
) -> None:
    client = ads_client(google_sandbox, **kwargs)
    with pytest.raises(GoogleAdsException) as err:
        search(client, "SELECT user_list.id FROM user_list")
    assert err.value.error.code().name == status
    assert error_codes(err.value) == [code]


def test_quota_window_is_resource_exhausted_with_retry_delay(
    ads: Any, google_sandbox: RunningSandbox
) -> None:
    google_sandbox.faults.open_quota_window(google_sandbox.clock.now() + 30, "googleads")
    with pytest.raises(exceptions.ResourceExhausted) as err:
        search(ads, "SELECT user_list.id FROM user_list")
    failure_type = type(ads.get_type("GoogleAdsFailure"))
    raw = dict(err.value.response.trailing_metadata())["google.ads.googleads.v26.errors.googleadsfailure-bin"]
    failure = failure_type.deserialize(raw)
    assert failure.errors[0].error_code.quota_error.name == "RESOURCE_TEMPORARILY_EXHAUSTED"
    assert failure.errors[0].details.quota_error_details.retry_delay.seconds > 0


def test_unsupported_gaql_is_refused_clearly_and_search_stream_works(ads: Any) -> None:
    with pytest.raises(GoogleAdsException) as err:
        search(ads, "SELECT campaign.id FROM campaign")
    assert error_codes(err.value) == ["query_error.BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"]
    list_name = create_list(ads)
    service = ads.get_service("GoogleAdsService")  # keep it: its channel closes when it is collected
    stream = service.search_stream(
        customer_id=CUSTOMER,
        query="SELECT user_list.resource_name, user_list.name FROM user_list",
        timeout=10,
    )
    rows = [row for batch in stream for row in batch.results]
    assert [(r.user_list.resource_name, r.user_list.name) for r in rows] == [(list_name, "crm buyers")]


def test_daily_operations_quota_is_resource_exhausted_until_the_day_ends() -> None:
    from dataclasses import replace

    from services.sandbox_google.domain.quotas import QuotaLimits
    from services.sandbox_google.server import run_google_sandbox

    from .conftest import config

    with run_google_sandbox(replace(config(), quotas=QuotaLimits(ads_operations_per_day=2))) as small:
        client = ads_client(small)
        search(client, "SELECT user_list.id FROM user_list")
        search(client, "SELECT user_list.id FROM user_list")
        with pytest.raises(exceptions.ResourceExhausted):
            search(client, "SELECT user_list.id FROM user_list")
        small.clock.advance(86_400)
        assert search(client, "SELECT user_list.id FROM user_list") == []


def test_lists_are_shared_between_the_apis_and_latest_job_is_found_by_order(
    ads: Any, google_sandbox: RunningSandbox
) -> None:
    from .conftest import create_list as create_dm_list
    from .conftest import dm_clients

    clients = dm_clients(google_sandbox)
    try:
        made = create_dm_list(clients, "from data manager")
    finally:
        clients.close()
    list_name = f"customers/{CUSTOMER}/userLists/{made.id}"
    first, second = create_job(ads, list_name), create_job(ads, list_name)
    query = (
        "SELECT offline_user_data_job.resource_name FROM offline_user_data_job "
        "WHERE offline_user_data_job.customer_match_user_list_metadata.user_list = '%s' "
        "ORDER BY offline_user_data_job.id DESC LIMIT 1"
    )
    assert [r.offline_user_data_job.resource_name for r in search(ads, query % list_name)] == [second]
    assert first != second


def test_login_customer_may_be_a_manager_the_account_itself_or_absent(google_sandbox: RunningSandbox) -> None:
    from .conftest import OTHER_CUSTOMER

    for login in (None, CUSTOMER, "9876543210"):
        assert search(ads_client(google_sandbox, login=login), "SELECT user_list.id FROM user_list") == []
    with pytest.raises(GoogleAdsException) as err:  # a client account is no manager of another
        search(ads_client(google_sandbox, login=OTHER_CUSTOMER), "SELECT user_list.id FROM user_list")
    assert error_codes(err.value) == ["authorization_error.USER_PERMISSION_DENIED"]


def test_user_data_service_uploads_at_once_and_refuses_tokens_not_allowlisted(
    ads: Any, google_sandbox: RunningSandbox
) -> None:
    list_name = create_list(ads)
    request = ads.get_type("UploadUserDataRequest")
    request.customer_id = CUSTOMER
    request.customer_match_user_list_metadata.user_list = list_name
    request.customer_match_user_list_metadata.consent.ad_user_data = "GRANTED"
    request.customer_match_user_list_metadata.consent.ad_personalization = "GRANTED"
    op = ads.get_type("UserDataOperation")
    ident = ads.get_type("UserIdentifier")
    ident.hashed_email = sha("direct@example.com")
    op.create.user_identifiers.append(ident)
    request.operations.append(op)
    response = ads.get_service("UserDataService").upload_user_data(request=request, timeout=10)
    assert response.received_operations_count == 1
    assert list(google_sandbox.state.members(list_name.rsplit("/", 1)[1])) == [
        f"email:{sha('direct@example.com')}"
    ]
    not_allowed = ads_client(google_sandbox, developer_token=DEV)
    with pytest.raises(GoogleAdsException) as err:
        not_allowed.get_service("UserDataService").upload_user_data(request=request, timeout=10)
    assert error_codes(err.value) == ["not_allowlisted_error.CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE"]


def test_user_list_update_by_mask(ads: Any) -> None:
    from google.protobuf import field_mask_pb2

    list_name = create_list(ads)
    op = ads.get_type("UserListOperation")
    op.update.resource_name = list_name
    op.update.membership_life_span = 90
    op.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=["membership_life_span"]))
    service = ads.get_service("UserListService")
    service.mutate_user_lists(customer_id=CUSTOMER, operations=[op], timeout=10)
    rows = search(ads, "SELECT user_list.membership_life_span FROM user_list")
    assert [r.user_list.membership_life_span for r in rows] == [90]
    op.update.membership_life_span = 600
    with pytest.raises(GoogleAdsException) as err:
        service.mutate_user_lists(customer_id=CUSTOMER, operations=[op], timeout=10)
    assert error_codes(err.value) == ["range_error.TOO_HIGH"]
