"""Google Ads API UserDataService.UploadUserData: the synchronous Customer Match upload.

Limits from the v26 enum text: at most 100 user identifiers a request and 20 an operation
(``user_data_error.TOO_MANY_USER_IDENTIFIERS``); only CRM lists of the customer
(``USER_LIST_NOT_APPLICABLE``). Since 2026-04-01 it refuses developer tokens not allowlisted for
Customer Match, like OfflineUserDataJobService [blog 2026-03-04]. No partial failure: one bad
operation fails the request. Accepted members are applied at once.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from google.ads.googleads.v26.services.types import user_data_service as uds

from services.sandbox_google import googleads_guard
from services.sandbox_google.calls import CallInfo
from services.sandbox_google.domain.googleads import AdsError, check_add
from services.sandbox_google.googleads_errors import invalid
from services.sandbox_google.googleads_jobs import CONSENT_NAMES, operation_in
from services.sandbox_google.googleads_lists import parse_list_name
from services.sandbox_google.jobs import dm_consent
from services.sandbox_google.service import GoogleSandbox

MAX_IDENTIFIERS_PER_REQUEST = 100


def upload(sandbox: GoogleSandbox, request: uds.UploadUserDataRequest, call: CallInfo) -> Any:
    """UploadUserData with create or remove operations on one Customer Match list."""
    customer = googleads_guard.check(
        sandbox, call, request.customer_id, operations=len(request.operations), customer_match=True
    )
    pb = uds.UploadUserDataRequest.pb(request)
    meta = pb.customer_match_user_list_metadata
    parsed = parse_list_name(meta.user_list)
    record = sandbox.store.user_list(parsed[1]) if parsed and parsed[0] == customer else None
    where: list[tuple[str, int | None]] = [("customer_match_user_list_metadata", None), ("user_list", None)]
    if record is None:
        raise invalid(
            [
                AdsError(
                    "user_data_error",
                    "USER_LIST_NOT_APPLICABLE",
                    "Current user list is not applicable for the given customer.",
                    where,
                )
            ]
        )
    ops = [operation_in(op) for op in pb.operations]
    if sum(len(op.identifiers) for op in ops) > MAX_IDENTIFIERS_PER_REQUEST:
        raise invalid(
            [
                AdsError(
                    "user_data_error",
                    "TOO_MANY_USER_IDENTIFIERS",
                    "Maximum number of user identifiers allowed for each request is 100 and for each "
                    "operation is 20.",
                )
            ]
        )
    consent = (
        CONSENT_NAMES.get(meta.consent.ad_user_data, "UNSPECIFIED"),
        CONSENT_NAMES.get(meta.consent.ad_personalization, "UNSPECIFIED"),
    )
    if "DENIED" in consent and any(op.kind == "create" for op in ops):
        raise invalid(
            [
                AdsError(
                    "offline_user_data_job_error",
                    "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
                    "The customer has not accepted the customer data terms.",
                    [("customer_match_user_list_metadata", None), ("consent", None)],
                )
            ]
        )
    checked = check_add(ops, None, False, record.upload_key_type)
    errors = checked.request_errors or checked.operation_errors
    if errors:
        raise invalid(errors)
    now = sandbox.clock.now()
    rows = []
    for op in checked.staged:
        if op.kind == "create":
            hit = sandbox.matches(op.identifiers)
            texts = json.dumps([i.text() for i in op.identifiers])
            rows.append((op.key, texts, dm_consent(consent[0]), dm_consent(consent[1]), now, int(hit)))
    sandbox.store.upsert_members(record.id, rows)
    sandbox.store.remove_members(record.id, [op.key for op in checked.staged if op.kind == "remove"])
    stamp = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    return uds.UploadUserDataResponse(upload_date_time=stamp, received_operations_count=len(ops))


HANDLERS: dict[str, tuple[Any, Any, Any, bool]] = {
    "UploadUserData": (upload, uds.UploadUserDataRequest, uds.UploadUserDataResponse, True),
}
SERVICE = "google.ads.googleads.v26.services.UserDataService"
