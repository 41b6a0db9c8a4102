"""Data Manager API IngestionService: ingest, remove, remove-all and request status.

Requests arrive as the official ``google.ads.datamanager_v1`` messages; they are reduced to plain
data for the rules in ``domain.datamanager``, accepted work is stored with a due time, and
``RetrieveRequestStatus`` reports PROCESSING until then, SUCCESS / PARTIAL_SUCCESS / FAILED after.
"""

from __future__ import annotations

from typing import Any

from google.ads import datamanager_v1 as dm

from services.sandbox_google.calls import CallInfo
from services.sandbox_google.datamanager_destinations import checked_destinations
from services.sandbox_google.datamanager_status import retrieve_status
from services.sandbox_google.domain import datamanager as rules
from services.sandbox_google.domain.destinations import Violation
from services.sandbox_google.domain.identifiers import Encoding
from services.sandbox_google.errors import dm_invalid, new_request_id
from services.sandbox_google.processing import member_payload
from services.sandbox_google.service import GoogleSandbox

_CONSENT = {0: rules.UNSPECIFIED, 1: rules.GRANTED, 2: rules.DENIED}
_ENCODING = {1: Encoding.HEX, 2: Encoding.BASE64}


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
    data = "composite_data" if any(m.data_kind == "composite_data" for m in members) else "user_data"
    payload = {"destinations": destinations, "members": [member_payload(m) for m in parsed], "data": data}
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
    data = pb.composite_data.user_data if kind == "composite_data" else pb.user_data
    if kind == "composite_data":
        identifiers.extend(rules.RawIdentifier("ip", ip.ip_address) for ip in pb.composite_data.ip_data)
    if kind in rules.CONTACT_KINDS:
        for ident in data.user_identifiers:
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
