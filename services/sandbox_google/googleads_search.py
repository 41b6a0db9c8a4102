"""Google Ads API GoogleAdsService Search and SearchStream over lists and jobs (AD_APIS.md 2.5).

Rows carry only the selected fields (``field_mask`` names them) plus the resource's
``resource_name``, as Google's do. Sizes and the
match rate are read live from the members the sandbox holds.
"""

from __future__ import annotations

from typing import Any

from google.ads.googleads.v26.resources.types import offline_user_data_job as job_types
from google.ads.googleads.v26.resources.types import user_list as ul
from google.ads.googleads.v26.services.types import google_ads_service as gas
from google.protobuf import field_mask_pb2

from services.sandbox_google import googleads_guard
from services.sandbox_google.calls import CallInfo
from services.sandbox_google.domain import gaql
from services.sandbox_google.domain.googleads import AdsError, size_range
from services.sandbox_google.domain.lists import UserListRecord
from services.sandbox_google.googleads_errors import invalid
from services.sandbox_google.service import GoogleSandbox
from services.sandbox_google.store import JobRow

PAGE = 10_000  # Search pages are fixed at 10,000 rows since v17


def _rows(sandbox: GoogleSandbox, customer: str, query_text: str) -> tuple[list[Any], list[str]]:
    try:
        query = gaql.parse(query_text)
    except gaql.QueryRefused as refused:
        raise invalid([AdsError("query_error", refused.name, str(refused), [("query", None)])]) from None
    paths = [f"{query.resource}.{f}" for f in query.fields]
    # The FROM resource's resource_name always comes back, selected or not, as with Google.
    mask = field_mask_pb2.FieldMask(paths=sorted({"resource_name", *(_pb_path(f) for f in query.fields)}))
    found: list[tuple[dict[str, Any], Any]] = []  # (sortable values, row)
    if query.resource == "user_list":
        for record in sandbox.store.user_lists(customer):
            full = _user_list(sandbox, record)
            values = {"name": record.name, "id": record.id, "resource_name": full.resource_name}
            if _keep(query, values):
                found.append((values, gas.GoogleAdsRow(user_list=_masked(ul.UserList, full, mask))))
    else:
        for job in sandbox.store.jobs(customer):
            full = _job(job)
            list_name = full.customer_match_user_list_metadata.user_list
            values = {
                "id": job.id,
                "status": job.status,
                "resource_name": full.resource_name,
                "customer_match_user_list_metadata.user_list": list_name,
            }
            if _keep(query, values):
                row = gas.GoogleAdsRow(
                    offline_user_data_job=_masked(job_types.OfflineUserDataJob, full, mask)
                )
                found.append((values, row))
    for field, descending in reversed(query.order):  # stable sorts, last key first
        found.sort(key=lambda pair: pair[0][field], reverse=descending)
    rows = [row for _, row in found]
    if query.limit is not None:
        rows = rows[: query.limit]
    return rows, paths


def _pb_path(field: str) -> str:
    return "type_" if field == "type" else field


def _keep(query: gaql.Query, values: dict[str, Any]) -> bool:
    return all(str(values.get(field, "")) in wanted for field, wanted in query.filters)


def _masked(kind: Any, full: Any, mask: field_mask_pb2.FieldMask) -> Any:
    target = kind.pb(kind())
    mask.MergeMessage(kind.pb(full), target)
    return kind.wrap(target)


def _user_list(sandbox: GoogleSandbox, record: UserListRecord) -> Any:
    size = sandbox.store.size(record.id)
    key_types = {"CONTACT_INFO": 2, "CRM_ID": 3, "MOBILE_ADVERTISING_ID": 4}
    return ul.UserList(
        resource_name=f"customers/{record.customer_id}/userLists/{record.id}",
        id=record.id,
        name=record.name,
        description=record.description,
        read_only=False,
        membership_status=2 if record.membership_status == "OPEN" else 3,
        membership_life_span=record.life_span_days,
        size_for_display=size.matched,
        size_for_search=size.matched,
        size_range_for_display=size_range(size.matched),
        size_range_for_search=size_range(size.matched),
        match_rate_percentage=size.match_rate_percentage,
        eligible_for_search=True,
        eligible_for_display=True,
        type_="CRM_BASED",
        access_reason="OWNED",
        account_user_list_status="ENABLED",
        crm_based_user_list={
            "upload_key_type": key_types.get(record.upload_key_type, 2),
            "data_source_type": "FIRST_PARTY",
        },
    )


def _job(job: JobRow) -> Any:
    consent = {"ad_user_data": job.ad_user_data, "ad_personalization": job.ad_personalization}
    built = job_types.OfflineUserDataJob(
        resource_name=f"customers/{job.customer_id}/offlineUserDataJobs/{job.id}",
        id=job.id,
        type_="CUSTOMER_MATCH_USER_LIST",
        status=job.status,
        failure_reason="UNSPECIFIED",
        customer_match_user_list_metadata={
            "user_list": f"customers/{job.customer_id}/userLists/{job.list_id}",
            "consent": consent,
        },
    )
    if job.external_id is not None:
        built.external_id = job.external_id
    if job.match_range:
        built.operation_metadata = job_types.OfflineUserDataJobMetadata(
            match_rate_range=f"MATCH_RANGE_{job.match_range}"
        )
    return built


def search(sandbox: GoogleSandbox, request: gas.SearchGoogleAdsRequest, call: CallInfo) -> Any:
    """Search: pages of 10,000 rows."""
    customer = googleads_guard.check(sandbox, call, request.customer_id, operations=1, customer_match=False)
    if request.page_size:
        raise invalid(
            [AdsError("request_error", "PAGE_SIZE_NOT_SUPPORTED", "Setting the page size is not supported.")]
        )
    rows, paths = _rows(sandbox, customer, request.query)
    start = int(request.page_token) if request.page_token.isdigit() else 0
    if request.page_token and not request.page_token.isdigit():
        raise invalid([AdsError("request_error", "INVALID_PAGE_TOKEN", "Page token is invalid.")])
    page = rows[start : start + PAGE]
    response = gas.SearchGoogleAdsResponse(results=page, field_mask=field_mask_pb2.FieldMask(paths=paths))
    if start + PAGE < len(rows):
        response.next_page_token = str(start + PAGE)
    if request.search_settings.return_total_results_count:
        response.total_results_count = len(rows)
    return response


def search_stream(sandbox: GoogleSandbox, request: gas.SearchGoogleAdsStreamRequest, call: CallInfo) -> Any:
    """SearchStream: every row in messages of up to 10,000."""
    customer = googleads_guard.check(sandbox, call, request.customer_id, operations=1, customer_match=False)
    rows, paths = _rows(sandbox, customer, request.query)
    mask = field_mask_pb2.FieldMask(paths=paths)
    chunks = [rows[i : i + PAGE] for i in range(0, len(rows), PAGE)] or [[]]
    return [
        gas.SearchGoogleAdsStreamResponse(results=c, field_mask=mask, request_id=call.request_id)
        for c in chunks
    ]


HANDLERS: dict[str, tuple[Any, Any, Any, bool]] = {
    "Search": (search, gas.SearchGoogleAdsRequest, gas.SearchGoogleAdsResponse, False),
}
STREAM_HANDLERS: dict[str, tuple[Any, Any, Any, bool]] = {
    "SearchStream": (
        search_stream,
        gas.SearchGoogleAdsStreamRequest,
        gas.SearchGoogleAdsStreamResponse,
        False,
    ),
}
SERVICE = "google.ads.googleads.v26.services.GoogleAdsService"
