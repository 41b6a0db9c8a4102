"""Rows of stored Google identifiers become Customer Match members with their consent."""

from __future__ import annotations

from services.syncer_google.adapters import ads_wire, dm_wire
from services.syncer_google.domain.members import ADDRESS, EMAIL, PHONE, consent_of, identifiers
from shared.sync.google_consent import Signal

H1, H2, H3 = "a" * 64, "b" * 64, "c" * 64
FULL = (H1, H2, H3, H1, "DE", "10115", "granted", "")


def test_email_phone_then_the_whole_address() -> None:
    got = identifiers(FULL)
    assert [i.kind for i in got] == [EMAIL, PHONE, ADDRESS]
    assert got[2].region == "DE" and got[2].postal == "10115" and got[2].given == H3


def test_an_incomplete_address_is_not_sent() -> None:
    assert [i.kind for i in identifiers((H1, "", H3, "", "DE", "10115", "", ""))] == [EMAIL]


def test_consent_cells_read_back_as_signals() -> None:
    consent = consent_of(FULL)
    assert consent.ad_user_data is Signal.GRANTED and consent.ad_personalization is Signal.UNSPECIFIED
    assert consent_of((H1,)).ad_user_data is Signal.UNSPECIFIED


def test_data_manager_member_carries_its_own_consent() -> None:
    request = dm_wire.ingest_request(dm_wire.destination("42", "1234567890", None), [FULL])
    member = request.audience_members[0]
    assert [type(i).pb(i).WhichOneof("identifier") for i in member.user_data.user_identifiers] == [
        "email_address",
        "phone_number",
        "address",
    ]
    assert member.consent.ad_user_data.name == "CONSENT_GRANTED"
    assert member.consent.ad_personalization.name == "CONSENT_STATUS_UNSPECIFIED"
    assert request.encoding.name == "HEX"


def test_ads_requests_are_packed_by_identifier_count() -> None:
    ops = ads_wire.operations([FULL] * 7, remove=False)  # 3 identifiers each
    assert [len(chunk) for chunk in ads_wire.requests_of(ops, limit=9)] == [3, 3, 1]
