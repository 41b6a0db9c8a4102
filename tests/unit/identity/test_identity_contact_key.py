"""hash_contact for the ingestor, and the shop-scoped customer key."""

from __future__ import annotations

import hashlib
import json

import pytest

from shared.identity import (
    Contact,
    Platform,
    Reason,
    Rejected,
    customer_key,
    hash_contact,
    hash_contacts,
    normalize_contact,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


US_CUSTOMER = Contact(
    email=" Jane.Doe+shop@Gmail.com ",
    phone="(201) 555-0123",
    first_name="Mrs. Jane",
    last_name="Doe-Smith",
    city="Jersey City",
    region="New Jersey",
    postal_code="07302-1234",
    country="United States",
)


def test_hash_contact_gives_every_platform_its_own_values() -> None:
    hashed = hash_contact(US_CUSTOMER)
    assert hashed[Platform.META] == {
        "EMAIL": sha("jane.doe+shop@gmail.com"),
        "PHONE": sha("12015550123"),
        "FN": sha("jane"),
        "LN": sha("doesmith"),
        "FI": sha("j"),
        "CT": sha("jerseycity"),
        "ST": sha("nj"),
        "ZIP": sha("07302"),
        "COUNTRY": sha("us"),
    }
    assert hashed[Platform.GOOGLE_ADS] == {
        "email": sha("jane.doe+shop@gmail.com"),
        "phone": sha("+12015550123"),
        "first_name": sha("jane"),
        "last_name": sha("doesmith"),
        "country_code": "US",
        "postal_code": "07302-1234",
    }
    assert hashed[Platform.GOOGLE_DM] == {**hashed[Platform.GOOGLE_ADS], "email": sha("janedoe@gmail.com")}


def test_phone_uses_the_contacts_country_and_is_never_guessed() -> None:
    uk = Contact(phone="07400 123456", country="GB")
    assert hash_contact(uk)[Platform.GOOGLE_DM] == {"phone": sha("+447400123456")}
    unknown_country = Contact(phone="07400 123456")
    assert normalize_contact(unknown_country, [Platform.META]) == {
        Platform.META: [Rejected("PHONE", Reason.PHONE_MISSING_REGION)]
    }


def test_google_drops_an_incomplete_address_but_meta_keeps_the_parts() -> None:
    contact = Contact(email="a@example.com", first_name="Ann", postal_code="94035", country="US")
    hashed = hash_contact(contact)
    assert hashed[Platform.GOOGLE_ADS] == {"email": sha("a@example.com")}
    assert hashed[Platform.META] == {
        "EMAIL": sha("a@example.com"),
        "FN": sha("ann"),
        "FI": sha("a"),
        "ZIP": sha("94035"),
        "COUNTRY": sha("us"),
    }


def test_normalize_contact_reports_rejections_and_skips_absent_fields() -> None:
    contact = Contact(email="N/A", first_name="", country="US")
    assert normalize_contact(contact, [Platform.GOOGLE_DM])[Platform.GOOGLE_DM] == [
        Rejected("email", Reason.PLACEHOLDER),
        Rejected("first_name", Reason.EMPTY),
        normalize_contact(Contact(country="US"), [Platform.GOOGLE_DM])[Platform.GOOGLE_DM][0],
    ]


def test_contact_repr_shows_no_contact_data() -> None:
    assert "Jane" not in repr(US_CUSTOMER)
    assert "555" not in repr(US_CUSTOMER)


def expected_key(kind: str, shop: str, value: str) -> str:
    payload = json.dumps(["audiencesync/customer-key/v1", kind, shop, value], separators=(",", ":"))
    return sha(payload)


def test_customer_key_comes_from_the_canonical_email() -> None:
    key = customer_key(shop="acme", email=" J.Doe+Promo@GoogleMail.com", shop_customer_id="42")
    assert key == expected_key("email", "acme", "jdoe@gmail.com")
    assert key == customer_key(shop="acme", email="jdoe@gmail.com", shop_customer_id=None)


def test_non_gmail_plus_tags_and_dots_are_distinct_customers() -> None:
    a = customer_key(shop="acme", email="j.doe+x@example.com", shop_customer_id=None)
    b = customer_key(shop="acme", email="jdoe@example.com", shop_customer_id=None)
    assert a != b
    assert a == expected_key("email", "acme", "j.doe+x@example.com")


def test_customer_key_falls_back_to_the_shops_customer_id() -> None:
    by_id = customer_key(shop="acme", email="not an email", shop_customer_id=" 207119551 ")
    assert by_id == expected_key("shop_customer_id", "acme", "207119551")
    gid = customer_key(shop="acme", email=None, shop_customer_id="gid://shopify/Customer/207119551")
    assert gid == by_id


def test_email_and_id_keys_cannot_collide_and_shops_are_separate() -> None:
    as_email = customer_key(shop="acme", email="1@example.com", shop_customer_id=None)
    as_id = customer_key(shop="acme", email=None, shop_customer_id="1@example.com")
    assert as_email != as_id
    assert customer_key(shop="acme", email="a@example.com", shop_customer_id=None) != customer_key(
        shop="other", email="a@example.com", shop_customer_id=None
    )


@pytest.mark.parametrize(
    ("email", "customer_id"), [(None, None), ("", ""), ("N/A", "null"), ("a" * 64, None)]
)
def test_no_key_without_a_valid_email_or_id(email: str | None, customer_id: str | None) -> None:
    assert customer_key(shop="acme", email=email, shop_customer_id=customer_id) is None


def test_customer_key_needs_a_shop() -> None:
    with pytest.raises(ValueError, match="shop"):
        customer_key(shop=" ", email="a@example.com", shop_customer_id=None)


def test_hash_contacts_equals_hash_contact_one_by_one() -> None:
    contacts = [
        US_CUSTOMER,
        Contact(email="Ana@Example.DE", phone="030 1234567", phone_country="DE"),
        Contact(
            email="noemail@shop.com", first_name="Bo", last_name="Li", country="GB", postal_code="SW1A 1AA"
        ),
        Contact(phone="not a phone", city="Paris", country="FR"),
        US_CUSTOMER,
        Contact(),
    ]
    assert hash_contacts(contacts) == [hash_contact(c) for c in contacts]


def test_a_phone_without_an_address_is_read_in_the_phones_own_country() -> None:
    hashed = hash_contact(Contact(phone="030 1234567", phone_country="DE"))
    assert hashed[Platform.GOOGLE_DM]["phone"] == sha("+49301234567")
