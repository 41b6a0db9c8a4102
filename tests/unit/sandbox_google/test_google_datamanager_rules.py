"""Data Manager rules as pure functions: limits, encodings, consent and processing outcomes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from services.sandbox_google.domain import datamanager as rules
from services.sandbox_google.domain.destinations import DestinationIn, Violation, check_destinations
from services.sandbox_google.domain.identifiers import DecodeError, Encoding, decode_digest

HEX = hashlib.sha256(b"a@example.com").hexdigest()
BOTH = (rules.GRANTED, rules.GRANTED)


def email_member(value: str = HEX, **kw: object) -> rules.MemberIn:
    return rules.MemberIn("user_data", (rules.RawIdentifier("email", value),), **kw)  # type: ignore[arg-type]


def reasons(violations: list[Violation]) -> list[str]:
    return [v.reason for v in violations]


@pytest.mark.parametrize(
    ("members", "encoding", "reason"),
    [
        ([], Encoding.HEX, "REQUIRED_FIELD_MISSING"),
        ([email_member()] * 10_001, Encoding.HEX, "TOO_MANY_AUDIENCE_MEMBERS"),
        ([email_member()], None, "REQUIRED_FIELD_MISSING"),
        ([rules.MemberIn("user_data", ())], Encoding.HEX, "NO_IDENTIFIERS_PROVIDED"),
        ([rules.MemberIn("user_data", (rules.RawIdentifier("email", HEX),) * 11)], Encoding.HEX,
         "TOO_MANY_USER_IDENTIFIERS"),
        ([rules.MemberIn("mobile_data")], Encoding.HEX, "INVALID_USER_LIST_TYPE"),
        ([email_member(references=("nope",))], Encoding.HEX, "INVALID_DESTINATION"),
    ],
)  # fmt: skip
def test_request_level_violations(
    members: list[rules.MemberIn], encoding: Encoding | None, reason: str
) -> None:
    _parsed, found = rules.parse_members(members, encoding, BOTH, {"d1"})
    assert reason in reasons(found)


def test_limits_are_inclusive() -> None:
    ten = rules.MemberIn("user_data", (rules.RawIdentifier("email", HEX),) * 10)
    parsed, found = rules.parse_members([ten] * 10_000, Encoding.HEX, BOTH, set())
    assert found == [] and len(parsed) == 10_000


def test_destination_count_and_references() -> None:
    dest = [DestinationIn(f"d{i}", "GOOGLE_ADS", "1234567890", list_id="1") for i in range(11)]
    assert "TOO_MANY_DESTINATIONS" in reasons(check_destinations(dest))
    assert check_destinations(dest[:10]) == []
    twice = [dest[0], dest[0]]
    assert "DUPLICATE_DESTINATION_REFERENCE" in reasons(check_destinations(twice))


@pytest.mark.parametrize(
    ("member", "request_level", "resolved"),
    [
        ((rules.UNSPECIFIED, rules.UNSPECIFIED), BOTH, BOTH),
        ((rules.DENIED, rules.UNSPECIFIED), BOTH, (rules.DENIED, rules.GRANTED)),
        (BOTH, (rules.DENIED, rules.DENIED), BOTH),
    ],
)
def test_member_consent_overrides_field_by_field(
    member: tuple[str, str], request_level: tuple[str, str], resolved: tuple[str, str]
) -> None:
    assert rules.resolve_consent(member, request_level) == resolved


@pytest.mark.parametrize(
    ("value", "encoding"),
    [("xyz", Encoding.HEX), ("zz" * 32, Encoding.HEX), ("abcd", Encoding.HEX), ("***", Encoding.BASE64),
     (HEX, Encoding.BASE64)],
)  # fmt: skip
def test_a_malformed_hash_is_a_member_error_not_a_request_error(value: str, encoding: Encoding) -> None:
    parsed, found = rules.parse_members([email_member(value)], encoding, BOTH, set())
    assert found == []
    outcome = rules.process_ingest(parsed)
    assert outcome.applied == [] and dict(outcome.errors) == {rules.INVALID_FORMAT: 1}
    assert outcome.status == "FAILED"


def test_processing_counts_malformed_and_denied_as_errors() -> None:
    members = [email_member(), email_member("abcd"), email_member(consent=(rules.DENIED, rules.GRANTED))]
    parsed, found = rules.parse_members(members, Encoding.HEX, BOTH, set())
    assert found == []
    outcome = rules.process_ingest(parsed)
    assert len(outcome.applied) == 1
    assert dict(outcome.errors) == {rules.INVALID_FORMAT: 1, rules.DENIED_CONSENT: 1}
    assert outcome.status == "PARTIAL_SUCCESS"
    assert rules.process_ingest(parsed[1:2]).status == "FAILED"
    assert rules.process_ingest(parsed[:1]).status == "SUCCESS"


def test_base64_and_hex_decode_to_the_same_digest() -> None:
    digest = bytes.fromhex(HEX)
    assert decode_digest(HEX.upper(), Encoding.HEX) == digest
    assert decode_digest(base64.b64encode(digest).decode(), Encoding.BASE64) == digest
    with pytest.raises(DecodeError):
        decode_digest("abc", Encoding.HEX)  # odd length
