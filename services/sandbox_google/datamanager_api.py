"""Data Manager API IngestionService: ingest, remove, remove-all and request status.

Requests arrive as the official ``google.ads.datamanager_v1`` messages; they are reduced to plain
data for the rules in ``domain.datamanager``, accepted work is stored with a due time, and
``RetrieveRequestStatus`` reports PROCESSING until then, SUCCESS / PARTIAL_SUCCESS / FAILED after.
"""

from __future__ import annotations

from typing import Any

from google.ads import datamanager_v1 as dm

from services.sandbox_google.calls import CallInfo
from services.sandbox_google.datamanager_destinations import checked_destinations, destination_message
from services.sandbox_google.domain import datamanager as rules
from services.sandbox_google.domain.destinations import Violation
from services.sandbox_google.domain.identifiers import Encoding
from services.sandbox_google.errors import dm_invalid, new_request_id
from services.sandbox_google.processing import member_payload
from services.sandbox_google.service import GoogleSandbox

_CONSENT = {0: rules.UNSPECIFIED, 1: rules.GRANTED, 2: rules.DENIED}
_ENCODING = {1: Encoding.HEX, 2: Encoding.BASE64}
Status = dm.RequestStatusPerDestination.RequestStatus


def ingest(sandbox: GoogleSandbox, request: dm.IngestAudienceMembersRequest, call: CallInfo) -> Any:
    """IngestAudienceMembers: validate now, add the members when processed."""
    pb = dm.IngestAudienceMembersRequest.pb(request)
    consent = (
        _CONSENT.get(pb.consent.ad_user_data, rules.UNSPECIFIED),
        _CONSENT.get(pb.consent.ad_personalization, rules.UNSPECIFIED),
    )
    request_id = _accept(
        sandbox, pb, "ingest", consent, tos=pb.terms_of_service.customer_match_terms_of_service_status
    )
    return dm.IngestAudienceMembersResponse(request_id=request_id)


def remove(sandbox: GoogleSandbox, request: dm.RemoveAudienceMembersRequest, call: CallInfo) -> Any:
    """RemoveAudienceMembers: validate now, remove the members when processed."""
    pb = dm.RemoveAudienceMembersRequest.pb(request)
    request_id = _accept(sandbox, pb, "remove", (rules.UNSPECIFIED, rules.UNSPECIFIED), tos=None)
    return dm.RemoveAudienceMembersResponse(request_id=request_id)


def remove_all(sandbox: GoogleSandbox, request: dm.RemoveAllAudienceMembersRequest, call: CallInfo) -> Any:
    """RemoveAllAudienceMembers: remove members last added before ``remove_as_of_time`` (default:
    the time of the request) [doc: customer-match/remove-all-members]."""
    pb = dm.RemoveAllAudienceMembersRequest.pb(request)
    destinations = checked_destinations(sandbox, pb.destinations)
    now = sandbox.clock.now()
    as_of = now
    if pb.HasField("remove_as_of_time"):
        as_of = pb.remove_as_of_time.seconds + pb.remove_as_of_time.nanos / 1e9
        if as_of > now:
            raise dm_invalid(
                [
                    Violation(
                        "remove_as_of_time",
                        "INVALID_ARGUMENT",
                        "remove_as_of_time must not be in the future.",
                    )
                ]
            )
    if pb.validate_only:
        return dm.RemoveAllAudienceMembersResponse()
    request_id = new_request_id()
    payload = {"destinations": destinations, "as_of": as_of}
    sandbox.store.add_request(request_id, "remove_all", now, now + sandbox.config.processing_seconds, payload)
    return dm.RemoveAllAudienceMembersResponse(request_id=request_id)


def retrieve_status(sandbox: GoogleSandbox, request: dm.RetrieveRequestStatusRequest, call: CallInfo) -> Any:
    """RetrieveRequestStatus: one entry per destination of the request."""
    if not request.request_id:
        raise dm_invalid([Violation("request_id", "REQUIRED_FIELD_MISSING", "Required field is missing.")])
    found = sandbox.store.request(request.request_id)
    if found is None:
        raise dm_invalid([Violation("request_id", "INVALID_REQUEST_ID", "The request ID is not valid.")])
    kind, processed, data = found
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
            _status(kind, d, r) for d, r in zip(destinations, results, strict=True)
        ]
    )


def _status(kind: str, dest: dict[str, Any], result: dict[str, Any]) -> Any:
    rsd = dm.RequestStatusPerDestination
    entry = rsd(destination=destination_message(dest), request_status=getattr(Status, result["status"]))
    errors = result.get("errors", {})
    if errors:
        entry.error_info = dm.ErrorInfo(
            error_counts=[
                dm.ErrorCount(record_count=n, reason=reason) for reason, n in sorted(errors.items())
            ]
        )
    entry.warning_info = dm.WarningInfo()
    if kind == "ingest":
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


def _match_rate(suffix: str) -> Any:
    return (
        getattr(dm.MatchRateRange, f"MATCH_RATE_RANGE_{suffix}")
        if suffix
        else dm.MatchRateRange.MATCH_RATE_RANGE_UNKNOWN
    )


def _accept(sandbox: GoogleSandbox, pb: Any, kind: str, consent: tuple[str, str], tos: int | None) -> str:
    """Validate a member request, store it for processing; returns its request id."""
    destinations = checked_destinations(sandbox, pb.destinations)
    if pb.HasField("encryption_info"):
        raise dm_invalid(
            [
                Violation(
                    "encryption_info",
                    "INVALID_ARGUMENT",
                    "Confidential matching (encryption_info) is not supported by this sandbox.",
                )
            ]
        )
    if tos is not None:
        _check_terms(sandbox, destinations, tos)
    members = [_member(m) for m in pb.audience_members]
    references = {d["reference"] for d in destinations}
    parsed, violations = rules.parse_members(members, _ENCODING.get(pb.encoding), consent, references)
    if violations:
        raise dm_invalid(violations)
    if pb.validate_only:
        return ""
    now = sandbox.clock.now()
    request_id = new_request_id()
    payload = {"destinations": destinations, "members": [member_payload(m) for m in parsed]}
    sandbox.store.add_request(request_id, kind, now, now + sandbox.config.processing_seconds, payload)
    return request_id


def _check_terms(sandbox: GoogleSandbox, destinations: list[dict[str, Any]], tos: int) -> None:
    """Customer Match terms: REJECTED always fails; an account that has not accepted them in the
    UI needs ACCEPTED in the request [doc: TermsOfService]."""
    declined = set(sandbox.config.declined_tos_customers)
    if tos == 2 or (tos != 1 and any(d["operating_id"] in declined for d in destinations)):
        raise dm_invalid(
            [
                Violation(
                    "terms_of_service.customer_match_terms_of_service_status",
                    "TERMS_AND_CONDITIONS_NOT_SIGNED",
                    "Required terms and conditions are not accepted.",
                )
            ]
        )


def _member(pb: Any) -> rules.MemberIn:
    kind = pb.WhichOneof("data") or ""
    identifiers: list[rules.RawIdentifier] = []
    if kind == "user_data":
        for ident in pb.user_data.user_identifiers:
            which = ident.WhichOneof("identifier") or ""
            if which == "email_address":
                identifiers.append(rules.RawIdentifier("email", ident.email_address))
            elif which == "phone_number":
                identifiers.append(rules.RawIdentifier("phone", ident.phone_number))
            elif which == "address":
                a = ident.address
                identifiers.append(
                    rules.RawIdentifier(
                        "address", parts=(a.given_name, a.family_name, a.region_code, a.postal_code)
                    )
                )
            else:
                identifiers.append(rules.RawIdentifier(""))
    consent = (
        _CONSENT.get(pb.consent.ad_user_data, rules.UNSPECIFIED),
        _CONSENT.get(pb.consent.ad_personalization, rules.UNSPECIFIED),
    )
    return rules.MemberIn(kind, tuple(identifiers), tuple(pb.destination_references), consent)


HANDLERS: dict[str, tuple[Any, type, type, bool]] = {
    # name: (handler, request type, response type, counts as a mutate for quotas)
    "IngestAudienceMembers": (
        ingest,
        dm.IngestAudienceMembersRequest,
        dm.IngestAudienceMembersResponse,
        True,
    ),
    "RemoveAudienceMembers": (
        remove,
        dm.RemoveAudienceMembersRequest,
        dm.RemoveAudienceMembersResponse,
        True,
    ),
    "RemoveAllAudienceMembers": (
        remove_all,
        dm.RemoveAllAudienceMembersRequest,
        dm.RemoveAllAudienceMembersResponse,
        True,
    ),
    "RetrieveRequestStatus": (
        retrieve_status,
        dm.RetrieveRequestStatusRequest,
        dm.RetrieveRequestStatusResponse,
        False,
    ),
}
SERVICE = "google.ads.datamanager.v1.IngestionService"
