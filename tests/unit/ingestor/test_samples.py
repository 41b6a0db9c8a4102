"""Every Shopify sample body ingests, with the quirks the samples README lists handled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.ingestor.domain import (
    Rates,
    Reason,
    ingest_customer,
    ingest_order,
    ingest_refund,
    load_order,
)

from .payloads import SAMPLES, sample_bytes

ORDER_SAMPLES = sorted(p.name for p in SAMPLES.glob("orders_*.json"))


def test_the_fixtures_are_the_shared_samples_byte_for_byte() -> None:
    names = {p.name for p in SAMPLES.glob("*.json")}
    assert len(names) == 8
    assert "refunds_create.shopify_docs_2026-07.json" in names


@pytest.mark.parametrize("name", ORDER_SAMPLES)
def test_every_order_sample_ingests(name: str, rates: Rates) -> None:
    got = ingest_order(sample_bytes(name), shop="shop.myshopify.com", rates=rates)
    assert got.facts.order_id.isdigit()
    assert got.facts.customer_id is not None
    assert got.contact.email is not None
    assert got.facts.created_at.tzinfo is UTC
    assert got.facts.gross >= got.facts.net >= 0


def test_docs_order_is_kept_as_a_flagged_test_order_that_is_cancelled_and_voided(rates: Rates) -> None:
    facts = ingest_order(sample_bytes("orders_create.shopify_docs_2026-07.json"), shop="s", rates=rates).facts
    assert facts.test is True
    assert facts.cancelled is True
    assert facts.cancel_reason == "customer"
    assert facts.financial_status == "voided"
    assert facts.status == "cancelled"  # cancellation wins over the financial status
    assert facts.created_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # -05:00 normalized to UTC


def test_customer_email_wins_over_a_differing_order_email(rates: Rates) -> None:
    got = ingest_order(sample_bytes("orders_create.shopify_docs_2026-07.json"), shop="s", rates=rates)
    assert got.contact.email == "john@example.com"  # customer.email
    assert got.contact.alt_email == "jon@example.com"  # the order's email, an extra match key only


def test_address_phones_with_letters_never_become_phones(rates: Rates) -> None:
    got = ingest_order(sample_bytes("orders_create.shopify_docs_2026-07.json"), shop="s", rates=rates)
    assert got.contact.phone != "555-555-SHIP"
    dropped = {(w.path, w.reason) for w in got.warnings}
    assert ("billing_address.phone", Reason.PHONE_HAS_LETTERS) in dropped
    assert ("shipping_address.phone", Reason.PHONE_HAS_LETTERS) in dropped
    assert "SHIP" not in " ".join(str(w) for w in got.warnings)


def test_us_billing_and_canadian_default_address_each_go_where_they_belong(rates: Rates) -> None:
    got = ingest_order(sample_bytes("orders_create.shopify_docs_2026-07.json"), shop="s", rates=rates)
    assert got.facts.country == "US"  # where the order ships: the shipping address first
    assert got.contact.country == "CA"  # whose contact: the customer's own default address
    assert got.contact.city == "Ottawa"
    assert (got.contact.first_name, got.contact.last_name) == ("John", "Smith")  # not the billing name
    assert got.contact.phone_country == "CA"  # the default address's phone is read as Canadian


def test_docs_order_money(rates: Rates) -> None:
    facts = ingest_order(sample_bytes("orders_create.shopify_docs_2026-07.json"), shop="s", rates=rates).facts
    assert facts.gross == Decimal("414.95")  # total_line_items_price: before discounts, no shipping
    assert facts.discount == Decimal("20.00")
    assert facts.net == Decimal("394.95")
    assert facts.discount_depth == Decimal("0.0482")
    assert facts.gross_base == facts.gross  # USD shop, USD base
    assert facts.channel == "web"
    assert facts.referral == "direct"
    assert facts.email_consent is True  # buyer_accepts_marketing, the only consent signal present
    assert len(facts.lines) == 5


def test_real_store_orders_with_trimmed_fields(rates: Rates) -> None:
    created = ingest_order(
        sample_bytes("orders_create.real_store_rudderstack.json"), shop="s", rates=rates
    ).facts
    paid = ingest_order(sample_bytes("orders_paid.real_store_rudderstack.json"), shop="s", rates=rates).facts
    assert created.channel == "web"  # no source_name, but the Online Store app id
    assert paid.channel == "unknown"  # trimmed of both
    assert created.status == paid.status == "unknown"  # no financial_status in these captures
    assert created.categories == ()  # real webhook line items carry no product_type
    assert paid.email_consent is False  # email_marketing_consent: not_subscribed


def test_paid_sample_price_as_number_and_product_id_as_string_read_like_the_others() -> None:
    paid = load_order(sample_bytes("orders_paid.real_store_rudderstack.json"))
    updated = load_order(sample_bytes("orders_updated.real_store_rudderstack.json"))
    assert paid["line_items"][0]["price"] == updated["line_items"][0]["price"] == Decimal("600")
    assert paid["line_items"][0]["product_id"] == updated["line_items"][0]["product_id"] == "7234590408817"


def test_redelivered_and_updated_real_orders_share_their_key_and_version(rates: Rates) -> None:
    created = ingest_order(
        sample_bytes("orders_create.real_store_rudderstack.json"), shop="s", rates=rates
    ).facts
    updated = ingest_order(
        sample_bytes("orders_updated.real_store_rudderstack.json"), shop="s", rates=rates
    ).facts
    assert (created.shop, created.order_id) == (updated.shop, updated.order_id)
    assert created.updated_at == updated.updated_at


def test_refund_sample_with_mixed_number_types_null_currency_and_xxx(rates: Rates) -> None:
    refund = ingest_refund(
        sample_bytes("refunds_create.shopify_docs_2026-07.json"), shop="s", rates=rates
    ).facts
    assert refund.order_id == "820982911946154508"
    assert refund.amount == Decimal("85.00")  # the successful refund transactions: money returned
    assert refund.items_value == Decimal("414.95")  # JSON numbers read as exact decimals
    assert refund.items == 5
    assert refund.currency == "USD"  # transactions say null; the line items' shop money says USD
    assert refund.amount_base == Decimal("85.0000")


@pytest.mark.parametrize(
    ("name", "country", "phone"),
    [
        ("customers_create.real_store_rudderstack.json", "IN", "+919876543210"),
        ("customers_create.shopify_docs_2026-07.json", "CA", "555-555-5555"),
    ],
)
def test_customer_samples(name: str, country: str, phone: str) -> None:
    got = ingest_customer(sample_bytes(name), shop="s")
    assert got.facts.country == country
    assert got.contact.phone == phone  # screened only; the identity layer decides validity
    assert got.contact.phone_country == country
