"""Which raw contact an order yields: email precedence, screening, names and places, consent."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingestor.domain import Contact, Rates, Reason, ingest_order, is_placeholder_email
from services.ingestor.domain.contact import consent, screen_phone

from .payloads import minimal_order


def _contact(rates: Rates, **changes: Any) -> tuple[Contact, list[tuple[str, Reason]]]:
    got = ingest_order(minimal_order(**changes), shop="s", rates=rates)
    return got.contact, [(w.path, w.reason) for w in got.warnings]


@pytest.mark.parametrize(
    ("customer_email", "order_email", "contact_email", "wins", "alt"),
    [
        ("c@example.com", "o@example.com", None, "c@example.com", "o@example.com"),
        ("c@example.com", "C@Example.com", None, "c@example.com", None),  # same address, other case
        (None, "o@example.com", "alt@example.com", "o@example.com", "alt@example.com"),
        (None, None, "alt@example.com", "alt@example.com", None),
        ("noemail@example.com", "o@example.com", None, "o@example.com", None),  # placeholder loses
        ("broken", "o@example.com", None, "o@example.com", None),
    ],
)
def test_email_precedence(
    customer_email: str | None,
    order_email: str | None,
    contact_email: str | None,
    wins: str,
    alt: str | None,
    rates: Rates,
) -> None:
    contact, _ = _contact(
        rates, email=order_email, contact_email=contact_email, customer={"id": 1, "email": customer_email}
    )
    assert (contact.email, contact.alt_email) == (wins, alt)


@pytest.mark.parametrize(
    "email",
    [
        "noemail@shop.com",
        "NO-REPLY@brand.com",
        "none@none.com",
        "test@test.com",
        "guest@shop.io",
        "anyone@checkout.invalid",
        "someone@shop.test",
        "n/a@shop.com",
    ],
)
def test_placeholder_emails(email: str) -> None:
    assert is_placeholder_email(email)


@pytest.mark.parametrize(
    "email", ["ana.silva@example.com", "info@brand.com", "jon@gmail.com", "test.user@x.io"]
)
def test_real_looking_emails_are_not_placeholders(email: str) -> None:
    assert not is_placeholder_email(email)


@pytest.mark.parametrize(
    ("phone", "kept", "reason"),
    [
        ("+1 (212) 555-0143", "+1 (212) 555-0143", None),
        ("020 7946 0018 ext. 12", "020 7946 0018", None),
        ("555-555-SHIP", None, Reason.PHONE_HAS_LETTERS),
        ("call me", None, Reason.PHONE_HAS_LETTERS),
        ("12345", None, Reason.PHONE_TOO_SHORT),
        ("1234567890123456", None, Reason.TOO_LONG),
        ("+44 20 7946 0018; +44 20 7946 0019", None, Reason.INVALID),
        ("", None, None),
    ],
)
def test_phone_screening(phone: str, kept: str | None, reason: Reason | None) -> None:
    assert screen_phone(phone) == (kept, reason)


def test_phone_precedence_and_the_country_it_is_read_in(rates: Rates) -> None:
    contact, _ = _contact(
        rates,
        customer={"id": 1, "default_address": {"country_code": "CA", "phone": "416 555 0199"}},
        billing_address={"country_code": "US", "phone": "212 555 0143"},
    )
    assert (contact.phone, contact.phone_country) == ("212 555 0143", "US")  # billing before default
    contact, _ = _contact(rates, phone="+55 11 91234-5678", billing_address={"phone": "212 555 0143"})
    assert (contact.phone, contact.phone_country) == ("+55 11 91234-5678", "BR")  # order phone first


def test_names_and_place_come_from_one_person(rates: Rates) -> None:
    contact, _ = _contact(
        rates,
        customer={"id": 1, "default_address": None},
        billing_address={
            "first_name": "Bia",
            "last_name": "Costa",
            "city": "Rio de Janeiro",
            "province_code": "RJ",
            "zip": "20040-010",
            "country": "Brazil",
        },
        shipping_address={
            "first_name": "Gift",
            "last_name": "Recipient",
            "city": "Lisboa",
            "country_code": "PT",
        },
    )
    assert (contact.first_name, contact.last_name, contact.city, contact.region, contact.postal_code) == (
        "Bia",
        "Costa",
        "Rio de Janeiro",
        "RJ",
        "20040-010",
    )
    assert contact.country == "BR"  # from the country name when there is no code


def test_contact_repr_shows_presence_only() -> None:
    contact = Contact(email="jane@example.com", phone="+15555550100", first_name="Jane")
    text = repr(contact)
    assert "jane" not in text.lower() and "555" not in text
    assert "email=set" in text and "city=-" in text


@pytest.mark.parametrize(
    ("customer", "buyer_accepts", "expected"),
    [
        ({"email_marketing_consent": {"state": "subscribed"}}, False, (True, None)),
        ({"email_marketing_consent": {"state": "pending"}}, True, (False, None)),  # unconfirmed double opt-in
        ({"email_marketing_consent": {"state": "unsubscribed"}}, True, (False, None)),
        ({"accepts_marketing": True}, None, (True, None)),  # legacy field
        ({}, True, (True, None)),  # only the checkout box
        ({}, None, (None, None)),  # nothing said
        ({"sms_marketing_consent": {"state": "subscribed"}}, None, (None, True)),
        ({"sms_marketing_consent": {"state": "not_subscribed"}}, None, (None, False)),
    ],
)
def test_consent(
    customer: dict[str, Any], buyer_accepts: bool | None, expected: tuple[bool | None, ...]
) -> None:
    assert consent(customer, buyer_accepts) == expected
