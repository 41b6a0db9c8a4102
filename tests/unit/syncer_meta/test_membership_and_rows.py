"""Who belongs in a destination, and the row Meta receives for them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.syncer_meta.domain.rows import (
    IDENTIFIER_KEYS,
    identifier_row,
    schema,
    to_member,
)
from services.syncer_meta.domain.targets import destinations
from shared.definitions import parse_definitions
from shared.sync.membership import Consent, CustomerView, consents
from shared.sync.rows import Member, upload_value

H = "a" * 64
DEFINITIONS = parse_definitions(
    {
        "audiences": [
            {"key": "seed", "select": {"label": "icp"}, "destinations": {"meta": {"value_based": True}}},
            {"key": "retarget", "select": {"stage": "abandoned_checkout"}, "destinations": {"meta": {}}},
            {
                "key": "only_two",
                "select": {"label": "icp"},
                "destinations": {"meta": {"accounts": ["act_2"]}},
            },
            {
                "key": "suppress",
                "select": {"label": "negative_icp"},
                "role": "exclusion",
                "destinations": {"meta": {"accounts": ["act_1"]}},
            },
            {"key": "google_only", "select": {"label": "icp"}, "destinations": {"google": {}}},
        ]
    }
).audiences


def customer(
    label: str = "icp",
    stage: str | None = "repeat",
    *,
    email: bool | None = True,
    sms: bool | None = None,
    value: str | None = "12.345",
    identifiers: dict[str, str] | None = None,
) -> CustomerView:
    return CustomerView(
        "k" * 64,
        label,
        stage,
        Decimal(value) if value is not None else None,
        email,
        sms,
        {"EMAIL": H} if identifiers is None else identifiers,
    )


@pytest.mark.parametrize(
    ("policy", "role", "email", "sms", "allowed"),
    [
        (Consent.MARKETING, "include", True, None, True),
        (Consent.MARKETING, "include", False, True, True),
        (Consent.MARKETING, "include", False, False, False),
        (Consent.MARKETING, "include", None, None, False),
        (Consent.MARKETING, "exclusion", False, False, True),
        (Consent.STRICT, "exclusion", False, None, False),
        (Consent.STRICT, "exclusion", None, True, True),
        (Consent.ANY, "include", False, False, True),
    ],
)
def test_consent_policy_table(
    policy: Consent, role: str, email: bool | None, sms: bool | None, allowed: bool
) -> None:
    assert consents(customer(email=email, sms=sms), policy, role) is allowed


def test_destinations_pair_audiences_with_accounts_and_attach_that_accounts_exclusions() -> None:
    found = {(d.key, d.account): d for d in destinations(DEFINITIONS, ["act_1", "act_2"])}

    assert set(found) == {
        ("seed", "act_1"),
        ("seed", "act_2"),
        ("retarget", "act_1"),
        ("retarget", "act_2"),
        ("only_two", "act_2"),
        ("suppress", "act_1"),
    }
    assert len(found["seed", "act_1"].exclusions) == 1
    assert found["seed", "act_2"].exclusions == ()  # act_2 has no suppression list
    assert found["suppress", "act_1"].exclusions == ()


def test_exclusion_wins_on_the_same_account_only() -> None:
    found = {(d.key, d.account): d for d in destinations(DEFINITIONS, ["act_1", "act_2"])}
    negative_at_checkout = customer("negative_icp", "abandoned_checkout")

    assert found["suppress", "act_1"].wants(negative_at_checkout, Consent.MARKETING)
    assert not found["retarget", "act_1"].wants(negative_at_checkout, Consent.MARKETING)
    assert found["retarget", "act_2"].wants(negative_at_checkout, Consent.MARKETING)


@pytest.mark.parametrize(
    ("identifiers", "row"),
    [
        ({"EMAIL": H}, (H, "", "", "", "", "", "", "", "")),
        ({"PHONE": H, "COUNTRY": "c" * 64}, ("", H, "", "", "", "", "", "", "c" * 64)),
        ({"FN": H, "LN": H, "ZIP": H}, None),  # no email or phone: nothing to match one person on
        ({}, None),
    ],
)
def test_identifier_row_keeps_schema_order_and_needs_email_or_phone(
    identifiers: dict[str, str], row: tuple[str, ...] | None
) -> None:
    assert identifier_row(identifiers) == row


@pytest.mark.parametrize(
    ("value", "sent"),
    [(None, "0.00"), ("-3", "0.00"), ("0", "0.00"), ("12.345", "12.35"), ("99.994", "99.99")],
)
def test_lookalike_value_is_non_negative_cents(value: str | None, sent: str) -> None:
    assert upload_value(Decimal(value) if value is not None else None) == Decimal(sent)


def test_value_based_members_carry_the_value_as_a_json_number_after_the_identifiers() -> None:
    seed_member = to_member(customer(value="44.5"), value_based=True)
    plain = to_member(customer(value="44.5"), value_based=False)

    assert seed_member is not None and plain is not None
    assert seed_member.wire() == [H, *[""] * 8, 44.5]
    assert plain.wire() == [H, *[""] * 8] and plain.value is None
    assert schema(True) == (*IDENTIFIER_KEYS, "LOOKALIKE_VALUE") and schema(False) == IDENTIFIER_KEYS
    assert to_member(customer(identifiers={}), value_based=True) is None
    assert Member("k", (H,), Decimal("0.00")).wire() == [H, 0.0]
