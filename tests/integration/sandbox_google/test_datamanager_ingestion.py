"""Data Manager API through the official google-ads-datamanager client: lists, ingest, remove,
remove-all, request status, limits and errors as Google documents them."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from google.ads import datamanager_v1 as dm
from google.api_core import exceptions
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2

from services.sandbox_google.server import RunningSandbox

from .conftest import (
    ACCEPTED,
    CUSTOMER,
    GRANTED,
    DataManager,
    create_list,
    destination,
    member,
    sha,
)

pytestmark = pytest.mark.integration
Status = dm.RequestStatusPerDestination.RequestStatus


def ingest(clients: DataManager, list_id: Any, members: list[Any], **fields: Any) -> str:
    request = dm.IngestAudienceMembersRequest(
        destinations=fields.pop("destinations", [destination(list_id)]),
        audience_members=members,
        consent=fields.pop("consent", GRANTED),
        terms_of_service=fields.pop("terms_of_service", ACCEPTED),
        encoding=fields.pop("encoding", "HEX"),
        **fields,
    )
    return str(clients.ingestion.ingest_audience_members(request=request, retry=None).request_id)


def wait_done(clients: DataManager, request_id: str, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status = clients.ingestion.retrieve_request_status(request={"request_id": request_id}, retry=None)
        if all(d.request_status != Status.PROCESSING for d in status.request_status_per_destination):
            return status
        assert time.monotonic() < deadline, "request still PROCESSING"
        time.sleep(0.05)


def violations(exc: exceptions.GoogleAPICallError) -> list[tuple[str, str]]:
    found = []
    for detail in exc.details:
        if isinstance(detail, error_details_pb2.BadRequest):
            found.extend((v.field, v.reason) for v in detail.field_violations)
    return found


def test_created_list_is_listed_and_read_back(datamanager: DataManager) -> None:
    created = create_list(datamanager, "vip")
    assert created.name == f"accountTypes/GOOGLE_ADS/accounts/{CUSTOMER}/userLists/{created.id}"
    got = datamanager.user_lists.get_user_list(
        name=created.name, metadata=datamanager.list_metadata(), retry=None
    )
    assert got.display_name == "vip"
    assert got.membership_duration.total_seconds() == 540 * 86400
    listed = datamanager.user_lists.list_user_lists(
        parent=f"accountTypes/GOOGLE_ADS/accounts/{CUSTOMER}",
        metadata=datamanager.list_metadata(),
        retry=None,
    )
    assert [u.id for u in listed] == [created.id]
    with pytest.raises(exceptions.InvalidArgument) as dup:
        create_list(datamanager, "vip")
    assert ("user_list.display_name", "DISPLAY_NAME_ALREADY_USED") in violations(dup.value)


def test_ingest_is_processing_then_success_and_members_land(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    request_id = ingest(datamanager, created.id, [member(f"u{i}@example.com") for i in range(3)])
    first = datamanager.ingestion.retrieve_request_status(request={"request_id": request_id}, retry=None)
    assert first.request_status_per_destination[0].request_status == Status.PROCESSING
    done = wait_done(datamanager, request_id)
    entry = done.request_status_per_destination[0]
    assert entry.request_status == Status.SUCCESS
    assert entry.audience_members_ingestion_status.user_data_ingestion_status.record_count == 3
    assert entry.destination.product_destination_id == str(created.id)
    assert set(google_sandbox.state.members(created.id)) == {
        f"email:{sha(f'u{i}@example.com')}" for i in range(3)
    }


def test_malformed_hashes_are_error_counts_not_members(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    malformed = [
        dm.AudienceMember(user_data=dm.UserData(user_identifiers=[dm.UserIdentifier(email_address=value)]))
        for value in ("abcd", "not-a-hash", "zz" * 32)
    ]
    request_id = ingest(datamanager, created.id, [member("ok@example.com"), *malformed])
    entry = wait_done(datamanager, request_id).request_status_per_destination[0]
    assert entry.request_status == Status.PARTIAL_SUCCESS
    assert [(c.reason.name, c.record_count) for c in entry.error_info.error_counts] == [
        ("PROCESSING_ERROR_REASON_INVALID_FORMAT", 3)
    ]
    assert entry.audience_members_ingestion_status.user_data_ingestion_status.record_count == 4
    assert list(google_sandbox.state.members(created.id)) == [f"email:{sha('ok@example.com')}"]
    only_bad = wait_done(datamanager, ingest(datamanager, created.id, malformed[:1]))
    assert only_bad.request_status_per_destination[0].request_status == Status.FAILED


def test_member_consent_overrides_request_consent(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    denied = dm.Consent(ad_user_data="CONSENT_DENIED", ad_personalization="CONSENT_DENIED")
    members = [
        member("granted@example.com", consent=("CONSENT_GRANTED", "CONSENT_GRANTED")),
        member("inherits@example.com"),
    ]
    request_id = ingest(datamanager, created.id, members, consent=denied)
    entry = wait_done(datamanager, request_id).request_status_per_destination[0]
    assert entry.request_status == Status.PARTIAL_SUCCESS
    assert entry.error_info.error_counts[0].reason.name == "PROCESSING_ERROR_REASON_DENIED_CONSENT"
    assert google_sandbox.state.members(created.id) == {
        f"email:{sha('granted@example.com')}": ("CONSENT_GRANTED", "CONSENT_GRANTED")
    }


def test_base64_encoding_is_the_same_member_as_hex(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    digest = bytes.fromhex(sha("b64@example.com"))
    b64 = dm.AudienceMember(
        user_data=dm.UserData(
            user_identifiers=[dm.UserIdentifier(email_address=base64.b64encode(digest).decode())]
        )
    )
    wait_done(datamanager, ingest(datamanager, created.id, [b64], encoding="BASE64"))
    assert list(google_sandbox.state.members(created.id)) == [f"email:{sha('b64@example.com')}"]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"encoding": "ENCODING_UNSPECIFIED"}, "encoding", "REQUIRED_FIELD_MISSING"),
        (
            {
                "members": [
                    dm.AudienceMember(
                        user_data=dm.UserData(user_identifiers=[dm.UserIdentifier(email_address="")])
                    )
                ]
            },
            "audience_members[0].user_data.user_identifiers[0].email_address",
            "REQUIRED_FIELD_MISSING",
        ),
        ({"members": [member("a@example.com")] * 10_001}, "audience_members", "TOO_MANY_AUDIENCE_MEMBERS"),
        (
            {
                "members": [
                    dm.AudienceMember(
                        user_data=dm.UserData(
                            user_identifiers=[
                                dm.UserIdentifier(email_address=sha(f"{i}@x.com")) for i in range(11)
                            ]
                        )
                    )
                ]
            },
            "audience_members[0].user_data.user_identifiers",
            "TOO_MANY_USER_IDENTIFIERS",
        ),
        (
            {"destinations": [destination(1, ref=f"d{i}") for i in range(11)]},
            "destinations",
            "TOO_MANY_DESTINATIONS",
        ),
        (
            {"terms_of_service": dm.TermsOfService(customer_match_terms_of_service_status="REJECTED")},
            "terms_of_service.customer_match_terms_of_service_status",
            "TERMS_AND_CONDITIONS_NOT_SIGNED",
        ),
        (
            {"destinations": [destination(42)]},
            "destinations[0].product_destination_id",
            "INVALID_USER_LIST_ID",
        ),
    ],
)
def test_request_level_violations_are_invalid_argument(
    datamanager: DataManager, change: dict[str, Any], field: str, reason: str
) -> None:
    created = create_list(datamanager)
    members = change.pop("members", [member("a@example.com")])
    with pytest.raises(exceptions.InvalidArgument) as err:
        ingest(datamanager, created.id, members, **change)
    assert (field, reason) in violations(err.value)
    assert err.value.reason == reason  # the ErrorInfo carries the first reason
    assert any(isinstance(d, error_details_pb2.RequestInfo) and d.request_id for d in err.value.details)


def test_remove_all_as_of_time_keeps_members_added_after_it(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    wait_done(
        datamanager, ingest(datamanager, created.id, [member("old@example.com"), member("both@example.com")])
    )
    google_sandbox.clock.advance(10)
    as_of = timestamp_pb2.Timestamp()
    as_of.FromSeconds(int(google_sandbox.clock.now()))
    google_sandbox.clock.advance(10)
    wait_done(
        datamanager, ingest(datamanager, created.id, [member("new@example.com"), member("both@example.com")])
    )
    removal = datamanager.ingestion.remove_all_audience_members(
        request=dm.RemoveAllAudienceMembersRequest(
            destinations=[destination(created.id)], remove_as_of_time=as_of
        ),
        retry=None,
    )
    wait_done(datamanager, removal.request_id)
    assert set(google_sandbox.state.members(created.id)) == {
        f"email:{sha('new@example.com')}",
        f"email:{sha('both@example.com')}",
    }


def test_remove_members(datamanager: DataManager, google_sandbox: RunningSandbox) -> None:
    created = create_list(datamanager)
    wait_done(
        datamanager, ingest(datamanager, created.id, [member("a@example.com"), member("b@example.com")])
    )
    removal = datamanager.ingestion.remove_audience_members(
        request=dm.RemoveAudienceMembersRequest(
            destinations=[destination(created.id)], audience_members=[member("a@example.com")], encoding="HEX"
        ),
        retry=None,
    )
    entry = wait_done(datamanager, removal.request_id).request_status_per_destination[0]
    assert entry.audience_members_removal_status.user_data_removal_status.record_count == 1
    assert list(google_sandbox.state.members(created.id)) == [f"email:{sha('b@example.com')}"]


def test_unknown_access_token_is_unauthenticated(google_sandbox: RunningSandbox) -> None:
    from .conftest import dm_clients

    clients = dm_clients(google_sandbox, token="not-a-token")
    try:
        with pytest.raises(exceptions.Unauthenticated):
            clients.ingestion.retrieve_request_status(request={"request_id": "x"}, retry=None)
    finally:
        clients.ingestion.transport.close()
        clients.user_lists.transport.close()


def test_operating_account_not_reachable_is_permission_denied(datamanager: DataManager) -> None:
    created = create_list(datamanager)
    one = [member("a@example.com")]
    ingest(datamanager, created.id, one, destinations=[destination(created.id, login=None)])  # direct
    ingest(datamanager, created.id, one, destinations=[destination(created.id, login=CUSTOMER)])
    with pytest.raises(exceptions.PermissionDenied):  # not a manager of this account
        ingest(datamanager, created.id, one, destinations=[destination(created.id, login="5555555555")])
    with pytest.raises(exceptions.PermissionDenied):
        ingest(
            datamanager,
            created.id,
            [member("a@example.com")],
            destinations=[destination(created.id, customer="5555555555")],
        )


def test_minute_quota_is_resource_exhausted_with_quota_limit(google_sandbox: RunningSandbox) -> None:
    from dataclasses import replace

    from services.sandbox_google.domain.quotas import QuotaLimits
    from services.sandbox_google.server import run_google_sandbox

    from .conftest import config, dm_clients

    with run_google_sandbox(replace(config(), quotas=QuotaLimits(ingestion_per_minute=2))) as small:
        clients = dm_clients(small)
        try:
            for _ in range(2):
                with pytest.raises(exceptions.InvalidArgument):  # a bad id still counts as a request
                    clients.ingestion.retrieve_request_status(request={"request_id": "nope"}, retry=None)
            with pytest.raises(exceptions.ResourceExhausted) as err:
                clients.ingestion.retrieve_request_status(request={"request_id": "nope"}, retry=None)
        finally:
            clients.ingestion.transport.close()
            clients.user_lists.transport.close()
    assert err.value.metadata["quota_limit"] == "IngestionReadRequestsPerMinutePerProject"


def test_update_user_list_by_mask_keeps_members(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    from google.protobuf import duration_pb2, field_mask_pb2

    created = create_list(datamanager, "before")
    wait_done(datamanager, ingest(datamanager, created.id, [member("a@example.com")]))
    changed = dm.UserList(
        name=created.name, display_name="after", membership_duration=duration_pb2.Duration(seconds=30 * 86400)
    )
    updated = datamanager.user_lists.update_user_list(
        user_list=changed,
        update_mask=field_mask_pb2.FieldMask(paths=["display_name", "membership_duration"]),
        metadata=datamanager.list_metadata(),
        retry=None,
    )
    assert updated.display_name == "after"
    assert updated.membership_duration.total_seconds() == 30 * 86400
    assert updated.size_info.display_network_members_count == 1
    with pytest.raises(exceptions.InvalidArgument) as err:
        datamanager.user_lists.update_user_list(
            user_list=changed,
            update_mask=field_mask_pb2.FieldMask(paths=["ingested_user_list_info"]),
            metadata=datamanager.list_metadata(),
            retry=None,
        )
    assert err.value.reason == "IMMUTABLE_FIELD_FOR_UPDATE"


def test_deprecated_product_field_names_a_google_ads_account(datamanager: DataManager) -> None:
    created = create_list(datamanager)
    dest = dm.Destination(
        operating_account=dm.ProductAccount(account_id=CUSTOMER, product="GOOGLE_ADS"),
        product_destination_id=str(created.id),
    )
    wait_done(datamanager, ingest(datamanager, created.id, [member("a@example.com")], destinations=[dest]))


def test_composite_data_as_googles_current_sample_sends_it(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    composite = dm.AudienceMember(
        composite_data=dm.CompositeData(
            user_data=dm.UserData(user_identifiers=[dm.UserIdentifier(email_address=sha("c@example.com"))]),
            ip_data=[dm.IpData(ip_address="203.0.113.7")],
        )
    )
    entry = wait_done(
        datamanager, ingest(datamanager, created.id, [composite])
    ).request_status_per_destination[0]
    assert entry.request_status == Status.SUCCESS
    status = entry.audience_members_ingestion_status.composite_data_ingestion_status
    assert status.record_count == 1
    assert sorted((c.type_.name, c.count) for c in status.data_type_counts) == [
        ("EMAIL", 1),
        ("IP_ADDRESS", 1),
    ]
    assert list(google_sandbox.state.members(created.id)) == [f"email:{sha('c@example.com')}"]
    with pytest.raises(exceptions.InvalidArgument) as err:  # one data type per request
        ingest(datamanager, created.id, [composite, member("u@example.com")])
    assert err.value.reason == "MULTIPLE_DATA_TYPES_NOT_ALLOWED"


def test_one_request_several_destinations_and_member_references(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    first, second = create_list(datamanager, "one"), create_list(datamanager, "two")
    only_second = member("second@example.com")
    only_second.destination_references = ["d2"]
    both = member("both@example.com")
    destinations = [destination(first.id, ref="d1"), destination(second.id, ref="d2")]
    status = wait_done(
        datamanager, ingest(datamanager, first.id, [both, only_second], destinations=destinations)
    )
    assert [d.destination.reference for d in status.request_status_per_destination] == ["d1", "d2"]
    assert list(google_sandbox.state.members(first.id)) == [f"email:{sha('both@example.com')}"]
    assert set(google_sandbox.state.members(second.id)) == {
        f"email:{sha('both@example.com')}",
        f"email:{sha('second@example.com')}",
    }
