"""Data Manager API rules for audience members, as plain data in and plain data out.

Limits and reasons come from Google's reference [doc: data-manager/api/reference/rest/v1/ErrorReason,
IngestAudienceMembersRequest, devguides/limits]: at most 10 destinations, 10,000 members and 10
identifiers per member; ``encoding`` is required for user data; member-level consent overrides
request-level consent. Request-level violations fail the call (INVALID_ARGUMENT with one field
violation each); record-level problems are found while the request is processed and show up as
error counts in RetrieveRequestStatus: a malformed hashed identifier (text that is not HEX /
BASE64, or a digest that is not SHA-256) is an error of its member, never a member; see
docs/sandbox-google.md for where that line is drawn.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field

from services.sandbox_google.domain.destinations import Violation
from services.sandbox_google.domain.identifiers import (
    DecodeError,
    Encoding,
    Identifier,
    address_value,
    decode_digest,
    is_sha256,
    member_key,
)

MAX_MEMBERS = 10_000
MAX_IDENTIFIERS = 10
# Member data a Customer Match (CONTACT_ID) list takes: user data alone, or inside composite
# data beside IP addresses (what Google's current ingest sample sends).
CONTACT_KINDS = frozenset({"user_data", "composite_data"})
MAX_VIOLATIONS = 50  # the sandbox reports at most this many field violations per call

GRANTED, DENIED, UNSPECIFIED = "CONSENT_GRANTED", "CONSENT_DENIED", "CONSENT_STATUS_UNSPECIFIED"
DENIED_CONSENT = "PROCESSING_ERROR_REASON_DENIED_CONSENT"
INVALID_FORMAT = "PROCESSING_ERROR_REASON_INVALID_FORMAT"


@dataclass(frozen=True)
class RawIdentifier:
    """One UserIdentifier as sent: ``kind`` email / phone / address; address parts in ``parts``."""

    kind: str
    value: str = ""
    parts: tuple[str, str, str, str] = ("", "", "", "")  # given, family, region, postal


@dataclass(frozen=True)
class MemberIn:
    """One AudienceMember as sent."""

    data_kind: str  # "user_data", "composite_data", another oneof name, or "" when none is set
    identifiers: tuple[RawIdentifier, ...] = ()
    references: tuple[str, ...] = ()
    consent: tuple[str, str] = (UNSPECIFIED, UNSPECIFIED)  # ad_user_data, ad_personalization


@dataclass(frozen=True)
class ParsedMember:
    """A member that passed request checks: canonical identifiers, key, resolved consent."""

    index: int
    key: str
    identifiers: tuple[Identifier, ...]
    consent: tuple[str, str]
    references: tuple[str, ...]
    malformed: bool = False  # a digest decoded but is not SHA-256: a processing error


@dataclass
class Outcome:
    """What processing one destination did: members applied and error counts by reason."""

    applied: list[ParsedMember] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    identifier_count: int = 0

    @property
    def status(self) -> str:
        """SUCCESS, PARTIAL_SUCCESS or FAILED, as RequestStatusPerDestination reports it."""
        if not self.errors:
            return "SUCCESS"
        return "PARTIAL_SUCCESS" if self.applied else "FAILED"


def parse_members(
    members: list[MemberIn],
    encoding: Encoding | None,
    request_consent: tuple[str, str],
    references: set[str],
) -> tuple[list[ParsedMember], list[Violation]]:
    """Check members at request level; return the parsed ones and the violations."""
    found: list[Violation] = []
    if not members:
        return [], [
            Violation(
                "audience_members", "REQUIRED_FIELD_MISSING", "At least one audience member is required."
            )
        ]
    if len(members) > MAX_MEMBERS:
        return [], [
            Violation(
                "audience_members",
                "TOO_MANY_AUDIENCE_MEMBERS",
                f"Maximum number of audience members allowed per request is {MAX_MEMBERS:,}.",
            )
        ]
    kinds = {m.data_kind for m in members if m.data_kind}
    if len(kinds) > 1:
        found.append(
            Violation(
                "audience_members",
                "MULTIPLE_DATA_TYPES_NOT_ALLOWED",
                "Multiple data types are not allowed to be ingested in a single request.",
            )
        )
    if kinds & CONTACT_KINDS and encoding is None:
        found.append(
            Violation(
                "encoding", "REQUIRED_FIELD_MISSING", "encoding (HEX or BASE64) is required for user data."
            )
        )
    parsed: list[ParsedMember] = []
    for i, member in enumerate(members):
        path = f"audience_members[{i}]"
        result = _parse_member(i, path, member, encoding or Encoding.HEX, request_consent, references, found)
        if result is not None:
            parsed.append(result)
        if len(found) >= MAX_VIOLATIONS:
            break
    return parsed, found[:MAX_VIOLATIONS]


def _parse_member(
    index: int,
    path: str,
    member: MemberIn,
    encoding: Encoding,
    request_consent: tuple[str, str],
    references: set[str],
    found: list[Violation],
) -> ParsedMember | None:
    before = len(found)
    if not member.data_kind:
        found.append(Violation(path, "INVALID_AUDIENCE_MEMBER", "This audience member is not valid."))
        return None
    if member.data_kind not in CONTACT_KINDS:
        found.append(
            Violation(
                f"{path}.{member.data_kind}",
                "INVALID_USER_LIST_TYPE",
                "Type of the user list is not applicable for this request.",
            )
        )
        return None
    for ref in member.references:
        if ref not in references:
            found.append(
                Violation(
                    f"{path}.destination_references",
                    "INVALID_DESTINATION",
                    f"No destination has reference {ref!r}.",
                )
            )
    data = f"{path}.composite_data.user_data" if member.data_kind == "composite_data" else f"{path}.user_data"
    users = [raw for raw in member.identifiers if raw.kind != "ip"]
    if not member.identifiers:
        found.append(
            Violation(f"{data}.user_identifiers", "NO_IDENTIFIERS_PROVIDED", "No identifiers provided.")
        )
    elif len(users) > MAX_IDENTIFIERS:
        found.append(
            Violation(
                f"{data}.user_identifiers",
                "TOO_MANY_USER_IDENTIFIERS",
                f"Maximum number of user identifiers allowed per audience member is {MAX_IDENTIFIERS}.",
            )
        )
    identifiers: list[Identifier] = []
    malformed = False
    for j, raw in enumerate(users):
        ident, bad = _identifier(f"{data}.user_identifiers[{j}]", raw, encoding, found)
        malformed = malformed or bad
        if ident is not None:
            identifiers.append(ident)
    for raw in member.identifiers:
        if raw.kind != "ip":
            continue
        ident, bad = _ip(raw.value)
        malformed = malformed or bad
        if ident is not None:
            identifiers.append(ident)
    if len(found) > before:
        return None
    return ParsedMember(
        index=index,
        key=member_key(identifiers),
        identifiers=tuple(identifiers),
        consent=resolve_consent(member.consent, request_consent),
        references=member.references,
        malformed=malformed,
    )


def _identifier(
    path: str, raw: RawIdentifier, encoding: Encoding, found: list[Violation]
) -> tuple[Identifier | None, bool]:
    """Read one identifier: request-level violations go to ``found``; True when it is malformed
    (not HEX / BASE64 text, or not a 32-byte SHA-256 digest), which is a processing error."""
    if raw.kind in ("email", "phone"):
        name = "email_address" if raw.kind == "email" else "phone_number"
        digest = _decode(f"{path}.{name}", raw.value, encoding, found)
        if digest is None:
            return None, bool(raw.value)
        return Identifier(raw.kind, digest.hex()), not is_sha256(digest)
    if raw.kind == "address":
        given, family, region, postal = raw.parts
        first = _decode(f"{path}.address.given_name", given, encoding, found)
        last = _decode(f"{path}.address.family_name", family, encoding, found)
        if len(region) != 2 or not region.isalpha():
            found.append(
                Violation(
                    f"{path}.address.region_code",
                    "INVALID_REGION_CODE",
                    "region_code must be a two-letter CLDR region code.",
                )
            )
        if not postal.strip():
            found.append(
                Violation(f"{path}.address.postal_code", "INVALID_POSTAL_CODE", "Postal code is not valid.")
            )
        if first is None or last is None:
            return None, bool(given and family)
        value = address_value(first.hex(), last.hex(), region, postal.strip())
        return Identifier("address", value), not (is_sha256(first) and is_sha256(last))
    found.append(Violation(path, "INVALID_AUDIENCE_MEMBER", "A user identifier must set one of its fields."))
    return None, False


def _ip(value: str) -> tuple[Identifier | None, bool]:
    """An IP address of composite data (kept as written when valid; malformed otherwise)."""
    try:
        return Identifier("ip", str(ipaddress.ip_address(value.strip()))), False
    except ValueError:
        return None, True


def _decode(path: str, value: str, encoding: Encoding, found: list[Violation]) -> bytes | None:
    """The digest's bytes; None when empty (a violation) or not in the encoding (malformed)."""
    if not value:
        found.append(Violation(path, "REQUIRED_FIELD_MISSING", "Required field is missing."))
        return None
    try:
        return decode_digest(value, encoding)
    except DecodeError:
        return None


def resolve_consent(member: tuple[str, str], request: tuple[str, str]) -> tuple[str, str]:
    """Member-level consent overrides the request's, field by field (unset fields inherit)."""
    return (
        member[0] if member[0] != UNSPECIFIED else request[0],
        member[1] if member[1] != UNSPECIFIED else request[1],
    )


def targets(member: ParsedMember, reference: str) -> bool:
    """Whether a member goes to the destination with this reference (no references: all)."""
    return not member.references or reference in member.references


def process_ingest(members: list[ParsedMember]) -> Outcome:
    """Processing one destination's ingest: malformed digests and denied consent are errors.

    Either consent field DENIED keeps the member out (Customer Match needs both for EEA users
    [doc: Consent]); UNSPECIFIED defers to the account's settings, which the sandbox treats as
    granted (docs/sandbox-google.md).
    """
    out = Outcome()
    for m in members:
        out.identifier_count += len(m.identifiers)
        if m.malformed:
            out.errors[INVALID_FORMAT] += 1
        elif DENIED in m.consent:
            out.errors[DENIED_CONSENT] += 1
        else:
            out.applied.append(m)
    return out


def process_remove(members: list[ParsedMember]) -> Outcome:
    """Processing one destination's removal: only malformed digests are errors."""
    out = Outcome()
    for m in members:
        out.identifier_count += len(m.identifiers)
        if m.malformed:
            out.errors[INVALID_FORMAT] += 1
        else:
            out.applied.append(m)
    return out
