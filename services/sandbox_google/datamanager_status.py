"""Data Manager RetrieveRequestStatus: one entry per destination of an accepted request.

PROCESSING until the request's due time, then SUCCESS, PARTIAL_SUCCESS or FAILED with error
counts by ProcessingErrorReason, an (empty) warning info, record and identifier counts and the
upload's match-rate range, in the per-type status the request's data calls for: user data, or
composite data (user data beside IP addresses) with identifier counts by DataType.
"""

from __future__ import annotations

from typing import Any

from google.ads import datamanager_v1 as dm

from services.sandbox_google.calls import CallInfo
from services.sandbox_google.datamanager_destinations import destination_message
from services.sandbox_google.domain.destinations import Violation
from services.sandbox_google.errors import dm_invalid
from services.sandbox_google.service import GoogleSandbox

RSD = dm.RequestStatusPerDestination
Status = RSD.RequestStatus
DATA_TYPES = {"email": "EMAIL", "phone": "PHONE_NUMBER", "address": "ADDRESS", "ip": "IP_ADDRESS"}


def retrieve_status(sandbox: GoogleSandbox, request: dm.RetrieveRequestStatusRequest, call: CallInfo) -> Any:
    """RetrieveRequestStatus: one entry per destination of the request."""
    if not request.request_id:
        raise dm_invalid([Violation("request_id", "REQUIRED_FIELD_MISSING", "Required field is missing.")])
    found = sandbox.store.request(request.request_id)
    if found is None:
        raise dm_invalid([Violation("request_id", "INVALID_REQUEST_ID", "The request ID is not valid.")])
    kind, processed, data = found
    composite = data.get("data") == "composite_data"
    if not processed:
        return dm.RetrieveRequestStatusResponse(
            request_status_per_destination=[
                dm.RequestStatusPerDestination(
                    destination=destination_message(d), request_status=Status.PROCESSING
                )
                for d in data["destinations"]
            ]
        )
    destinations = data["destinations"]
    results = data["results"]
    return dm.RetrieveRequestStatusResponse(
        request_status_per_destination=[
            _status(kind, composite, d, r) for d, r in zip(destinations, results, strict=True)
        ]
    )


def _status(kind: str, composite: bool, dest: dict[str, Any], result: dict[str, Any]) -> Any:
    rsd = RSD
    entry = rsd(destination=destination_message(dest), request_status=getattr(Status, result["status"]))
    errors = result.get("errors", {})
    if errors:
        entry.error_info = dm.ErrorInfo(
            error_counts=[
                dm.ErrorCount(record_count=n, reason=reason) for reason, n in sorted(errors.items())
            ]
        )
    entry.warning_info = dm.WarningInfo()
    if composite and kind != "remove_all":
        _composite(entry, kind, result)
    elif kind == "ingest":
        status = rsd.IngestUserDataStatus(
            record_count=result["records"],
            user_identifier_count=result["identifiers"],
            upload_match_rate_range=_match_rate(result.get("match_range", "")),
        )
        entry.audience_members_ingestion_status = rsd.IngestAudienceMembersStatus(
            user_data_ingestion_status=status
        )
    elif kind == "remove":
        removal = rsd.RemoveUserDataStatus(
            record_count=result["records"], user_identifier_count=result["identifiers"]
        )
        entry.audience_members_removal_status = rsd.RemoveAudienceMembersStatus(
            user_data_removal_status=removal
        )
    else:
        entry.remove_all_audience_members_status = rsd.RemoveAllAudienceMembersStatus()
    return entry


def _composite(entry: Any, kind: str, result: dict[str, Any]) -> None:
    counts = [
        RSD.DataTypeCount(type_=DATA_TYPES[k], count=n)
        for k, n in sorted(result.get("types", {}).items())
        if k in DATA_TYPES
    ]
    if kind == "ingest":
        status = RSD.IngestCompositeDataStatus(
            record_count=result["records"],
            data_type_counts=counts,
            upload_match_rate_range=_match_rate(result.get("match_range", "")),
        )
        entry.audience_members_ingestion_status = RSD.IngestAudienceMembersStatus(
            composite_data_ingestion_status=status
        )
    else:
        removal = RSD.RemoveCompositeDataStatus(record_count=result["records"], data_type_counts=counts)
        entry.audience_members_removal_status = RSD.RemoveAudienceMembersStatus(
            composite_data_removal_status=removal
        )


def _match_rate(suffix: str) -> Any:
    return (
        getattr(dm.MatchRateRange, f"MATCH_RATE_RANGE_{suffix}")
        if suffix
        else dm.MatchRateRange.MATCH_RATE_RANGE_UNKNOWN
    )
